"""Vectorised per-sample gradients (Koh & Liang 2017; Qiao et al. 2025, "Soft Weighted Machine
Unlearning", §"Weighted influence function"): closed form for a linear (softmax) head, and
``torch.func.vmap(grad)`` for any module. Never a Python loop over samples."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap


def residuals(probs: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """R = P − q: ∂CE_i/∂z_i for softmax logits z_i (Tensor[n, C]), q = onehot(y), or with label ``smoothing`` s
    (torch's) q = (1 − s)·onehot(y) + s/C; the Hessian in z, diag(p) − ppᵀ, does not depend on q."""
    k = probs.shape[1]
    target = F.one_hot(y.long(), k).to(probs.dtype)
    if smoothing:
        target = (1.0 - smoothing) * target + smoothing / k
    return probs - target


def linear_head_grads(phi: torch.Tensor, probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """g_i = (p_i − e_{y_i}) ⊗ φ_i for a softmax head z = Θ φ (Θ: [C, d]); returns Tensor[n, C, d].

    For the binary case with a single logit this is the spec's g_i = (p_i − y_i) x_i per class row.
    Materialises n·C·d numbers: use :class:`~unlearnkit.influence.influence.LinearInfluence`'s
    matrix-free products on large sets."""
    return residuals(probs, y)[:, :, None] * phi[:, None, :]


def per_sample_grads(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    params: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """∇_θ ℓ(θ; x_i, y_i) for every i at once via ``torch.func.vmap(grad)``.

    ``params`` (default: all trainable parameters) selects what to differentiate; the others stay
    fixed. Returns ``{name: Tensor[n, *param.shape]}``. The model should be in eval mode (BatchNorm
    running statistics; per-sample gradients of batch statistics are not defined)."""
    loss_fn = loss_fn or (lambda logits, t: F.cross_entropy(logits, t))
    if params is None:
        params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    fixed = {k: v.detach() for k, v in model.named_parameters() if k not in params}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def one(p, xi, yi):
        logits = functional_call(model, {**fixed, **p, **buffers}, (xi.unsqueeze(0),))
        return loss_fn(logits, yi.unsqueeze(0))

    return vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)


def flatten_grads(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    """{name: Tensor[n, ...]} → Tensor[n, P] (parameters in dict order)."""
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads.values()], dim=1)
