"""The bench's :class:`~unlearnkit.sources.ModelSource`: θ_o, θ_r, extra retrained models and shadow
models for one (dataset, split, model, train config) from the checkpoint cache; missing shadows are
trained through the executor (nested Ray tasks under ``--executor ray``)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..cache import ModelCache, data_fingerprint, fingerprint
from ..data.split import Split
from ..eval.base import Need
from ..models import build_model
from ..training import TrainConfig, train_model, training_identity


class BenchSource:
    """Cached models for a job spec. ``unlearn`` (the run's plan applied to another model) and
    ``mapper`` (the executor's inner map) are set by the job; ``train_task`` must be a top-level
    function ``(spec, indices, seed) -> bool`` that trains one model into the cache (for a pool)."""

    def __init__(
        self,
        spec: dict,
        ds,
        split: Split | None,
        device: torch.device,
        unlearn: Callable[[nn.Module, Split, int], nn.Module] | None = None,
        mapper: Callable[[Callable, list], list] | None = None,
        train_task: Callable[[tuple[dict, np.ndarray, int]], Any] | None = None,
    ):
        self.spec, self.ds, self.split, self.device = spec, ds, split, device
        self.cache = ModelCache(spec["cache_dir"])
        self.tcfg = TrainConfig(**spec["train"])
        # keyed by a fingerprint of the actual training tensors too: an edited data file retrains
        self.ident = dict(
            dataset=spec["dataset"],
            data=data_fingerprint(ds),
            model=spec["model"],
            train=training_identity(spec["train"]),
            version=spec["version"],
        )
        self._unlearn, self._mapper, self._train_task = unlearn, mapper, train_task

    # building and training ---------------------------------------------------------------------
    def new_model(self, seed: int | None = None) -> nn.Module:
        if seed is not None:
            torch.manual_seed(seed)
        m = self.spec["model"]
        return build_model(m["name"], self.ds.input_shape, self.ds.num_classes, **m["options"]).to(self.device)

    def key(self, indices: np.ndarray, seed: int) -> str:
        return fingerprint(dict(self.ident, indices=np.asarray(indices), seed=seed))

    def is_cached(self, indices: np.ndarray, seed: int) -> bool:
        return all(p.exists() for p in self.cache.paths(self.key(indices, seed)))

    def trained_with_meta(self, indices: np.ndarray, seed: int, label: str = "shadow") -> tuple[nn.Module, dict]:
        """The cached model for (indices, seed), trained now if missing; meta has ``train_s``, ``cached``."""
        return self.cache.get_or_train(
            self.key(indices, seed),
            lambda: self.new_model(seed),
            lambda m: train_model(m, self.ds, indices, self.tcfg, self.device, seed=seed),
            label=label,
        )

    def _split(self) -> Split:
        if self.split is None:
            raise RuntimeError("this BenchSource was built without a split (shadow training only)")
        return self.split

    def original(self) -> tuple[nn.Module, dict]:
        return self.trained_with_meta(self._split().train, self.spec["seed"], "original")

    def retrained_with_meta(self, offset: int = 0) -> tuple[nn.Module, dict]:
        return self.trained_with_meta(self._split().retain, self.spec["seed"] + offset, "retrain")

    # the ModelSource protocol ------------------------------------------------------------------
    def provides(self, need: Need) -> bool:
        return need is not Need.UNLEARN or self._unlearn is not None

    def retrained(self, k: int) -> list[nn.Module]:
        return [self.retrained_with_meta(i)[0] for i in range(k)]

    def trained(self, indices: np.ndarray, seed: int) -> nn.Module:
        return self.trained_with_meta(np.asarray(indices), int(seed))[0]

    def trained_many(self, sets: Sequence[np.ndarray], seeds: Sequence[int]) -> list[nn.Module]:
        """Shadow models: the missing ones trained through the executor, all read from the cache."""
        missing = [(self.spec, np.asarray(idx), int(s)) for idx, s in zip(sets, seeds) if not self.is_cached(idx, s)]
        if missing and self._train_task is not None:
            self.map(self._train_task, missing)
        return [self.trained(idx, s) for idx, s in zip(sets, seeds)]

    def unlearn(self, model: nn.Module, split: Split, seed: int) -> nn.Module:
        if self._unlearn is None:
            raise RuntimeError("BenchSource built without the run's unlearning function")
        return self._unlearn(model, split, seed)

    def map(self, fn: Callable[[Any], Any], items: list) -> list:
        return self._mapper(fn, items) if self._mapper is not None else [fn(x) for x in items]
