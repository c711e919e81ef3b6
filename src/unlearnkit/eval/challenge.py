"""The NeurIPS 2023 Machine Unlearning Challenge score (Triantafillou et al. 2024, "Are we making
progress in unlearning? Findings from the first NeurIPS unlearning competition", arXiv 2406.09073).

Reference implementation: github.com/google-deepmind/unlearning_evaluation, ``metric.py``
(``compute_forget_score_from_confs``) and ``main.py`` (the final utility adjustment). This is our own
code; it agrees with that file on the same inputs (``tests/test_challenge.py`` holds values the
reference itself produced). The protocol, as the reference computes it:

* Statistic: the *logit-scaled confidence* of each forget example under each run,
  ``log p_y − log Σ_{c≠y} p_c`` (float64 softmax, each term floored at 1e-45).
* Per example s, the N unlearned and N retrained confidences; the side with the larger **median**
  is "positive" (ties: the unlearned side). If the smaller of the two ranges (max − min) is < 1 % of
  the larger, the example gets ε = 50 outright (one side is "peaky": e.g. a deterministic method).
* Two rule families, each on a grid of 100 thresholds per unit:
  - single threshold: "positive iff c ≥ t", t on linspace(min, max) of all 2N values;
  - double threshold: "peakier side iff l ≤ c ≤ r" (the peakier side has the smaller range w);
    r on linspace(P_max − 2, P_max + 2), l on linspace(r − w − 2, r − w + 2) (buffer 2, 400 points).
* Per rule: FPR = FNR = 0 → ε = ∞; exactly one of them 0 → rule dropped; otherwise
  ε = max(0, log(1 − δ − FPR) − log FNR, log(1 − δ − FNR) − log FPR) with δ = 1e-5 (a side whose
  log argument is ≤ 0 is ignored, both → dropped). ε_s = max over rules, clipped to [0, 50].
* Buckets: half-unit buckets [0, ½), [½, 1), … up to ceil(ln(N − 1)), worth 1, ½, ¼, …;
  ε_s past the last bucket scores 0. F = mean over examples of the bucket points.
* Final score = F × (RA_u / RA_r) × (TA_u / TA_r), accuracies averaged over the N runs per side.

**The score depends on N** (runs per side): with N runs ε can only be resolved up to about ln(N − 1),
so the bucket range grows with N (N = 3 or 4: 2–4 buckets; the challenge's N = 512: 14). Scores at
different N are not comparable; the metric reports N and the number of forget examples beside it.
At small N the in-sample maximum over thousands of rules also finds spurious separation: on digits
(random 10 %, N = 8; ``benchmarks/trw_reproduction.py challenge``) independently retrained runs score
F = 0.18, rl 0.003, ft 0.12, and θ_o (the same model N times: every example "peaky") 0.

Where we depart from the file (none changes a score on inputs we tried):

* The single-threshold grid is float64 (the reference's ``torch.linspace`` makes it float32); only
  the grid endpoints can coincide with observed values, and those never decide ε.
* The reference stops on an assertion when no rule survives (it also asserts on the truth value of
  a numpy array, which raises as soon as more than one rule survives — we ran it with that line read
  as ``len(...) > 0``). No surviving rule happens only when both sides are one and the same constant
  (or two constants closer than the grid step): we give ε = 0 there.
* N < 3 is refused: with N = 2 the bucket range ceil(ln 1) = 0 is empty and every score is 0.

``protocol="legacy_cv"`` keeps this package's earlier, *non-challenge* variant (per-example CE loss,
a cross-validated 1-D logistic attack, δ = 0.01, fixed buckets 0…6 worth 2/2^bucket) for comparison
only; it is not the challenge score.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UnlearnkitError
from .accuracy import accuracy
from .base import METRICS, Column, Evaluation, Metric, Need

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUFFER = 2.0
PEAKY_RATIO = 0.01


# --- the reference protocol ----------------------------------------------------------------------
def logit_scaled_confidence(logits, labels) -> np.ndarray:
    """log p_y − log Σ_{c≠y} p_c per row (float64 softmax; both sums floored at 1e-45 as the reference)."""
    z = torch.as_tensor(logits).detach().to(torch.float64).cpu().numpy()
    y = np.asarray(torch.as_tensor(labels).cpu().numpy(), dtype=np.int64)
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    rows = np.arange(len(y))
    p_y = p[rows, y].copy()
    p[rows, y] = 0.0
    return np.log(p_y + 1e-45) - np.log(p.sum(1) + 1e-45)


def _rule_epsilon(tpr: np.ndarray, fpr: np.ndarray, delta: float) -> np.ndarray:
    """ε of each rule from its rates; nan marks a dropped rule."""
    fnr = 1.0 - tpr
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(1.0 - delta - fpr) - np.log(fnr)  # nan where 1 − δ − FPR ≤ 0
        b = np.log(1.0 - delta - fnr) - np.log(fpr)
    eps = np.maximum(np.fmax(a, b), 0.0)  # fmax: one nan side is ignored; both nan stays nan
    eps = np.where(fpr * fnr == 0, np.nan, eps)
    return np.where((fpr == 0) & (fnr == 0), np.inf, eps)


def _in_range(sorted_vals: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fraction of ``sorted_vals`` with lo ≤ v ≤ hi, per (lo, hi)."""
    n = np.searchsorted(sorted_vals, hi, side="right") - np.searchsorted(sorted_vals, lo, side="left")
    return np.maximum(n, 0) / len(sorted_vals)


def example_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float = DELTA) -> float:
    """ε of one forget example from the N confidences of its positive (larger-median) and negative side."""
    pos, neg = np.sort(np.asarray(pos, np.float64)), np.sort(np.asarray(neg, np.float64))
    pos_range, neg_range = pos[-1] - pos[0], neg[-1] - neg[0]
    largest, smallest = max(pos_range, neg_range), min(pos_range, neg_range)
    if largest > 0 and smallest / largest < PEAKY_RATIO:
        return EPSILON_CAP
    # single threshold: "positive iff c ≥ t" on linspace(min, max) of every value
    lo, hi = min(pos[0], neg[0]), max(pos[-1], neg[-1])
    t = np.linspace(lo, hi, int(np.ceil((hi - lo) * THRESHOLDS_PER_UNIT)))
    single = _rule_epsilon(
        1.0 - np.searchsorted(pos, t, "left") / len(pos), 1.0 - np.searchsorted(neg, t, "left") / len(neg), delta
    )
    # double threshold: "peakier side iff l ≤ c ≤ r"; the peakier side P has range w (ties: the negative side)
    peaky, other = (neg, pos) if pos_range >= neg_range else (pos, neg)
    w = smallest
    r_lo, r_hi = peaky[0] + w - BUFFER, peaky[-1] + BUFFER
    right = np.linspace(r_lo, r_hi, int(np.ceil((r_hi - r_lo) * THRESHOLDS_PER_UNIT)))
    left = np.linspace(right - w - BUFFER, right - w + BUFFER, int(np.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT)), axis=1)
    right = np.broadcast_to(right[:, None], left.shape)
    double = _rule_epsilon(_in_range(peaky, left, right).ravel(), _in_range(other, left, right).ravel(), delta)
    eps = np.concatenate([single, double])
    eps = eps[~np.isnan(eps)]
    return float(min(eps.max(), EPSILON_CAP)) if len(eps) else 0.0


def bucket_points(eps: np.ndarray, n_runs: int) -> np.ndarray:
    """Points of each ε: 2^−k in half-unit bucket k = floor(2ε) while k < 2·ceil(ln(N − 1)), else 0."""
    n_buckets = 2 * int(np.ceil(np.log(n_runs - 1)))
    k = np.floor(2 * np.asarray(eps, np.float64))
    return np.where(k < n_buckets, 0.5**k, 0.0)


def forget_score(unlearned, retrained, delta: float = DELTA) -> float:
    """The challenge's forgetting quality F from [N runs, S examples] logit-scaled confidences of N
    unlearned and N retrained runs (1 = indistinguishable from retraining); invariant to run order."""
    u, r = np.asarray(unlearned, np.float64), np.asarray(retrained, np.float64)
    if u.ndim != 2 or u.shape != r.shape:
        raise UnlearnkitError(
            f"forget_score needs two [N runs, S examples] arrays of the same shape; got "
            f"{u.shape} and {r.shape} (stack one row of confidences per run)"
        )
    if u.shape[0] < 3 or u.shape[1] == 0:
        raise UnlearnkitError(
            f"forget_score needs N ≥ 3 runs per side and at least one example; got shape {u.shape} "
            f"(with N = 2 every score is 0: the bucket range ceil(ln(N − 1)) is empty)"
        )
    if not (np.isfinite(u).all() and np.isfinite(r).all()):
        raise UnlearnkitError("forget_score got non-finite confidences; check the models' logits for nan/inf")
    retrain_pos = np.median(r, 0) > np.median(u, 0)
    eps = np.array(
        [
            example_epsilon(r[:, s], u[:, s], delta) if retrain_pos[s] else example_epsilon(u[:, s], r[:, s], delta)
            for s in range(u.shape[1])
        ]
    )
    return float(bucket_points(eps, u.shape[0]).mean())


# --- legacy, non-challenge variant (comparison only) ---------------------------------------------
def legacy_epsilon(fpr, fnr, delta: float = 0.01) -> np.ndarray:
    """ε per attack with FPR = FNR = 0 → ∞, exactly one zero → nan (dropped); [S, A] → ε_s ≥ 0 [S]."""
    fpr, fnr = np.atleast_2d(np.asarray(fpr, float)), np.atleast_2d(np.asarray(fnr, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.where(1 - delta - fpr > 0, 1 - delta - fpr, np.nan)) - np.log(fnr)
        b = np.log(np.where(1 - delta - fnr > 0, 1 - delta - fnr, np.nan)) - np.log(fpr)
        eps = np.fmax(a, b)
    eps = np.where((fpr == 0) & (fnr == 0), np.inf, np.where((fpr == 0) ^ (fnr == 0), np.nan, eps))
    return np.maximum(np.where(np.isnan(eps), -np.inf, eps).max(1), 0.0)


def logistic_cv_rates(
    u: np.ndarray, r: np.ndarray, folds: int = 2, l2: float = 1.0, iters: int = 30, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out (FPR, FNR) [S, 1] of a per-example 1-D logistic regression on [S, N] statistics
    (L2 ``l2`` on the slope), cross-validated over the runs; all S examples solved at once by Newton."""
    S, N = u.shape
    folds = max(2, min(folds, N))
    x = np.concatenate([u, r], 1)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-12)
    y = np.concatenate([np.ones(N), np.zeros(N)])
    rng = np.random.default_rng(seed)
    fold = np.concatenate([rng.permutation(N) % folds, rng.permutation(N) % folds])
    pred = np.zeros_like(x)
    for f in range(folds):
        tr = fold != f
        xt, yt = x[:, tr], y[tr]
        w, b = np.zeros(S), np.zeros(S)
        for _ in range(iters):
            p = 1 / (1 + np.exp(-(w[:, None] * xt + b[:, None])))
            g_w, g_b = ((p - yt) * xt).sum(1) + l2 * w, (p - yt).sum(1)
            h = p * (1 - p)
            h_ww, h_wb, h_bb = (h * xt * xt).sum(1) + l2, (h * xt).sum(1), h.sum(1) + 1e-9
            det = h_ww * h_bb - h_wb**2
            w, b = w - (h_bb * g_w - h_wb * g_b) / det, b - (h_ww * g_b - h_wb * g_w) / det
        pred[:, ~tr] = (w[:, None] * x[:, ~tr] + b[:, None]) > 0
    return pred[:, N:].mean(1)[:, None], 1 - pred[:, :N].mean(1)[:, None]


def legacy_cv_F(u_loss: np.ndarray, r_loss: np.ndarray, delta: float = 0.01, folds: int = 2, seed: int = 0) -> float:
    """The earlier variant's F from [S, N] per-example losses: buckets 0, ½, …, 6 worth 2/2^digitize(ε)."""
    eps = legacy_epsilon(*logistic_cv_rates(u_loss, r_loss, folds, seed=seed), delta)
    return float(np.mean(2.0 / 2.0 ** np.digitize(eps, np.arange(13) * 0.5)))


# --- the metric ----------------------------------------------------------------------------------
class ChallengeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    N: int = Field(
        4,
        ge=3,
        description="unlearned and retrained runs each (challenge: 512). The score depends "
        "on N: the resolvable ε grows like ln(N − 1)",
    )
    protocol: Literal["reference", "legacy_cv"] = Field(
        "reference",
        description="reference: the NeurIPS 2023 challenge metric (google-deepmind/"
        "unlearning_evaluation); legacy_cv: CE loss + cross-validated logistic attack, "
        "δ = 0.01, fixed buckets (earlier unlearnkit variant, not the challenge score)",
    )
    folds: int = Field(2, ge=2, description="legacy_cv only: cross-validation folds of the logistic attack")
    max_targets: int | None = Field(None, ge=1, description="score at most this many forget samples (seeded)")


@METRICS.register("challenge_score")
class ChallengeScore(Metric):
    """challenge_score = F × RA_u/RA_r × TA_u/TA_r from N unlearned + N retrained runs (higher is better;
    1 = like retraining); challenge_F = F; challenge_N = N; challenge_examples = forget examples scored.
    The score depends on N (see the module docstring): compare scores at equal N only."""

    name = "challenge_score"
    columns = (
        Column(
            "challenge_score",
            "max",
            "NeurIPS 2023 unlearning challenge score (reference rules of "
            "google-deepmind/unlearning_evaluation): F × RA_u/RA_r × TA_u/TA_r; 1 = like retraining. Depends on "
            "N: compare at equal N only.",
            digits=3,
        ),
        Column(
            "challenge_F",
            "max",
            "Forgetting quality F of the challenge score (mean bucket points over the forget examples).",
            digits=3,
        ),
        Column("challenge_N", "info", "Runs per side (unlearned and retrained) behind the challenge score.", digits=0),
        Column("challenge_examples", "info", "Forget examples the challenge score was computed on.", digits=0),
    )
    needs = frozenset({Need.ORIGINAL, Need.RETRAINED_K, Need.UNLEARN, Need.TEST})
    quick_options = {"N": 3, "max_targets": 50}
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

        if o.protocol == "reference":

            def stats(models):
                return np.stack([logit_scaled_confidence(ev.logits(m, "forget")[idx], y) for m in models])  # [N, S]

            f = forget_score(stats(unlearned), stats(retrained))
        else:

            def stats(models):
                return np.stack(
                    [
                        F.cross_entropy(ev.logits(m, "forget")[idx], y, reduction="none").double().numpy()
                        for m in models
                    ],
                    1,
                )  # [S, N]

            f = legacy_cv_F(stats(unlearned), stats(retrained), folds=o.folds, seed=ev.seed)

        def mean_acc(models, part):
            return float(np.mean([accuracy(ev.logits(m, part), ev.labels(part)) for m in models]))

        ratio = (mean_acc(unlearned, "retain") / mean_acc(retrained, "retain")) * (
            mean_acc(unlearned, "test") / mean_acc(retrained, "test")
        )
        return {"challenge_score": f * ratio, "challenge_F": f, "challenge_N": o.N, "challenge_examples": len(idx)}
