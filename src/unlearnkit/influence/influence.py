"""Weighted influence functions for a linear (softmax) head on frozen features.

Qiao, Ding, Cheng, Zhang, "Soft Weighted Machine Unlearning" (arXiv 2505.18783, 2025), §3:
up-weighting sample i by ε_i moves the optimum of Σ_i ℓ_i(θ) + (λ/2)‖θ‖² by

    Δθ(ε) ≈ −H⁻¹ Σ_i ε_i g_i,   g_i = ∇ℓ_i(θ̂),   H = Σ_i ∇²ℓ_i(θ̂) + λI,

and the influence of sample i on a target f is I_f(i) = g_iᵀ H⁻¹ ∇f(θ̂), so Δf ≈ −εᵀ I_f.
Logistic regression is the "head" on the identity features; a network's head sits on
``model.features(x)`` (last-layer influence, as in the paper's neural-network experiments).
All products with the per-sample gradients are matrix-free: G v = rowsum((P − Y) ∘ (Φ Vᵀ)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..errors import UnlearnkitError
from ..models.head import penultimate
from ..passes import record
from ..predict import map_batches
from .hessian import cho_solve, cholesky, linear_head_hessian
from .per_sample import residuals


def linear_head(model: nn.Module) -> tuple[Callable[[torch.Tensor], torch.Tensor], nn.Linear]:
    """(feature function, linear head) of a model: ``model.features`` + ``model.head`` for networks, the modules
    before the last of an ``nn.Sequential`` ending in an ``nn.Linear`` (:func:`~unlearnkit.models.head.penultimate`),
    or the flattened input + the single ``nn.Linear`` of a linear model (e.g. ``logreg``)."""
    found = penultimate(model)
    if found is not None:
        return found
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    n_params = sum(p.numel() for p in model.parameters())
    if len(linears) == 1 and sum(p.numel() for p in linears[0].parameters()) == n_params:
        return (lambda x: x.flatten(1)), linears[0]
    raise UnlearnkitError(
        f"influence needs a linear model, a network with `.features(x)` and a linear `.head`, or an nn.Sequential "
        f"whose last module is an nn.Linear; {type(model).__name__} is none of these (give it `features` and "
        f"`head`, or use the mlp/cnn/resnet18/logreg models)"
    )


def head_params(lin: nn.Linear) -> torch.Tensor:
    """Θ = [W | b] ∈ R^{C×(d+1)} (or W when the head has no bias), float64."""
    W = lin.weight.detach().double()
    return torch.cat([W, lin.bias.detach().double()[:, None]], 1) if lin.bias is not None else W.clone()


@torch.no_grad()
def set_head_params(lin: nn.Linear, theta: torch.Tensor) -> None:
    d = lin.weight.shape[1]
    lin.weight.copy_(theta[:, :d].to(lin.weight))
    if lin.bias is not None:
        lin.bias.copy_(theta[:, d].to(lin.bias))


@torch.no_grad()
def embed(model: nn.Module, dataset, idx: np.ndarray, batch_size: int | None = None) -> torch.Tensor:
    """φ(x) for ``dataset[idx]`` in float64 (a column of ones appended when the head has a bias); batches of
    ``batch_size`` (default :func:`~unlearnkit.predict.inference_batch_size`)."""
    feats, lin = linear_head(model)

    def f(x: torch.Tensor) -> torch.Tensor:
        record(model, len(x))  # a forward pass the model's hook does not see (features, or logreg's input)
        return feats(x).double()

    phi = torch.cat(map_batches(model, dataset, idx, f, batch_size, lin.weight.device))
    return augment(phi, lin.bias is not None)


def augment(phi: torch.Tensor, bias: bool) -> torch.Tensor:
    return torch.cat([phi, phi.new_ones(len(phi), 1)], 1) if bias else phi


@dataclass
class LinearInfluence:
    """Influence machinery of a softmax head Θ ∈ R^{C×d} at θ̂ on training features Φ ∈ R^{n×d}.

    ``lam`` is the L2 strength of the *summed* objective (Σ ℓ_i + λ/2‖Θ‖²); ``smoothing`` the label smoothing of
    its ℓ_i (the train config's: the objective θ̂ minimised), which moves the per-sample gradients, not H."""

    phi: torch.Tensor  # [n, d] float64
    y: torch.Tensor  # [n]
    theta: torch.Tensor  # [C, d] float64
    lam: float
    smoothing: float = 0.0

    def __post_init__(self):
        if self.lam <= 0:
            raise UnlearnkitError(f"influence needs an L2 strength lam > 0 (got {self.lam}) for an invertible Hessian")
        self.probs = torch.softmax(self.phi @ self.theta.T, dim=1)
        self.R = residuals(self.probs, self.y, self.smoothing)  # [n, C]; g_i = R_i ⊗ φ_i
        self.H = linear_head_hessian(self.phi, self.probs, self.lam)
        self.L = cholesky(self.H)

    @classmethod
    def from_model(
        cls, model: nn.Module, dataset, idx: np.ndarray, lam: float, smoothing: float = 0.0
    ) -> "LinearInfluence":
        _, lin = linear_head(model)
        phi = embed(model, dataset, idx)
        y = dataset.y[torch.as_tensor(np.asarray(idx), device=dataset.y.device)].to(phi.device)
        return cls(phi, y, head_params(lin).to(phi.device), lam, smoothing)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.theta.shape)

    def solve(self, v: torch.Tensor) -> torch.Tensor:
        """H⁻¹ v for v shaped like Θ."""
        return cho_solve(self.L, v.reshape(-1).double()).reshape(self.shape)

    def grad_dot(self, v: torch.Tensor) -> torch.Tensor:
        """(g_iᵀ v)_i for v shaped like Θ, without forming the n×P gradient matrix."""
        return (self.R * (self.phi @ v.T)).sum(1)

    def influence(self, grad_f: torch.Tensor) -> torch.Tensor:
        """I_f(i) = g_iᵀ H⁻¹ ∇f for every training sample (Tensor[n])."""
        return self.grad_dot(self.solve(grad_f))

    def weighted_grad_sum(self, eps: torch.Tensor) -> torch.Tensor:
        """Σ_i ε_i g_i (shaped like Θ)."""
        return (eps.double()[:, None] * self.R).T @ self.phi

    def newton_step(self, eps: torch.Tensor) -> torch.Tensor:
        """Δθ = −H⁻¹ Σ_i ε_i g_i (the weighted influence update; ε_i = −1 removes sample i)."""
        return -self.solve(self.weighted_grad_sum(eps))

    def loss_grad(self, phi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """∇_Θ of the summed CE on (φ, y) at θ̂ (e.g. the utility target on validation)."""
        p = torch.softmax(phi @ self.theta.T, dim=1)
        return residuals(p, y).T @ phi
