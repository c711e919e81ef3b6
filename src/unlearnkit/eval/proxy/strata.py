"""Held-out samples standing in for D_f: which classes are gone, the strata D_f's mix is matched on, and the
weights (shrunk toward the pool by an empirical-Bayes prior) that give held-out data D_f's mix."""

from __future__ import annotations

from __future__ import annotations

import numpy as np
import torch


from .options import ProxyOptions


def gone_classes(forget_labels: np.ndarray, retain_labels: np.ndarray) -> np.ndarray:
    """Classes of D_f with no sample left in D_r (class forgetting), sorted."""
    return np.setdiff1d(np.unique(forget_labels), np.unique(retain_labels))


def target_weights(unseen_labels: np.ndarray, forget_labels: np.ndarray, num_classes: int, prior: float) -> np.ndarray:
    """Weights (sum 1) over unseen samples that make them look like D_f's class mix, shrunk toward
    uniform: (1−β)·π_f(c)/n_u(c) + β/N_u, β = prior/(prior + median n_u(c) over D_f's classes)."""
    n = len(unseen_labels)
    if n == 0:
        return np.zeros(0)
    n_u = np.bincount(unseen_labels, minlength=num_classes).astype(float)
    pi = np.bincount(forget_labels, minlength=num_classes).astype(float)
    pi[n_u == 0] = 0.0
    pooled = np.full(n, 1.0 / n)
    if pi.sum() == 0:
        return pooled
    pi /= pi.sum()
    per_class = pi[unseen_labels] / n_u[unseen_labels]
    m = float(np.median(n_u[pi > 0]))
    beta = 1.0 if np.isinf(prior) else prior / (prior + m) if prior + m > 0 else 1.0
    return (1 - beta) * per_class + beta * pooled


def target_strata(dataset, o: ProxyOptions) -> tuple[np.ndarray, int]:
    """Per dataset index, the stratum whose held-out samples stand in for D_f's samples of it, and their number: the
    class, or with ``match_group`` and a data set with a ``group`` attribute, class × group (a request of one group's
    rows — a region, a cohort — is read off held-out rows of that group: Adult, half of group 1's rows, the FA target
    80.9 → 79.7 % against θ_r's 77.3 %, 30 % of group 0's 85.5 → 90.3 % against 93.0 %)."""
    labels = np.asarray(dataset.labels, np.int64)
    group = getattr(dataset, "group", None)
    if not o.match_group or group is None:
        return labels, dataset.num_classes
    g = np.asarray(group.cpu() if isinstance(group, torch.Tensor) else group, np.int64)
    n_groups = int(g.max()) + 1 if len(g) else 1
    return labels * n_groups + g, dataset.num_classes * n_groups


def empirical_prior(labels: np.ndarray, right: np.ndarray) -> float:
    """The pseudo-sample count of :func:`target_weights` estimated from the held-out data (empirical Bayes,
    method of moments): with p̂ the pooled rate of ``right`` and p̂_c each class's, the sampling variance of
    p̂_c is σ_c² = p̂(1−p̂)/n_c and the spread of the true class rates is τ² = max(0, mean_c (p̂_c − p̂)² −
    mean_c σ_c²); shrinking p̂_c by β_c = σ_c²/(σ_c² + τ²) is :func:`target_weights`' β with
    prior = p̂(1−p̂)/τ². ``inf`` (pool every class) where the classes' rates differ by no more than their
    sampling noise, or where every sample is right (or every one wrong). Classes with fewer than 2 samples
    are left out of the estimate."""
    _, inverse, counts = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
    right = np.asarray(right, float)
    keep = counts >= 2
    if keep.sum() < 2:
        return float("inf")
    n_c = counts[keep].astype(float)
    rates = np.bincount(inverse, weights=right)[keep] / n_c
    p = float(np.sum(rates * n_c) / n_c.sum())  # the pooled rate over the kept classes' samples
    v = p * (1.0 - p)
    if v == 0.0:
        return float("inf")
    tau2 = float(np.mean((rates - p) ** 2) - np.mean(v / n_c))
    return v / tau2 if tau2 > 0 else float("inf")
