"""What the model before the first of a chain of deletion requests got right.

Deletion requests arrive one after another: each is unlearned from the model the last one left. Under
``stop="auto"`` the proxy counts a state's damage (RA and held-out accuracy lost) against θ_o — the model the call
starts from — so every request may cost up to ``stopping.max_damage`` again, and a chain of small requests loses
accuracy step by step past any bound (five 2 % requests on a Fashion-MNIST subset: RA after fisher and ga down to
82–87 %, against 98.9 % before the first; ``benchmarks/sequential_requests.py``). A retrained model, the yardstick, is as
accurate on D_r and held-out data as the model the chain started from.

A :class:`Baseline` records that first model's answers — which of the dataset samples it was read on it
misclassified — so that later requests count damage against it (``unlearn(..., baseline=…)``): a state is scored
by what the whole chain has lost, and never kept beyond ``max_damage`` below the first model (states that repair
earlier losses are). It holds indices and class counts only, no model; the CLI measures one on the first request
on a checkpoint and carries it in the unlearned checkpoint's JSON without the ids forgotten so far
(:meth:`Baseline.without`), so that no per-sample trace of a removed sample stays in what it writes.

A class earlier requests removed (all of it, or all but ``proxy.thin_below``) is read by the model each request
starts from, not by the first: losing it is what was asked. A baseline measured on θ_o itself changes nothing: the proxy's reference is bit-identical to the one without it
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
    misclassified (both sorted, distinct; ``wrong`` ⊂ ``covered``); ``train_counts``, its training set's samples
    per class (where known: the proxy then reads a class an earlier request removed all but ``proxy.thin_below`` of
    by the current model's answers, since losing it is what the requests asked for, not damage)."""

    covered: np.ndarray
    wrong: np.ndarray
    train_counts: np.ndarray | None = None

    def __post_init__(self):
        covered, wrong = _ids(self.covered, "covered"), _ids(self.wrong, "wrong")
        if len(np.setdiff1d(wrong, covered)):
            raise UnlearnkitError("baseline: 'wrong' holds indices outside 'covered'; measure it with Baseline.measure")
        object.__setattr__(self, "covered", covered)
        object.__setattr__(self, "wrong", wrong)
        if self.train_counts is not None:
            counts = np.asarray(self.train_counts)
            if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any():
                raise UnlearnkitError("baseline: 'train_counts' must be a list of per-class sample counts (≥ 0)")
            object.__setattr__(self, "train_counts", counts.astype(np.int64))

    @classmethod
    def measure(cls, model, dataset, train, unseen=(), device: torch.device | str | None = None) -> "Baseline":
        """Read ``model`` — θ_o before the first request — on ``dataset[train]`` (its training set) and
        ``dataset[unseen]`` (held-out data), one batched pass in eval mode."""
        from .predict import predict_logits

        train = _ids(train, "train")
        idx = np.union1d(train, _ids(unseen, "unseen"))
        if len(idx) and (idx[0] < 0 or idx[-1] >= len(dataset)):
            raise UnlearnkitError(f"baseline indices must be in 0..{len(dataset) - 1}")
        dev = torch.device(device) if device is not None else next(model.parameters()).device
        logits = predict_logits(model, dataset.to(dev), idx, device=dev)
        labels = np.asarray(dataset.labels)
        right = (logits.argmax(1).cpu().numpy() == labels[idx]) if len(idx) else np.zeros(0, bool)
        return cls(idx, idx[~right], np.bincount(labels[train], minlength=dataset.num_classes))

    def right(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For dataset indices ``idx``: (whether the first model classified each right, whether it was read on it)."""
        idx = np.asarray(idx, np.int64)
        return ~np.isin(idx, self.wrong), np.isin(idx, self.covered)

    def kept(self, retain_labels: np.ndarray, num_classes: int) -> np.ndarray | None:
        """Per class, the fraction of the first training set's samples that ``retain_labels`` (today's D_r) still
        holds (1 for a class it had none of); None without ``train_counts``."""
        from .eval.proxy.prior import kept_of

        if self.train_counts is None:
            return None
        first = np.zeros(num_classes)
        first[: min(num_classes, len(self.train_counts))] = self.train_counts[:num_classes]
        return kept_of(np.bincount(np.asarray(retain_labels, np.int64), minlength=num_classes), first)

    def without(self, ids) -> "Baseline":
        """The same answers with ``ids`` (samples since forgotten) left out; the class counts stay (an aggregate, what
        :func:`~unlearnkit.eval.proxy.chain.removed_since` measures today's D_r against)."""
        gone = _ids(ids, "ids")
        keep = ~np.isin(self.covered, gone)
        return Baseline(self.covered[keep], self.wrong[~np.isin(self.wrong, gone)], self.train_counts)

    def check(self, dataset) -> None:
        """Refuse a baseline measured on other data (indices beyond ``dataset``, or another class count)."""
        if len(self.covered) and self.covered[-1] >= len(dataset):
            raise UnlearnkitError(
                f"the baseline covers index {int(self.covered[-1])} but dataset {dataset.name!r} has {len(dataset)} "
                f"samples; it was measured on other data (pass the dataset the first request used)"
            )
        if self.train_counts is not None and len(self.train_counts) != dataset.num_classes:
            raise UnlearnkitError(
                f"the baseline counts {len(self.train_counts)} classes but dataset {dataset.name!r} has "
                f"{dataset.num_classes}; it was measured on other data (pass the dataset the first request used)"
            )

    def to_dict(self) -> dict:
        """JSON-ready: ``covered`` as [start, stop) runs, ``wrong`` and ``train_counts`` as lists."""
        out = {"covered": _ranges(self.covered), "wrong": self.wrong.tolist()}
        return out | ({"train_counts": self.train_counts.tolist()} if self.train_counts is not None else {})

    @classmethod
    def from_dict(cls, d: dict) -> "Baseline":
        try:
            runs = [(int(a), int(b)) for a, b in d["covered"]]
            wrong = [int(i) for i in d["wrong"]]
            counts = [int(c) for c in d["train_counts"]] if d.get("train_counts") is not None else None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UnlearnkitError(
                f"baseline: expected {{'covered': [[start, stop], …], 'wrong': [ids], 'train_counts': [n per class]}} "
                f"({e})"
            ) from None
        covered = np.concatenate([np.arange(a, b) for a, b in runs]) if runs else np.zeros(0, np.int64)
        return cls(covered, np.asarray(wrong, np.int64), None if counts is None else np.asarray(counts, np.int64))
