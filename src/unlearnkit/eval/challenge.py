"""The NeurIPS 2023 Machine Unlearning Challenge score (Triantafillou et al. 2024, "Are we making
progress in unlearning? Findings from the first NeurIPS unlearning competition", arXiv 2406.09073).

Per forget example s, N unlearned runs and N retrained runs give a statistic (per-example loss).
Each attack (a decision rule on it) has (FPR, FNR); with δ = 0.01

    ε = max(log(1 − δ − FPR) − log FNR,  log(1 − δ − FNR) − log FPR)

attacks with exactly one of FPR, FNR zero are dropped, both zero → ε = ∞; ε_s = max over attacks
(≥ 0). Bins 0, 0.5, …, 6.0; n_s = digitize(ε_s); F = mean_s 2 / 2^{n_s} (1 = indistinguishable).
Score = F × (RA_u / RA_r) × (TA_u / TA_r), accuracies averaged over the N runs of each kind.

Attacks here (``attacks`` option): ``threshold`` — every threshold on the statistic, both
directions (the best threshold, in sample); ``logistic_cv`` — a 1-D logistic regression
per example, cross-validated over the runs (held-out FPR/FNR). With small N (CPU) the in-sample
threshold attack is harsh: any systematic shift separates N vs N runs perfectly (ε = ∞), and even
identical distributions are split perfectly for 2/C(2N, N) of the examples; so the default uses
``logistic_cv`` only (add ``threshold`` for the challenge's full set at large N).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UnlearnkitError
from .accuracy import accuracy
from .base import METRICS, Column, Evaluation, Metric, Need

BINS = np.arange(13) * 0.5  # 0, 0.5, …, 6.0


# --- pure math -----------------------------------------------------------------------------------
def epsilon_per_attack(fpr, fnr, delta: float = 0.01) -> np.ndarray:
    """ε for each attack (arrays broadcast); nan for dropped attacks (exactly one of FPR, FNR zero)."""
    fpr, fnr = np.broadcast_arrays(np.asarray(fpr, dtype=float), np.asarray(fnr, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.where(1 - delta - fpr > 0, 1 - delta - fpr, np.nan)) - np.log(fnr)
        b = np.log(np.where(1 - delta - fnr > 0, 1 - delta - fnr, np.nan)) - np.log(fpr)
        eps = np.fmax(a, b)  # fmax ignores a nan side; both nan → nan (a useless attack, dropped)
    both = (fpr == 0) & (fnr == 0)
    one = (fpr == 0) ^ (fnr == 0)
    eps = np.where(both, np.inf, eps)
    return np.where(one, np.nan, eps)


def epsilon_per_example(fpr, fnr, delta: float = 0.01) -> np.ndarray:
    """ε_s = max(0, max over attacks); ``fpr``/``fnr`` are [S, A] (A attacks per example)."""
    eps = epsilon_per_attack(np.atleast_2d(fpr), np.atleast_2d(fnr), delta)
    eps = np.where(np.isnan(eps), -np.inf, eps).max(axis=1)
    return np.maximum(eps, 0.0)


def forgetting_quality(eps: np.ndarray) -> float:
    """F = mean_s 2 / 2^{digitize(ε_s, 0, 0.5, …, 6)}."""
    n = np.digitize(np.asarray(eps, dtype=float), BINS)
    return float(np.mean(2.0 / 2.0 ** n))


def threshold_rates(u: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, FNR) [S, 2·2N] of every threshold attack on per-example statistics u, r ([S, N] each):
    "unlearned if stat ≥ t" and "unlearned if stat < t", t over all observed values."""
    t = np.concatenate([u, r], 1)[:, :, None]  # [S, 2N, 1]
    fnr_ge = (u[:, None, :] < t).mean(2)  # unlearned run called retrained
    fpr_ge = (r[:, None, :] >= t).mean(2)  # retrained run called unlearned
    return np.concatenate([fpr_ge, 1 - fpr_ge], 1), np.concatenate([fnr_ge, 1 - fnr_ge], 1)


def logistic_cv_rates(u: np.ndarray, r: np.ndarray, folds: int = 2, l2: float = 1.0, iters: int = 30,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Held-out (FPR, FNR) [S, 1] of a per-example 1-D logistic regression (L2 = ``l2`` on the slope, as
    scikit-learn's C=1), cross-validated over the runs; all S examples solved at once by Newton steps."""
    S, N = u.shape
    folds = max(2, min(folds, N))
    x = np.concatenate([u, r], 1)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-12)
    y = np.concatenate([np.ones(N), np.zeros(N)])
    rng = np.random.default_rng(seed)
    fold = np.concatenate([rng.permutation(N) % folds, rng.permutation(N) % folds])
    pred = np.zeros_like(x)
    for f in range(folds):  # a handful of folds, each solving every example at once
        tr = fold != f
        xt, yt = x[:, tr], y[tr]
        w, b = np.zeros(S), np.zeros(S)
        for _ in range(iters):
            p = 1 / (1 + np.exp(-(w[:, None] * xt + b[:, None])))
            g_w, g_b = ((p - yt) * xt).sum(1) + l2 * w, (p - yt).sum(1)
            h = p * (1 - p)
            h_ww, h_wb, h_bb = (h * xt * xt).sum(1) + l2, (h * xt).sum(1), h.sum(1) + 1e-9
            det = h_ww * h_bb - h_wb ** 2
            w = w - (h_bb * g_w - h_wb * g_b) / det
            b = b - (h_ww * g_b - h_wb * g_w) / det
        pred[:, ~tr] = (w[:, None] * x[:, ~tr] + b[:, None]) > 0
    fnr = 1 - pred[:, :N].mean(1)
    fpr = pred[:, N:].mean(1)
    return fpr[:, None], fnr[:, None]


def challenge_F(u: np.ndarray, r: np.ndarray, attacks=("threshold", "logistic_cv"), delta: float = 0.01,
                folds: int = 2, seed: int = 0) -> float:
    """Forgetting quality F from per-example statistics of N unlearned (u) and N retrained (r) runs."""
    rates = []
    if "threshold" in attacks:
        rates.append(threshold_rates(u, r))
    if "logistic_cv" in attacks:
        rates.append(logistic_cv_rates(u, r, folds, seed=seed))
    if not rates:
        raise UnlearnkitError("challenge_score needs at least one attack: threshold and/or logistic_cv")
    fpr = np.concatenate([a for a, _ in rates], 1)
    fnr = np.concatenate([b for _, b in rates], 1)
    return forgetting_quality(epsilon_per_example(fpr, fnr, delta))


# --- the metric ----------------------------------------------------------------------------------
class ChallengeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    N: int = Field(4, ge=2, description="unlearned and retrained runs each (challenge: 512; CPU: small)")
    delta: float = Field(0.01, gt=0, lt=1)
    attacks: list[Literal["threshold", "logistic_cv"]] = Field(
        ["logistic_cv"], min_length=1, description="threshold (in-sample, saturates at small N) and/or logistic_cv")
    folds: int = Field(2, ge=2, description="cross-validation folds of the logistic attack")
    max_targets: int | None = Field(None, ge=1, description="score at most this many forget samples (seeded)")


@METRICS.register("challenge_score")
class ChallengeScore(Metric):
    """Column challenge_score: F × RA_u/RA_r × TA_u/TA_r from N unlearned + N retrained runs."""

    name = "challenge_score"
    columns = (Column("challenge_score", "max", "NeurIPS 2023 unlearning challenge score: F × RA_u/RA_r × TA_u/TA_r "
                      "(higher is better).", digits=3),)
    needs = frozenset({Need.ORIGINAL, Need.RETRAINED_K, Need.UNLEARN})
    quick_options = {"N": 2, "max_targets": 50}
    Options = ChallengeOptions

    def compute(self, model, ev: Evaluation) -> dict:
        o = self.options
        self.check(ev)
        models = ev.source(self.name)
        unlearned = [model] + [models.unlearn(ev.original, ev.split, ev.seed + i) for i in range(1, o.N)]
        retrained = models.retrained(o.N)
        idx = np.arange(len(ev.split.forget))
        if o.max_targets is not None and len(idx) > o.max_targets:
            idx = np.sort(np.random.default_rng(ev.seed).choice(idx, o.max_targets, replace=False))
        y = ev.labels("forget")[idx]

        def losses(models):
            return np.stack([F.cross_entropy(ev.logits(m, "forget")[idx], y, reduction="none").double().numpy()
                             for m in models], 1)  # [S, N]

        f = challenge_F(losses(unlearned), losses(retrained), tuple(o.attacks), o.delta, o.folds, ev.seed)

        def mean_acc(models, part):
            return float(np.mean([accuracy(ev.logits(m, part), ev.labels(part)) for m in models]))

        ratio = (mean_acc(unlearned, "retain") / mean_acc(retrained, "retain")) * \
                (mean_acc(unlearned, "test") / mean_acc(retrained, "test"))
        return {"challenge_score": f * ratio}
