"""Splits: frozen integer index arrays into one dataset (docs/architecture.md "Contracts")."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UnlearnkitError


@dataclass(frozen=True)
class Split:
    """train / test / unseen (held out from the training pool) / forget ⊂ train; retain = train − forget.

    ``purpose``: ``deletion`` (D_f is a request to forget) or ``correction`` (fairness/robustness: D_f
    is a stand-in and a weighting decides which samples lose weight); declared by the scenario."""

    train: np.ndarray
    test: np.ndarray
    unseen: np.ndarray
    forget: np.ndarray
    info: dict = field(default_factory=dict, compare=False)
    purpose: str = "deletion"

    def __post_init__(self):
        for name in ("train", "test", "unseen", "forget"):
            object.__setattr__(self, name, np.sort(np.asarray(getattr(self, name), dtype=np.int64)))
        if self.purpose not in ("deletion", "correction"):
            raise UnlearnkitError(f"split purpose {self.purpose!r} is not 'deletion' or 'correction'")
        if len(self.forget) == 0:
            raise UnlearnkitError("the forget set is empty; choose a scenario that selects at least one sample")
        if not np.isin(self.forget, self.train).all():
            raise UnlearnkitError("the forget set must be a subset of the training set")
        object.__setattr__(self, "retain", np.setdiff1d(self.train, self.forget, assume_unique=True))
        if len(self.retain) == 0:
            raise UnlearnkitError("the forget set covers the whole training set; nothing would be retained")

    retain: np.ndarray = field(init=False, default=None, compare=False)  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("train", "test", "unseen", "forget")} | \
            {"info": self.info, "purpose": self.purpose}

    @classmethod
    def from_dict(cls, d: dict) -> "Split":
        return cls(d["train"], d["test"], d["unseen"], d["forget"], d.get("info", {}), d.get("purpose", "deletion"))


def base_split(labels: np.ndarray, pool: np.ndarray, test: np.ndarray, seed: int,
               unseen_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carve a stratified, seeded ``unseen`` split from the training pool: (train, test, unseen)."""
    if not 0 <= unseen_fraction < 1:
        raise UnlearnkitError(f"unseen_fraction must be in [0, 1), got {unseen_fraction}")
    if unseen_fraction == 0:
        return np.asarray(pool), np.asarray(test), np.empty(0, dtype=np.int64)
    from sklearn.model_selection import train_test_split

    train, unseen = train_test_split(pool, test_size=unseen_fraction, stratify=labels[pool], random_state=seed)
    return np.sort(train), np.asarray(test), np.sort(unseen)
