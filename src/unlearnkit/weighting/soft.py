"""``soft``: soft-weighted unlearning for fairness and robustness (static weights, computed once).

Qiao, Ding, Cheng, Zhang, "Soft Weighted Machine Unlearning" (arXiv 2505.18783, 2025; AAAI-26
"Beyond Binary Erasure"), §3–4. Each training sample i gets a weight change ε_i from the weighted
influence function on the validation split (``split.unseen``):

    a = I_f (target: dp / eop / robust, eval/fairness.py),  b = I_u (utility: summed validation CE),
    ε = argmin ‖ε‖²  s.t.  aᵀε = f0,  bᵀε = 0         (scheme ``qp``, closed form, *signed* f0)

with ablations ``only_target``, ``hard`` (ε = −1 on the k·n most harmful samples) and ``bounded``
(box [lower, upper], scipy; an extension). Influence is last-layer for networks (the head on
``model.features``), whole-model for ``logreg``.

How the weights drive methods (the split has train/forget/retain; correction has no deletion request):

- ``if`` reads ε over all of D_train and takes θ − H⁻¹ Σ ε_i g_i;
- gradient methods ask per term: ``retain`` → max(1 + ε_i, 0) (``ft``: (1+ε_i)ℓ_i clipped at 0),
  ``forget`` → max(−ε_i, 0) (``ga``/``neggrad_plus``: ascent on down-weighted samples — the spec's
  *reconstruction* for GA). Losses are divided by the batch size (``normalize = False``).
- After solving, ``driving_split`` gives the method a narrowed split (never the run's): D_f = the
  samples whose weight 1 + ε_i is ≤ 0 (the argmin sample if none): D_r then holds every sample
  with positive weight, so ``ft`` fine-tunes on Σ (1+ε_i)₊ ℓ_i over all of D_train.
- On a ``correction`` split (scenario below) the split's forget set is a stand-in and is ignored.
  On any other split the requested deletion is kept: ε_i = −1 on D_f is fixed and the QP solves for
  the rest with the shifted right-hand side (aᵀε = f0 − a_fᵀε_f, bᵀε = −b_fᵀε_f) — an extension.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from ..data.split import Split
from ..errors import UnlearnkitError
from ..influence import SCHEMES, LinearInfluence, embed, linear_head
from ..objectives import CORRECTION_TARGETS, reflect, target_value_and_grad
from ..training import label_smoothing_of
from .base import WEIGHTINGS, Weighting


class SoftOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: Literal["dp", "eop", "robust"] = Field(
        "dp", description="what the correction drives toward 0 (dp, eop) or down (robust: adversarial loss)"
    )
    scheme: Literal["qp", "only_target", "hard", "bounded"] = Field("qp", description="how ε is obtained from a, b")
    k: float = Field(0.2, gt=0, lt=1, description="hard: fraction of D_train removed (the spec's baseline k)")
    lam: float | None = Field(
        None,
        gt=0,
        description="L2 of the summed objective Σℓ_i + λ/2‖θ‖² in H; None → "
        "n_train × the training weight_decay (what θ_o was trained with), at least 1e-4",
    )
    lower: float = Field(-1.0, lt=0, description="bounded: lower box bound on ε")
    upper: float = Field(1.0, gt=0, description="bounded: upper box bound on ε")
    exclude_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="seeded fraction of D_train kept at ε = 0 (the "
        "reference trains the extractor on such a slice and reweights only the rest)",
    )
    adv_factor: float = Field(1.3, gt=1, description="robust: reflection factor of the adversarial validation set")


def l2_strength(lam: float | None, train_config, n: int) -> float:
    """λ for the summed objective: explicit, else n · weight_decay of the training config (≥ 1e-4)."""
    if lam is not None:
        return float(lam)
    wd = float(getattr(train_config, "weight_decay", 0.0) or 0.0)
    return max(n * wd, 1e-4)


@WEIGHTINGS.register("soft")
class Soft(Weighting):
    """Static soft weights ε from a weighted influence function and a closed-form QP (Qiao et al. 2025)."""

    name = "soft"
    requires_unseen = True
    unseen_use = "to measure the fairness or robustness target"
    requires_binary_group = True  # it corrects a binary classifier w.r.t. a sensitive group
    terms = frozenset({"forget", "retain", "influence"})
    Options = SoftOptions
    normalize = False

    def prepare(self, ctx) -> None:
        o = self.options
        t0 = time.perf_counter()
        split = ctx.split
        if unmet := self.unmet(ctx.dataset, split):
            raise UnlearnkitError(unmet)
        train = split.train
        lam = l2_strength(o.lam, ctx.train_config, len(train))
        inf = LinearInfluence.from_model(ctx.original, ctx.dataset, train, lam, label_smoothing_of(ctx.train_config))
        bias = linear_head(ctx.original)[1].bias is not None
        val = split.unseen
        phi_v = embed(ctx.original, ctx.dataset, val)
        y_v = ctx.dataset.y[torch.as_tensor(val, device=ctx.dataset.y.device)].to(phi_v.device)
        g_v = ctx.dataset.group[torch.as_tensor(val, device=ctx.dataset.group.device)].to(phi_v.device)
        target = CORRECTION_TARGETS.get(o.target)()
        phi_t = reflect(phi_v, inf.theta, bias, o.adv_factor) if target.adversarial else phi_v
        f0, grad_f = target_value_and_grad(target, phi_t, y_v, g_v, inf.theta)
        a = inf.influence(grad_f).cpu().numpy()
        b = inf.influence(inf.loss_grad(phi_v, y_v)).cpu().numpy()

        eps = np.zeros(len(train))
        free = np.ones(len(train), dtype=bool)
        correction = split.purpose == "correction"
        if not correction:
            fixed = np.isin(train, split.forget)
            eps[fixed], free[fixed] = -1.0, False
        if o.exclude_fraction > 0:
            rng = np.random.default_rng(ctx.seed)
            free[rng.choice(len(train), int(o.exclude_fraction * len(train)), replace=False)] = False
        c_a, c_b = f0 - a[~free] @ eps[~free], -(b[~free] @ eps[~free])
        scheme = SCHEMES.get(o.scheme)
        eps[free] = scheme(a[free], b[free], c_a, c_b, k=o.k, lower=o.lower, upper=o.upper)

        self.influence, self.eps_train, self.train = inf, eps, train
        full = torch.zeros(len(ctx.dataset), dtype=torch.float32)
        full[torch.as_tensor(train)] = torch.as_tensor(eps, dtype=torch.float32)
        self.eps_full = full.to(ctx.device)
        zero = train[1.0 + eps <= 0]
        if len(zero) == 0:
            zero = train[[int(np.argmin(eps))]]
        self.narrowed = replace_forget(split, zero)
        ctx.record(
            soft_target=o.target,
            soft_scheme=o.scheme,
            soft_f0=f0,
            soft_lam=lam,
            soft_predicted_delta=float(-(eps @ a)),
            soft_predicted_utility=float(-(eps @ b)),
            soft_eps_min=float(eps.min()),
            soft_eps_max=float(eps.max()),
            soft_frac_negative_weight=float(np.mean(1.0 + eps < 0)),
            soft_n_zero_weight=int(len(zero)),
            soft_correction_split=correction,
            soft_prepare_s=time.perf_counter() - t0,
        )

    @property
    def label(self) -> str:
        return self.options.scheme

    @property
    def correction_target(self) -> str:
        return self.options.target

    def driving_split(self, ctx) -> Split:
        """D_f = the samples whose weight 1 + ε_i is ≤ 0 (so D_r holds every positively weighted sample)."""
        return self.narrowed

    def influence_weights(self, ctx) -> tuple[LinearInfluence, np.ndarray]:
        """The influence object at θ_o and ε over ``split.train`` (for the ``if`` method)."""
        return self.influence, self.eps_train

    def weights(self, ctx, batch, logits, step, term):
        e = self.eps_full[batch.idx]
        return (1.0 + e).clamp_min(0.0) if term == "retain" else (-e).clamp_min(0.0)


def replace_forget(split: Split, forget: np.ndarray) -> Split:
    """The same split with another forget set (train/test/unseen unchanged)."""
    return Split(
        split.train, split.test, split.unseen, forget, {**split.info, "forget_from": "soft weights"}, split.purpose
    )
