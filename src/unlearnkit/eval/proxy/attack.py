"""The proxy's membership attack: τ of "member ⇔ confidence ≥ τ", read off Avg.Gap's own RBF-SVC attack
(``svc``) or the balanced optimum (``balanced``), and its refit for forgotten classes."""

from __future__ import annotations

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ..mia import fit_attack


from .options import ProxyOptions


def threshold_attack(member: np.ndarray, nonmember: np.ndarray) -> float:
    """τ maximising the balanced accuracy of "member ⇔ score ≥ τ" (ties: the smallest τ), on every sample."""
    member, nonmember = np.asarray(member, float), np.asarray(nonmember, float)
    cands = np.unique(np.concatenate([member, nonmember, [np.inf]]))
    ms, ns = np.sort(member), np.sort(nonmember)
    tpr = 1.0 - np.searchsorted(ms, cands, side="left") / len(ms)  # P(member ≥ τ)
    tnr = np.searchsorted(ns, cands, side="left") / len(ns)  # P(non-member < τ)
    return float(cands[int(np.argmax(tpr + tnr))])


SVC_GRID = 257  # confidences in [0, 1] at which the SVC's decision function is scanned for its first member


def svc_decision(clf, x: np.ndarray) -> np.ndarray:
    """A fitted one-feature RBF :class:`~sklearn.svm.SVC`'s ``decision_function`` at the points ``x``
    (Σ_i α_i·exp(−γ(x − s_i)²) + b, vectorised: sklearn's costs ~40 µs a point here)."""
    gamma = 1.0 / clf.n_features_in_ if clf.gamma == "auto" else float(clf.gamma)  # fit_attack's is "auto"
    s = clf.support_vectors_[:, 0]
    k = np.exp(-gamma * (np.asarray(x, float)[:, None] - s[None, :]) ** 2)
    return k @ clf.dual_coef_[0] + clf.intercept_[0]


def svc_threshold(member: np.ndarray, nonmember: np.ndarray, seed: int = 0, max_samples: int | None = None) -> float:
    """τ of "member ⇔ confidence ≥ τ" read off Avg.Gap's own attack: SalUn's RBF-SVC
    (:func:`~unlearnkit.eval.mia.fit_attack`, balanced subsamples with ``seed``, at most ``max_samples`` a
    side) fitted on these one-feature confidences; τ is the lowest confidence in [0, 1] it calls a
    member, where its decision function first turns positive (scanned on a 257-point grid, then found
    to 1e-12 by Brent's method: with gamma = 1 the RBF terms vary on a scale of 1, so the function cannot
    turn between grid points). 0 where it calls a confidence of 0 a member; just above 1 where it calls
    all of [0, 1] non-member.

    Where members and non-members are told apart by confidence (a model that fits its training data)
    the SVC's non-member region is the one interval [0, τ) and this is exactly its rule. Where they are
    not (a model that generalises as well as it fits: the two distributions overlap), the SVC is near
    chance and its regions arbitrary — its decision at confidence 0.95 flipped sign between fits on
    100, 300 and 1000 samples of a Fashion-MNIST MLP — and the monotone reading keeps the low-confidence
    end, the only part with a meaning."""
    clf = fit_attack(np.asarray(member, float)[:, None], np.asarray(nonmember, float)[:, None], seed, max_samples)
    xs = np.linspace(0.0, 1.0, SVC_GRID)
    dec = svc_decision(clf, xs)  # > 0: member (sklearn's predict: classes_[dec > 0])
    inside = np.flatnonzero(dec > 0)
    if len(inside) == 0:
        return float(np.nextafter(1.0, 2.0))
    k = int(inside[0])
    if k == 0:
        return 0.0
    f = lambda c: float(svc_decision(clf, np.array([c]))[0])  # noqa: E731
    # a zero at a grid point itself: a 1-row product can differ from the grid's in the last bit
    if f(xs[k - 1]) >= 0:
        return float(xs[k - 1])
    if f(xs[k]) <= 0:
        return float(xs[k])
    return float(brentq(f, xs[k - 1], xs[k], xtol=1e-12))


# proxy.attack → τ from (member, nonmember, seed, max_samples); the balanced optimum reads every sample
ATTACKS = {
    "svc": svc_threshold,
    "balanced": lambda member, nonmember, seed, max_samples: threshold_attack(member, nonmember),
}


def gone_attack(
    member: np.ndarray, nonmember: np.ndarray, train_labels: np.ndarray, gone: np.ndarray, o: ProxyOptions
) -> float:
    """τ for D_f's gone part where θ_o's own attack calls every confidence a member (τ = 0: θ_o does not tell its
    training data from held-out data, e.g. a model trained briefly). Avg.Gap's attack on a retrained model is
    fitted on a test set that holds the gone classes too, at confidence ≈ 0 (θ_r never predicts a class it never
    saw), and calls that region non-member: so here the held-out non-members get the gone classes' share of the
    training data added at confidence 0. With τ = 0 the gone part's MIA term read |0 − 100| = 100 for every
    model — a constant 25 points of proxy gap (a weak Fashion-MNIST CNN, class 3: proxy gap 25.5 after rl
    removed the class) — and MIA could not tell a removal from none."""
    n_gone = int(np.isin(train_labels, gone).sum())
    extra = max(1, round(len(nonmember) * n_gone / max(len(train_labels) - n_gone, 1)))
    return ATTACKS[o.attack](member, np.concatenate([nonmember, np.zeros(extra)]), o.seed, o.attack_samples)
