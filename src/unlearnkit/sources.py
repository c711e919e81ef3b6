"""Where metrics and methods get extra models: a typed :class:`ModelSource`.

A metric that needs more than θ_u, θ_o and θ_r (K retrained models, shadow models, the run's own
unlearning applied to another model) asks ``ev.models``. The bench implements the protocol with its
checkpoint cache and executor (:class:`unlearnkit.bench.sources.BenchSource`); the library's default is
:class:`SequentialSource`, which trains what is asked for in this process and keeps it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np
import torch
from torch import nn

from .data.split import Split
from .errors import UnlearnkitError
from .eval.base import Need


@runtime_checkable
class ModelSource(Protocol):
    """Extra models for one (dataset, split, architecture, training config, seed)."""

    def provides(self, need: Need) -> bool:
        """Whether this source can serve ``need`` (RETRAINED_K, SHADOWS, UNLEARN)."""
        ...

    def retrained(self, k: int) -> list[nn.Module]:
        """k models retrained on D_r with seeds seed, seed+1, … (the first is θ_r)."""
        ...

    def trained(self, indices: np.ndarray, seed: int) -> nn.Module:
        """A freshly initialised model trained on ``indices`` with ``seed``."""
        ...

    def trained_many(self, sets: Sequence[np.ndarray], seeds: Sequence[int]) -> list[nn.Module]:
        """``trained`` for many (indices, seed) pairs (the bench trains missing ones in parallel)."""
        ...

    def unlearn(self, model: nn.Module, split: Split, seed: int) -> nn.Module:
        """``model`` unlearned on ``split`` with the run's method ∘ weighting ∘ target."""
        ...

    def map(self, fn: Callable[[Any], Any], items: list) -> list:
        """An ordered map (sequential, a process pool or Ray tasks)."""
        ...


@dataclass
class ShadowTask:
    """One model to train: ``train(new_model(), indices, seed)``. Picklable when the two callables are
    (top-level functions or ``functools.partial`` of them) — needed for a process pool."""

    train: Callable[[nn.Module, np.ndarray, int], nn.Module]
    new_model: Callable[[], nn.Module]
    indices: np.ndarray
    seed: int


def train_task(task: ShadowTask) -> nn.Module:
    """Top-level (picklable) map function: a freshly initialised model trained on ``task.indices``."""
    torch.manual_seed(task.seed)
    return task.train(task.new_model(), task.indices, task.seed)


class SequentialSource:
    """The library's model source: trains in this process, memoised in memory for its lifetime.

    ``new_model()`` builds a fresh model of the architecture; ``train(model, indices, seed)`` trains
    it (e.g. ``lambda m, idx, s: train_model(m, ds, idx, cfg, device, seed=s)``); ``unlearn(model,
    split, seed)`` applies the run's plan (optional: metrics needing it then say so); ``retrained0``
    may give the θ_r already at hand (returned for k = 0 instead of retraining).
    """

    def __init__(
        self,
        split: Split,
        seed: int,
        new_model: Callable[[], nn.Module],
        train: Callable[[nn.Module, np.ndarray, int], nn.Module],
        unlearn: Callable[[nn.Module, Split, int], nn.Module] | None = None,
        retrained0: nn.Module | None = None,
        mapper: Callable[[Callable, list], list] | None = None,
    ):
        self.split, self.seed = split, seed
        self._new_model, self._train, self._unlearn = new_model, train, unlearn
        self._mapper = mapper
        self._models: dict[tuple[bytes, int], nn.Module] = {}
        if retrained0 is not None:
            self._models[(self._key(split.retain), seed)] = retrained0

    @staticmethod
    def _key(indices) -> bytes:
        return np.ascontiguousarray(np.asarray(indices, dtype=np.int64)).tobytes()

    def provides(self, need: Need) -> bool:
        return need is not Need.UNLEARN or self._unlearn is not None

    def retrained(self, k: int) -> list[nn.Module]:
        return [self.trained(self.split.retain, self.seed + i) for i in range(k)]

    def trained(self, indices: np.ndarray, seed: int) -> nn.Module:
        return self.trained_many([indices], [seed])[0]

    def trained_many(self, sets: Sequence[np.ndarray], seeds: Sequence[int]) -> list[nn.Module]:
        keys = [(self._key(idx), int(s)) for idx, s in zip(sets, seeds)]
        todo = {k: (np.asarray(idx), int(s)) for k, (idx, s) in zip(keys, zip(sets, seeds)) if k not in self._models}
        if todo:
            tasks = [ShadowTask(self._train, self._new_model, idx, s) for idx, s in todo.values()]
            for k, m in zip(todo, self.map(train_task, tasks)):
                self._models[k] = m.eval()
        return [self._models[k] for k in keys]

    def unlearn(self, model: nn.Module, split: Split, seed: int) -> nn.Module:
        if self._unlearn is None:
            raise UnlearnkitError(
                "this model source has no unlearning function; pass "
                "SequentialSource(..., unlearn=lambda model, split, seed: ...)"
            )
        return self._unlearn(model, split, seed)

    def map(self, fn: Callable[[Any], Any], items: list) -> list:
        return self._mapper(fn, items) if self._mapper is not None else [fn(x) for x in items]


class FixedSource:
    """A model source over models already at hand: ``retrained(k)`` = the first k of ``retrained``;
    ``unlearn(model, split, seed)`` = the given function (optional). It trains nothing (``trained``
    raises): for metrics that need K retrained models or the run's unlearning, not shadows."""

    def __init__(
        self, retrained: Sequence[nn.Module], unlearn: Callable[[nn.Module, Split, int], nn.Module] | None = None
    ):
        self._retrained, self._unlearn = list(retrained), unlearn

    def provides(self, need: Need) -> bool:
        return need is Need.RETRAINED_K or (need is Need.UNLEARN and self._unlearn is not None)

    def retrained(self, k: int) -> list[nn.Module]:
        if k > len(self._retrained):
            raise UnlearnkitError(
                f"{k} retrained models asked for but this FixedSource holds {len(self._retrained)}; "
                f"pass more, or use SequentialSource to train them"
            )
        return self._retrained[:k]

    def trained(self, indices: np.ndarray, seed: int) -> nn.Module:
        raise UnlearnkitError("FixedSource trains no models; use SequentialSource for shadow models")

    def trained_many(self, sets: Sequence[np.ndarray], seeds: Sequence[int]) -> list[nn.Module]:
        raise UnlearnkitError("FixedSource trains no models; use SequentialSource for shadow models")

    def unlearn(self, model: nn.Module, split: Split, seed: int) -> nn.Module:
        if self._unlearn is None:
            raise UnlearnkitError("this FixedSource has no unlearning function; pass FixedSource(models, unlearn=…)")
        return self._unlearn(model, split, seed)

    def map(self, fn: Callable[[Any], Any], items: list) -> list:
        return [fn(x) for x in items]
