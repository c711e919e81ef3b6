"""``ft``: fine-tune on D_r only (catastrophic forgetting; Warnell et al. / Golatkar et al. 2020 baseline)."""

from __future__ import annotations

import math

from pydantic import Field

from .base import METHODS, GradientMethod, GradientOptions


class FTOptions(GradientOptions):
    epochs: int = Field(5, ge=1)
    lr: float = Field(0.02, gt=0)
    settle_epochs: float = Field(
        2.0,
        ge=0,
        description="stop: auto — no patience or overshoot stop in the first this many epochs (evaluations, the "
        "best state and the divergence guards run as always). Fine-tuning reaches D_f only through D_r, so its "
        "effect on D_f builds up slowly and the proxy is flat at first: with a stop after one flat epoch the lr "
        "search ended every run on digits half of class 5 before it moved D_f and kept θ_o",
    )


@METHODS.register("ft")
class FineTune(GradientMethod):
    """loss = mean_j CE(θ; x_j, y_j) over D_r batches (weightable per retain sample)."""

    name = "ft"
    Options = FTOptions
    uses_forget = False
    weightable_terms = frozenset({"retain"})

    def settles_at(self, ctx) -> int:
        return math.ceil(ctx.options.settle_epochs * self.steps_per_epoch(ctx))
