"""``rl``: random labels (Golatkar et al., CVPR 2020; the RL of SalUn, Fan et al. ICLR 2024, and FaLW's
main instantiation): CE of forget samples to a target (default: a random other label drawn once)
plus CE on retain batches."""

from __future__ import annotations

from pydantic import Field

from .base import METHODS, GradientMethod, GradientOptions, soft_cross_entropy


class RLOptions(GradientOptions):
    """Defaults measured on digits/MLP (tuning seeds 1000-1002, Avg.Gap to retrain, random 10% / class):
    lr 0.01, 3 epochs, α = 0.05 → 1.07 / 0.06 (θ_o: ≈2.0 / 52). With α = 1 random labels over-forget
    random samples badly (Avg.Gap 29-43) though they suit class forgetting (0.8)."""

    epochs: int = Field(3, ge=1)
    lr: float = Field(0.01, gt=0)
    forget_weight: float = Field(0.05, ge=0, description="α on the random-label (target) term")


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
