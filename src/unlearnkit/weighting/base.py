"""A weighting returns w_i for the per-sample losses of a batch (DESIGN.md "Composition")."""
from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict

from ..registry import Registry

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
    Options: ClassVar[type[BaseModel]] = NoOptions
    normalize: bool = True

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    def prepare(self, ctx) -> None:
        pass

    def weights(self, ctx, batch, logits: torch.Tensor, step: int, term: str) -> torch.Tensor:
        raise NotImplementedError


def reduce_weighted(losses: torch.Tensor, w: torch.Tensor | None, normalize: bool = True) -> torch.Tensor:
    """Σ w_i ℓ_i / Σ w_i (or / B when not ``normalize``); ``w=None`` is the plain mean."""
    if w is None:
        return losses.mean()
    denom = w.sum().clamp_min(1e-12) if normalize else losses.new_tensor(float(len(losses)))
    return (w * losses).sum() / denom
