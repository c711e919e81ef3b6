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
    unseen_use: ClassVar[str] = "for its reference"  # what the held-out split is for (``requires_unseen``'s message)
    Options: ClassVar[type[BaseModel]] = NoOptions
    normalize: bool = True
    #: history keys this weighting records per step → legend label (plotted by the report against "step")
    step_diagnostics: ClassVar[dict[str, str]] = {}
    step_diagnostics_title: ClassVar[str] = "mean weight"

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    def prepare(self, ctx) -> None:
        pass

    @classmethod
    def unmet(cls, dataset, split) -> str | None:
        """What this weighting declares it needs (``requires_unseen``, ``requires_binary_group``) and
        ``dataset`` / ``split`` lack, as one message with the fix; None when every need is met. The one wording
        for ``unlearn()``'s check before any work, the bench's grid check and ``prepare``."""
        if cls.requires_unseen and len(split.unseen) == 0:
            return (
                f"weighting {cls.name!r} needs held-out data ({cls.unseen_use}), but the split's unseen part is "
                f"empty; make the split with unseen_fraction > 0 (e.g. 0.1)"
            )
        if cls.requires_binary_group and not dataset.binary_group:
            return (
                f"weighting {cls.name!r} corrects a binary classifier w.r.t. a sensitive group, but dataset "
                f"{dataset.name!r} has {dataset.num_classes} classes and {'a' if dataset.group is not None else 'no'} "
                f"group; use a binary dataset with a group column (adult, compas, german)"
            )
        return None

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
    if not normalize:  # a Python divisor: a tensor made from a host number would copy to the device every step
        return (w * losses).sum() / len(losses)
    return (w * losses).sum() / w.sum().clamp_min(1e-12)
