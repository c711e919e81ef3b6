"""The proxy's terms: the confidence-distribution distance (W₁ against a capped target), the mass term's total
variation and the paired accuracy damage."""

from __future__ import annotations

from __future__ import annotations

import numpy as np
import torch


def capped_quantiles(
    cap: np.ndarray, b: np.ndarray, wb: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The target distribution T with quantile function Q_T(u) = min(Q_cap(u), Q_b(u)) — ``b`` (weights ``wb``)
    capped quantile by quantile at the uniform empirical distribution of ``cap`` — as steps over u ∈ (0, 1]
    for :func:`quantile_w1` against a distribution of ``len(cap)`` points: (lengths of the u-intervals, the
    index of the ``len(cap)``-point quantile in each, Q_T on each). Where every cap quantile is at least
    b's, T is b."""
    cap, b = np.sort(np.asarray(cap, float)), np.asarray(b, float)
    n = len(cap)
    wb = np.full(len(b), 1.0 / len(b)) if wb is None else np.asarray(wb, float) / np.sum(wb)
    order = np.argsort(b, kind="stable")
    b, cum = b[order], np.cumsum(wb[order])
    cum[-1] = 1.0
    edges = np.unique(np.concatenate([[0.0], np.arange(1, n + 1) / n, cum]))
    mid = 0.5 * (edges[:-1] + edges[1:])
    k = np.minimum((mid * n).astype(np.int64), n - 1)  # the n-point quantile function's step at mid
    qb = b[np.minimum(np.searchsorted(cum, mid, side="left"), len(b) - 1)]
    return np.diff(edges), k, np.minimum(cap[k], qb)


def quantile_w1(a: np.ndarray, grid: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """Wasserstein-1 distance ∫₀¹ |Q_a(u) − Q_T(u)| du between the uniform empirical distribution of ``a``
    and the target :func:`capped_quantiles` built for ``len(a)`` points."""
    lengths, k, qt = grid
    return float(np.sum(lengths * np.abs(np.sort(np.asarray(a, float))[k] - qt)))


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per-row ½‖p − q‖₁."""
    return 0.5 * (p - q).abs().sum(1)


def paired_damage(ref_right: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """Accuracy points lost against a reference on the same samples, max(0, 100·mean(d)), and the standard
    error of 100·mean(d), d_i = ref_right_i − right_i (paired: only samples on which the two disagree
    add variance)."""
    d = np.asarray(ref_right, float) - np.asarray(right, float)
    if len(d) == 0:
        return 0.0, 0.0
    se = 100.0 * float(d.std(ddof=1)) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    return max(0.0, 100.0 * float(d.mean())), se
