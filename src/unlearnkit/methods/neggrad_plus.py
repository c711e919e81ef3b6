"""``neggrad_plus``: NegGrad+ (Kurmanji et al., NeurIPS 2023, "Towards unbounded machine unlearning"):
descent on D_r and ascent on D_f, loss = λ·CE_r − α·CE_f."""
from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field

from .base import METHODS, GradientMethod, GradientOptions, soft_cross_entropy


class NegGradPlusOptions(GradientOptions):
    epochs: int = Field(5, ge=1)
    lr: float = Field(0.01, gt=0)
    forget_weight: float = Field(0.2, ge=0, description="α on the ascent term")


@METHODS.register("neggrad_plus")
class NegGradPlus(GradientMethod):
    """ℓ_forget,i = −CE(θ; x_i, y_i). With a target (e.g. ``trw``) the forget term becomes descent
    toward that distribution, −Σ q log p (our reconstruction: the TRW paper plugs its target into
    NegGrad+ this way)."""

    name = "neggrad_plus"
    Options = NegGradPlusOptions
    weightable_terms = frozenset({"forget", "retain"})
    accepts_target = True

    def forget_loss(self, ctx, logits, batch):
        if ctx.target.name != "none":
            return soft_cross_entropy(logits, ctx.target.distribution(ctx, batch))
        return -F.cross_entropy(logits, batch.y, reduction="none")
