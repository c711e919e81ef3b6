"""``ft``: fine-tune on D_r only (catastrophic forgetting; Warnell et al. / Golatkar et al. 2020 baseline)."""

from __future__ import annotations

from pydantic import Field

from .base import METHODS, GradientMethod, GradientOptions


class FTOptions(GradientOptions):
    epochs: int = Field(5, ge=1)
    lr: float = Field(0.02, gt=0)


@METHODS.register("ft")
class FineTune(GradientMethod):
    """loss = mean_j CE(θ; x_j, y_j) over D_r batches (weightable per retain sample)."""

    name = "ft"
    Options = FTOptions
    uses_forget = False
    weightable_terms = frozenset({"retain"})
