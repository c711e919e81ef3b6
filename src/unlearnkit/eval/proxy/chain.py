"""A chain of requests (``baseline=``): damage counted against the first model's answers, and which classes the
requests so far removed."""

from __future__ import annotations

from __future__ import annotations

import numpy as np
import torch


def removed_since(first, retain_labels: np.ndarray, num_classes: int, thin: float | None) -> np.ndarray:
    """Per class, whether the requests so far removed it — today's D_r keeps less than ``thin`` (``proxy.thin_below``)
    of the first training set's samples of it (``first.train_counts``), or none at all where that is unknown or
    ``thin`` is None: its samples are read by θ_o's answers, not the first model's (losing it was asked for)."""
    kept = first.kept(retain_labels, num_classes)
    if kept is None:
        return np.bincount(np.asarray(retain_labels, np.int64), minlength=num_classes) == 0
    return kept < thin if thin is not None else kept == 0


def against_first(
    first, idx: np.ndarray, p: torch.Tensor, y: torch.Tensor, chosen: np.ndarray, removed: np.ndarray | None = None
) -> np.ndarray:
    """The per-sample reference of a chain of requests: on the samples ``first`` (a Baseline) covers, right where the
    first model classified them right — less those θ_o got right that the class-prior correction excuses (``chosen``,
    θ_o's own reference, has them wrong) — or where ``chosen`` credits a sample θ_o got wrong; ``chosen`` elsewhere,
    and on the classes ``removed`` (:func:`removed_since`, per class). With ``first`` measured on θ_o itself this is
    ``chosen`` exactly."""
    raw = (p.argmax(1) == y).numpy()
    right, covered = first.right(idx)
    if removed is not None:
        covered &= ~removed[y.numpy()]
    excused = raw & ~chosen
    return np.where(covered, (right & ~excused) | (chosen & ~raw), chosen)
