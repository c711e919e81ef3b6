"""Datasets by name. A loader is ``f(data_dir=None, download=False, **options) -> ArrayDataset``."""

from __future__ import annotations

import inspect

import numpy as np

from ..errors import UnlearnkitError
from .split import stratified_split
from ..registry import Registry
from .dataset import ArrayDataset

DATASETS: Registry = Registry("dataset")


def load_dataset(
    name: str, data_dir=None, download: bool = False, subset: int | None = None, **options
) -> ArrayDataset:
    """Load a registered dataset; ``subset`` keeps a stratified, fixed-seed sample of the training pool."""
    loader = DATASETS.get(name)
    accepted = inspect.signature(loader).parameters
    unknown = [k for k in options if k not in accepted]
    if unknown:
        known = [p for p in accepted if p not in ("data_dir", "download")]
        raise UnlearnkitError(f"dataset {name!r} takes no option(s) {unknown}; it takes: {known or 'none'}")
    ds = loader(data_dir=data_dir, download=download, **options)
    if subset is not None:
        ds.pool = stratified_subset(ds.labels, ds.pool, subset, seed=0)
    return ds


def stratified_subset(labels: np.ndarray, idx: np.ndarray, n: int, seed: int) -> np.ndarray:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 or n > len(idx):
        raise UnlearnkitError(f"subset={n} is not in 1..{len(idx)} (the training pool size)")
    if n == len(idx):
        return idx
    keep, _ = stratified_split(idx, labels[idx], seed, train_size=n, what=f"a subset of {n}")
    return np.sort(keep)
