"""Exact Hessians and Cholesky solves (Qiao et al. 2025, §"Weighted influence function":
H = Σ_i ∇²ℓ_i(θ̂) + λI, solved with Cholesky)."""

from __future__ import annotations

import warnings

import torch

from ..errors import UnlearnkitError


def linear_head_hessian(
    phi: torch.Tensor, probs: torch.Tensor, lam: float, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """H = Σ_i w_i (diag(p_i) − p_i p_iᵀ) ⊗ φ_i φ_iᵀ + λI for the summed softmax CE of a linear head
    z = Θ φ with Θ ∈ R^{C×d}, flattened row-major (class-major): index c·d + j.

    Binary logistic regression with two softmax logits is the C = 2 case (the Hessian has the
    shift direction Θ_0 = Θ_1 in its null space; λ > 0 makes it positive definite)."""
    n, d = phi.shape
    C = probs.shape[1]
    w = torch.ones(n, dtype=phi.dtype, device=phi.device) if weights is None else weights.to(phi.dtype)
    A = torch.diag_embed(probs) - probs[:, :, None] * probs[:, None, :]  # [n, C, C]
    A = A * w[:, None, None]
    H = phi.new_zeros(C, d, C, d)
    for c in range(C):  # C² weighted Gram blocks H[c, :, k, :] = Σ_n A[n, c, k] φ_n φ_nᵀ (loop over classes)
        for k in range(c, C):
            H[c, :, k, :] = phi.T @ (A[:, c, k, None] * phi)
            H[k, :, c, :] = H[c, :, k, :].T
    return H.reshape(C * d, C * d) + lam * torch.eye(C * d, dtype=phi.dtype, device=phi.device)


def cholesky(H: torch.Tensor, max_tries: int = 5) -> torch.Tensor:
    """Lower Cholesky factor of a symmetric positive-definite H; adds growing jitter (with a
    warning) when H is numerically indefinite, and raises after ``max_tries``."""
    H = 0.5 * (H + H.T)
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) == 0:
        return L
    scale = float(H.diagonal().abs().mean()) or 1.0
    for t in range(max_tries):
        jitter = scale * 10.0 ** (t - 10)
        L, info = torch.linalg.cholesky_ex(H + jitter * torch.eye(len(H), dtype=H.dtype, device=H.device))
        if int(info) == 0:
            warnings.warn(
                f"Hessian not positive definite; added jitter {jitter:.2e} to the diagonal",
                RuntimeWarning,
                stacklevel=2,
            )
            return L
    raise UnlearnkitError("the Hessian is not positive definite even with jitter; raise the L2 strength `lam`")


def cho_solve(L: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """H⁻¹ v from the Cholesky factor L of H (v: Tensor[P] or Tensor[P, k])."""
    vv = v.unsqueeze(1) if v.dim() == 1 else v
    out = torch.cholesky_solve(vv, L)
    return out.squeeze(1) if v.dim() == 1 else out
