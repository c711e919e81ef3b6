"""``rl``: random labels (Golatkar et al., CVPR 2020; the RL of SalUn, Fan et al. ICLR 2024, and FaLW's
main instantiation): CE of forget samples to a target (default: a random other label drawn once)
plus CE on retain batches."""
from __future__ import annotations

from pydantic import Field

from .base import METHODS, GradientMethod, GradientOptions, soft_cross_entropy


class RLOptions(GradientOptions):
    epochs: int = Field(5, ge=1)
    lr: float = Field(0.01, gt=0)


@METHODS.register("rl")
class RandomLabel(GradientMethod):
    """ℓ_forget,i = −Σ_c q_ic log p_θ(c|x_i) with q from the target (``random_label`` by default,
    ``trw``/``uniform`` give soft targets); ℓ_retain = CE."""

    name = "rl"
    Options = RLOptions
    weightable_terms = frozenset({"forget", "retain"})
    accepts_target = True
    default_target = "random_label"

    def forget_loss(self, ctx, logits, batch):
        return soft_cross_entropy(logits, ctx.target.distribution(ctx, batch))
