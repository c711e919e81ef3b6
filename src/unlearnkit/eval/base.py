"""Metric contract: ``compute(model, ev) -> {column: value}``; an Evaluation caches forward passes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from ..errors import UnlearnkitError
from ..registry import Registry
from .predict import predict_logits

METRICS: Registry = Registry("metric")


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Evaluation:
    """What metrics read: dataset, split, device, seed, θ_o, θ_r, and providers for extra models
    (``retrained_models(k)`` for R retrained models; set by the bench). Logits are cached per
    (model, part) so several metrics share one forward pass."""

    dataset: Any
    split: Any
    device: torch.device
    seed: int = 0
    original: Any = None
    retrained: Any = None
    plan: Any = None
    providers: dict[str, Callable] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    def indices(self, part: str) -> np.ndarray:
        return getattr(self.split, part)

    def logits(self, model, part: str) -> torch.Tensor:
        """Logits on a split part, computed once per (model, part) while this Evaluation lives; the
        model is kept in the entry so a freed model's id can never return another model's logits."""
        key = (id(model), part)
        hit = self._cache.get(key)
        if hit is None or hit[0] is not model:
            hit = self._cache[key] = (model, predict_logits(model, self.dataset, self.indices(part), device=self.device))
        return hit[1]

    def labels(self, part: str) -> torch.Tensor:
        return torch.as_tensor(self.dataset.labels[self.indices(part)])


class Metric:
    """A named metric; ``columns`` are the result columns it fills."""

    name: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    def compute(self, model, ev: Evaluation) -> dict[str, float]:
        raise NotImplementedError


def require(ev: Evaluation, name: str, metric: str, hint: str):
    """The provider ``name`` of ``ev`` or a clear error saying how to pass it."""
    fn = ev.providers.get(name) if ev.providers else None
    if fn is None:
        raise UnlearnkitError(f"metric {metric!r} needs ev.providers[{name!r}] ({hint}); run it through "
                              f"`unlearnkit bench`, or build Evaluation(..., providers={{{name!r}: ...}}) yourself")
    return fn
