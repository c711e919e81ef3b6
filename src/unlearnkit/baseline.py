"""What the model before the first of a chain of deletion requests got right.

Deletion requests arrive one after another: each is unlearned from the model the last one left. Under
``stop="auto"`` the proxy counts a state's damage (RA and held-out accuracy lost) against θ_o — the model the call
starts from — so every request may cost up to ``stopping.max_damage`` again, and a chain of small requests loses
accuracy step by step past any bound (five 2 % requests on a Fashion-MNIST subset: RA 86–89 % after ga, fisher and
ft, against 99 % before the first; ``benchmarks/sequential_requests.py``). A retrained model, the yardstick, is as
accurate on D_r and held-out data as the model the chain started from.

A :class:`Baseline` records that first model's answers — which of the dataset samples it was read on it
misclassified — so that later requests count damage against it (``unlearn(..., baseline=…)``): a state is scored
by what the whole chain has lost, and never kept beyond ``max_damage`` below the first model (states that repair
earlier losses are). It holds indices only: no model, and nothing of D_f's that a retrained model would not also
get (the samples it covers are D_r's and held-out ones; ids of samples since forgotten are never read again). The
CLI measures one on the first request on a checkpoint and carries it in the unlearned checkpoint's JSON.

A baseline measured on θ_o itself changes nothing: the proxy's reference is bit-identical to the one without it
(its per-sample reference is θ_o's own correctness, excusing the samples the class-prior correction excuses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .errors import UnlearnkitError


def _ids(values, what: str) -> np.ndarray:
    idx = np.asarray(values)
    if idx.size == 0:
        return np.zeros(0, np.int64)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise UnlearnkitError(f"baseline {what} must be a flat list of sample indices, got {idx.dtype} {idx.shape}")
    return np.unique(idx.astype(np.int64))


def _ranges(idx: np.ndarray) -> list[list[int]]:
    """Sorted distinct ids as [start, stop) runs (a training pool is a few runs, not 60 000 numbers)."""
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    starts, ends = np.concatenate([[0], breaks]), np.concatenate([breaks, [len(idx)]])
    return [[int(idx[s]), int(idx[e - 1]) + 1] for s, e in zip(starts, ends)]


@dataclass(frozen=True)
class Baseline:
    """The first model's answers: ``covered``, the dataset indices it was read on, and ``wrong``, those it
    misclassified (both sorted, distinct; ``wrong`` ⊂ ``covered``)."""

    covered: np.ndarray
    wrong: np.ndarray

    def __post_init__(self):
        covered, wrong = _ids(self.covered, "covered"), _ids(self.wrong, "wrong")
        if len(np.setdiff1d(wrong, covered)):
            raise UnlearnkitError("baseline: 'wrong' holds indices outside 'covered'; measure it with Baseline.measure")
        object.__setattr__(self, "covered", covered)
        object.__setattr__(self, "wrong", wrong)

    @classmethod
    def measure(cls, model, dataset, indices, device: torch.device | str | None = None) -> "Baseline":
        """Read ``model`` on ``dataset[indices]`` (one batched pass in eval mode): typically θ_o before the first
        request, on its training set and held-out data."""
        from .predict import predict_logits

        idx = _ids(indices, "indices")
        if len(idx) and (idx[0] < 0 or idx[-1] >= len(dataset)):
            raise UnlearnkitError(f"baseline indices must be in 0..{len(dataset) - 1}")
        dev = torch.device(device) if device is not None else next(model.parameters()).device
        logits = predict_logits(model, dataset.to(dev), idx, device=dev)
        right = (logits.argmax(1).cpu().numpy() == np.asarray(dataset.labels)[idx]) if len(idx) else np.zeros(0, bool)
        return cls(idx, idx[~right])

    def right(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For dataset indices ``idx``: (whether the first model classified each right, whether it was read on it)."""
        idx = np.asarray(idx, np.int64)
        return ~np.isin(idx, self.wrong), np.isin(idx, self.covered)

    def check(self, dataset) -> None:
        """Refuse a baseline measured on other data (indices beyond ``dataset``)."""
        if len(self.covered) and self.covered[-1] >= len(dataset):
            raise UnlearnkitError(
                f"the baseline covers index {int(self.covered[-1])} but dataset {dataset.name!r} has {len(dataset)} "
                f"samples; it was measured on other data (pass the dataset the first request used)"
            )

    def to_dict(self) -> dict:
        """JSON-ready: ``covered`` as [start, stop) runs, ``wrong`` as a list."""
        return {"covered": _ranges(self.covered), "wrong": self.wrong.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Baseline":
        try:
            runs = [(int(a), int(b)) for a, b in d["covered"]]
            wrong = [int(i) for i in d["wrong"]]
        except (KeyError, TypeError, ValueError) as e:
            raise UnlearnkitError(
                f"baseline: expected {{'covered': [[start, stop], …], 'wrong': [ids]}} ({e})"
            ) from None
        covered = np.concatenate([np.arange(a, b) for a, b in runs]) if runs else np.zeros(0, np.int64)
        return cls(covered, np.asarray(wrong, np.int64))
