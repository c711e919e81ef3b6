"""``ga``: gradient ascent on D_f (Thudi et al. 2022, "Unrolling SGD"; the NegGrad baseline)."""

from __future__ import annotations

import torch.nn.functional as F
from pydantic import Field

from .base import METHODS, GradientMethod, GradientOptions


class GAOptions(GradientOptions):
    epochs: int = Field(5, ge=1)
    lr: float = Field(0.002, gt=0)
    batch_size: int = Field(32, ge=1)


@METHODS.register("ga")
class GradientAscent(GradientMethod):
    """ℓ_forget,i = −CE(θ; x_i, y_i); no retain term."""

    name = "ga"
    Options = GAOptions
    uses_retain = False
    weightable_terms = frozenset({"forget"})

    def forget_loss(self, ctx, logits, batch):
        return -F.cross_entropy(logits, batch.y, reduction="none")
