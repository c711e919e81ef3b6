"""The class-prior shift a removal causes: the fraction of each class D_r keeps, θ_o's probabilities corrected
for it (read through label smoothing's ε where θ_o is under-confident), and drop-and-renormalise for gone
classes."""

from __future__ import annotations

from __future__ import annotations

import math

import numpy as np
import torch


def kept_fraction(train_labels: np.ndarray, retain_labels: np.ndarray, num_classes: int) -> np.ndarray:
    """r_c = n_r(c) / n(c): the fraction of class c's training samples that D_r keeps (0 for a gone class,
    1 for a class with no training sample)."""
    n = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=num_classes)
    return kept_of(np.bincount(np.asarray(retain_labels, dtype=np.int64), minlength=num_classes), n)


def kept_of(n_r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Per class, ``n_r / n`` — the fraction of a class's ``n`` samples that ``n_r`` keeps — and 1 where ``n`` is 0."""
    n_r, n = np.asarray(n_r, float), np.asarray(n, float)
    return np.divide(n_r, n, out=np.ones(len(n)), where=n > 0)


def smoothing_eps(p: torch.Tensor, y: torch.Tensor, z: float) -> float:
    """How far θ_o's probabilities ``p`` on held-out samples (labels ``y``) are compressed toward uniform, as the
    ε of label smoothing's optimum p = (1−ε)·p_cal + ε/K (Müller, Kornblith & Hinton 2019, "When does label
    smoothing help?"): calibration (Guo et al. 2017) asks the mean top probability of p_cal to equal the accuracy,
    and max p = (1−ε)·max p_cal + ε/K, so ε = (acc − m̄) / (acc − 1/K) with m̄ the mean top probability of p;
    acc − m̄ is taken less ``z`` standard errors of the per-sample difference (1[right] − max p), and ε is 0 where
    that is not positive (a calibrated or over-confident model: the prior correction then reads p as it is)."""
    k, n = p.shape[1], len(y)
    if n < 2 or k < 2:
        return 0.0
    right = (p.argmax(1) == y).double()
    d = right - p.max(1).values.double()
    acc = float(right.mean())
    lower = float(d.mean()) - z * float(d.std()) / math.sqrt(n)
    if lower <= 0 or acc - 1.0 / k <= 0:
        return 0.0
    return min(lower / (acc - 1.0 / k), 1.0 - 1e-6)


def prior_correct(p: torch.Tensor, ratio: np.ndarray, eps: float = 0.0) -> torch.Tensor:
    """Label-shift correction of θ_o's probabilities for a model trained on D_r: q(c|x) ∝ p(c|x)·r_c,
    renormalised (Saerens, Latinne & Decaestecker 2002, "Adjusting the outputs of a classifier to new a
    priori probabilities"; r_c = π_r(c)/π_o(c) up to a constant). Uniform over the classes with r_c > 0
    where a row has all its mass on classes with r_c = 0. ``eps`` > 0 (:func:`smoothing_eps`): p is read as
    (1−ε)·p_cal + ε/K; p_cal (clipped at 0) is corrected and mapped back the same way."""
    if eps > 0:
        k = p.shape[1]
        return (1.0 - eps) * prior_correct(((p - eps / k) / (1.0 - eps)).clamp_min(0.0), ratio) + eps / k
    r = torch.as_tensor(np.asarray(ratio, dtype=np.float64), dtype=p.dtype)
    q = p * r
    s = q.sum(1, keepdim=True)
    support = (r > 0).to(p.dtype)
    uniform = support / support.sum()
    return torch.where(s > 0, q / s.clamp_min(1e-300), uniform.expand_as(q))


def drop_renormalise(p: torch.Tensor, gone: np.ndarray) -> torch.Tensor:
    """θ_o's probabilities with the ``gone`` classes set to 0 and the rows renormalised (uniform over
    the kept classes where a row had all its mass on gone classes): :func:`prior_correct` with r = 0 on
    the gone classes and 1 elsewhere."""
    ratio = np.ones(p.shape[1])
    ratio[np.asarray(gone, dtype=np.int64)] = 0.0
    return prior_correct(p, ratio)
