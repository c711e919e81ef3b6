"""A weighting returns w_i for the per-sample losses of a batch (docs/architecture.md "Contracts")."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import BaseModel, ConfigDict

from ..registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from ..data.split import Split
    from ..influence import LinearInfluence

WEIGHTINGS: Registry = Registry("weighting")


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Weighting:
    """``prepare(ctx)`` once; ``weights(ctx, batch, logits, step, term)`` → detached Tensor[B].

    ``terms`` says which loss terms it weights ("forget", "retain"); a method rejects a weighting
    whose terms it does not have. ``normalize``: divide the weighted sum by Σw (DESIGN.md) or by B.
    """

    name: ClassVar[str] = ""
    terms: ClassVar[frozenset[str]] = frozenset({"forget"})
    requires_unseen: ClassVar[bool] = False  # needs a held-out unseen split (checked before any training)
    requires_binary_group: ClassVar[bool] = False  # needs a binary dataset with a sensitive group (idem)
    Options: ClassVar[type[BaseModel]] = NoOptions
    normalize: bool = True
    #: history keys this weighting records per step → legend label (plotted by the report against "step")
    step_diagnostics: ClassVar[dict[str, str]] = {}
    step_diagnostics_title: ClassVar[str] = "mean weight"

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    def prepare(self, ctx) -> None:
        pass

    # declared capabilities (defaults: a plain per-sample weighting) -----------------------------
    @property
    def label(self) -> str:
        """How results name this weighting's scheme (``soft``: its QP scheme)."""
        return self.name

    @property
    def correction_target(self) -> str | None:
        """The fairness/robustness objective this weighting corrects for (None: a deletion weighting)."""
        return None

    def driving_split(self, ctx) -> Split:
        """The split the method drives with after ``prepare`` (default: the request's own split).
        ``soft`` narrows D_f to the samples whose weight reaches 0."""
        return ctx.split

    def influence_weights(self, ctx) -> tuple[LinearInfluence, np.ndarray] | None:
        """(influence at θ_o, ε over ``split.train``) for the ``if`` method, or None (it then removes D_f)."""
        return None

    def weights(self, ctx, batch, logits: torch.Tensor, step: int, term: str) -> torch.Tensor:
        raise NotImplementedError


def reduce_weighted(losses: torch.Tensor, w: torch.Tensor | None, normalize: bool = True) -> torch.Tensor:
    """Σ w_i ℓ_i / Σ w_i (or / B when not ``normalize``); ``w=None`` is the plain mean."""
    if w is None:
        return losses.mean()
    denom = w.sum().clamp_min(1e-12) if normalize else losses.new_tensor(float(len(losses)))
    return (w * losses).sum() / denom
