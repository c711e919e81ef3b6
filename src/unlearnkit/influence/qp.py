"""Soft weights from influence vectors: the minimum-norm QP and its ablations.

Qiao et al. 2025, "Soft Weighted Machine Unlearning", §4 (weights from a convex QP):

    minimise ‖ε‖²  s.t.  aᵀε = f0  (predicted target change −εᵀa = −f0: target → 0)
                         bᵀε = 0   (no predicted utility change)

with a = I_f (target influence) and b = I_u (utility influence). The solution is the minimum-norm
vector in span{a, b}; the general right-hand side c = (c_a, c_b) gives ε = Aᵀ(AAᵀ)⁻¹c, A = [a; b].
Schemes are registered by name; each maps (a, b, f0, c_b, options) → ε.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..errors import UnlearnkitError
from ..registry import Registry

SCHEMES: Registry = Registry("soft-weight scheme")

COLLINEAR_TOL = 1e-10


def _np(v) -> np.ndarray:
    return v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)


@SCHEMES.register("qp")
def qp_weights(a, b, f0: float, c_b: float = 0.0, **_) -> np.ndarray:
    """Closed form ε = [(‖b‖² c_a − (aᵀb) c_b) a + (‖a‖² c_b − (aᵀb) c_a) b] / (‖a‖²‖b‖² − (aᵀb)²), c_a = f0.

    With c_b = 0 this is the spec's ε = f0 (‖b‖² a − (aᵀb) b) / (‖a‖²‖b‖² − (aᵀb)²). f0 is used
    *signed*: the reference code uses |f0|, which moves the target the wrong way when the gap is
    negative (−εᵀa = −|f0| ≠ −f0). If a and b are (numerically) collinear — sin²∠(a, b) < 1e-10 —
    the utility constraint cannot be met independently; we warn and fall back to ``only_target``."""
    a, b = _np(a), _np(b)
    aa, bb, ab = a @ a, b @ b, a @ b
    if aa == 0:
        raise UnlearnkitError(
            "the target influence vector is zero: no training sample moves the target; "
            "check the validation split and the group attribute"
        )
    det = aa * bb - ab * ab
    if bb == 0 or det < COLLINEAR_TOL * aa * bb:
        warnings.warn(
            "target and utility influence are collinear; soft weights fall back to scheme 'only_target'",
            RuntimeWarning,
            stacklevel=2,
        )
        return only_target_weights(a, b, f0)
    return ((bb * f0 - ab * c_b) * a + (aa * c_b - ab * f0) * b) / det


@SCHEMES.register("only_target")
def only_target_weights(a, b, f0: float, c_b: float = 0.0, **_) -> np.ndarray:
    """ε = f0 · a / ‖a‖² (minimum norm with the target constraint only; ablation)."""
    a = _np(a)
    return f0 * a / (a @ a)


@SCHEMES.register("hard")
def hard_weights(a, b, f0: float, c_b: float = 0.0, k: float = 0.2, **_) -> np.ndarray:
    """ε_i = −1 on the ⌈k·n⌉ samples whose removal lowers the target most (most negative I_f; we
    rank by sign(f0)·I_f so a negative gap is also moved toward 0), 0 elsewhere (the baseline)."""
    if not 0 < k < 1:
        raise UnlearnkitError(f"hard scheme: k must be in (0, 1), got {k}")
    a = _np(a) * (1.0 if f0 >= 0 else -1.0)
    m = max(1, int(np.ceil(k * len(a))))
    eps = np.zeros_like(a)
    eps[np.argsort(a, kind="stable")[:m]] = -1.0
    return eps


@SCHEMES.register("bounded")
def bounded_weights(a, b, f0: float, c_b: float = 0.0, lower: float = -1.0, upper: float = 1.0, **_) -> np.ndarray:
    """The QP with a box lower ≤ ε_i ≤ upper (extension; the reference has no box), via its concave
    2-variable dual max_ν νᵀc − Σ_i [½ e_i² − e_i (Aᵀν)_i], e = clip(Aᵀν, lower, upper), solved with
    scipy L-BFGS-B; raises when the box makes the constraints infeasible."""
    from scipy.optimize import minimize

    if not lower < 0 < upper:
        raise UnlearnkitError(f"bounded scheme needs lower < 0 < upper, got [{lower}, {upper}]")
    A = np.stack([_np(a), _np(b)])
    c = np.array([f0, c_b], dtype=np.float64)
    scale = np.linalg.norm(A, axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    As, cs = A / scale, c / scale[:, 0]

    def neg_dual(nu):
        e = np.clip(As.T @ nu, lower, upper)
        val = 0.5 * e @ e - e @ (As.T @ nu) + nu @ cs
        return -val, -(cs - As @ e)

    res = minimize(neg_dual, np.zeros(2), jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-12})
    eps = np.clip(As.T @ res.x, lower, upper)
    resid = np.abs(A @ eps - c).max() / max(np.abs(c).max(), 1e-12)
    if resid > 1e-4:
        raise UnlearnkitError(
            f"bounded soft weights: the box [{lower}, {upper}] cannot meet the constraints "
            f"(relative residual {resid:.2e}); widen the bounds or use scheme 'qp'"
        )
    return eps
