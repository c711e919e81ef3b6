"""``fisher``: one-shot unlearning from a diagonal Fisher on D_r.

- ``variant="forgetting"`` — Fisher forgetting (Golatkar et al., CVPR 2020, "Eternal
  Sunshine of the Spotless Net", §4 Eq. 9 ff.): θ ← θ_o + (λσ_h²)^{1/4} F_r^{-1/4} ⊙ n, n ~ N(0, I).
  Weights the retain set barely uses (small F_r, e.g. a forgotten class's head row) get large noise,
  weights D_r relies on get little. ``noise_scale`` is (λσ_h²)^{1/4}; the std is capped at ``max_std``
  (the reference code clamps the variance likewise). Golatkar use the *true* Fisher
  E_{y~p_θ}[(∇ log p)²] (``fisher="true"``); the default is the empirical one (true labels, C× cheaper).
- ``variant="influence"`` (default) — influence unlearning (IU; Koh & Liang 2017 as used by Jia et al.,
  NeurIPS 2023, with their WoodFisher Hessian replaced by the *diagonal* Fisher — our simplification):
  one Newton step on the retain loss, which at a stationary θ_o of the full loss is
  θ ← θ_o + s·(n_f/n_r)·(F_r + damping)^{-1} ⊙ ∇L_f(θ_o).

  Reference (OPTML-Group/Unlearn-Sparse ``unlearn/Wfisher.py``, used by Jia et al.): the step is the
  WoodFisher inverse-Hessian-vector product scaled by a hand-tuned ``alpha`` per dataset/scenario.
  Departure: with ``step=None`` (default) s is *calibrated*, not fixed — the largest s (doubling from
  ``step_min``, then 4 geometric bisections; stops at the first failure) with
  RA(s) + forget_credit·(FA(θ_o) − FA(s)) ≥ RA(θ_o) − retain_drop, RA/FA the accuracies on D_r/D_f
  (≤ ``calibration_samples`` seeded samples each; training data only, never θ_r): D_r accuracy may
  fall by ``retain_drop`` points, plus ``forget_credit`` points per point of D_f accuracy removed.
  Why: ∇L_f(θ_o) ∝ (1 − p_θo(y|x)) on the well-fitted D_f, which varies by orders of magnitude
  between classes, so a fixed s tuned on class 3 (s = 0.3) left class 7 at FA 86% and class 0 at FA
  98%, while s = 1 costs RA 10–13 points on classes 3 and 9 (measured on digits/MLP: the s that removes
  a class spans 0.15–1 by class). On random forgetting FA and RA fall together, so the credit is small
  and the step stops near FA ≈ held-out accuracy; on a class FA falls ~50× faster than RA and the
  credit lets the step finish the class (RA bound alone: class 0 FA 28% at retain_drop 1).

Under ``stop="auto"`` the step (given or calibrated) is the centre of the proxy's strength search along
the same direction (× ¼ … 4, θ_o a candidate; one Fisher and one direction for every candidate); for
``forgetting`` the noise scale along one noise draw. ``stop="none"`` uses the step as above.

Gradient-free (no per-sample loss is optimised), so it takes no weighting or target.
:func:`diagonal_fisher` (per-sample gradients with ``torch.func``) is shared with ``ssd``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torch.func import functional_call, grad, vmap

from ..training import batches
from .base import METHODS, Method, MethodOptions, StrengthPath


def _per_sample_grads(model: nn.Module, params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> dict:
    def loss_one(p, xi, yi):
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    return vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)


FisherKind = Literal["true", "empirical", "batch", "expected_batch"]


def reference_batch_sizes(n: int, batch_size: int) -> list[int]:
    """Sizes of an unshuffled ``DataLoader(batch_size)`` over n samples (the last batch may be short)."""
    return [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])


def diagonal_fisher(
    model: nn.Module, dataset, indices, kind: FisherKind = "true", batch_size: int = 128, chunk_size: int | None = None
) -> dict[str, torch.Tensor]:
    """Diagonal Fisher {parameter name: tensor} of the CE over ``dataset[indices]`` at ``model`` (eval mode).

    ``true``: mean_i Σ_c p_θ(c|x_i) g_ic² (g_ic = ∇ CE(x_i, c)); ``empirical``: mean_i g_{i,y_i}²;
    ``batch``: mean over batches of ``batch_size`` (in the order of ``indices``) of the squared
    *batch-mean* gradient — SSD's reference ``calc_importance``; it depends on which samples share a
    batch, i.e. on the order of ``indices``. ``expected_batch``: the expectation of ``batch`` over a
    uniformly random order, in closed form from per-sample gradients: a batch of b of the n samples
    drawn without replacement has E[ḡ_B²] = μ² + σ²·(n − b)/(b·(n − 1)) (μ, σ² the per-sample mean and
    population variance of g_{i,y_i}), averaged over the batch sizes ``batch``'s loader would make.
    It keeps ``batch``'s scale (μ² plus a variance term shrinking with b) but is order-invariant.

    Per-sample kinds are computed in vmap chunks of ``chunk_size`` (default ``batch_size``), which
    changes nothing but memory.
    """
    n = len(indices)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    acc = {name: torch.zeros_like(p) for name, p in params.items()}
    first = {name: torch.zeros_like(p) for name, p in params.items()}  # Σ_i g_i (expected_batch)
    n_batches = 0
    chunk = batch_size if kind == "batch" else (chunk_size or batch_size)
    for idx in batches(indices, chunk, torch.Generator(), shuffle=False):
        idx = idx.to(device)
        x, y = dataset.inputs(idx), dataset.y[idx]
        if kind == "batch":
            live = [p for p in model.parameters() if p.requires_grad]
            loss = F.cross_entropy(model(x), y)
            gs = torch.autograd.grad(loss, live, allow_unused=True)
            for name, g in zip(params, gs):
                if g is not None:
                    acc[name] += g.detach() ** 2
        elif kind in ("empirical", "expected_batch"):
            for name, g in _per_sample_grads(model, params, buffers, x, y).items():
                acc[name] += (g**2).sum(0)
                first[name] += g.sum(0)
        else:
            c = dataset.num_classes
            with torch.no_grad():
                prob = F.softmax(model(x), dim=1)  # [B, C]
            xs = x.repeat_interleave(c, dim=0)
            ys = torch.arange(c, device=device).repeat(len(idx))
            w = prob.reshape(-1)
            for name, g in _per_sample_grads(model, params, buffers, xs, ys).items():
                acc[name] += torch.einsum("k,k...->...", w, g**2)
        n_batches += 1
    model.train(was_training)
    if kind == "batch":
        return {name: a / n_batches for name, a in acc.items()}
    if kind == "expected_batch":
        sizes = reference_batch_sizes(n, batch_size)
        shrink = sum((n - b) / b for b in sizes) / (len(sizes) * (n - 1)) if n > 1 else 0.0
        out = {}
        for name in acc:
            mean_sq = (first[name] / n) ** 2
            var = (acc[name] / n - mean_sq).clamp_min(0.0)
            out[name] = mean_sq + shrink * var
        return out
    return {name: a / n for name, a in acc.items()}


class FisherOptions(MethodOptions):
    """Defaults measured on digits/MLP with ``benchmarks/baselines.py`` (3 seeds; Avg.Gap to θ_r on
    random 10% / class [0] / [3] / [7] / [9]). ``influence``, calibrated step (retain_drop 1,
    forget_credit 0.02, damping 1e-4, empirical Fisher): 1.37 / 1.33 / 1.07 / 1.28 / 1.22 (class FA 0%,
    RA ≥ 97.2%) vs θ_o's 1.99 / 52.4 / 52.4 / 52.3 / 52.1. The old fixed step 0.3 (damping 1e-2), tuned
    on class 3 only: 1.21 / 50.1 / 2.80 / 41.5 / 0.36 (classes 0 and 7 not forgotten). Swept, without
    credit: retain_drop {0.5, 1, 1.25, 1.5, 2, 4} × damping {1e-4, 1e-3, 1e-2} × Fisher kind — no RA
    bound alone serves both (drop 1: class 0 FA 28%; drop 1.5: random 1.94–2.05; drop 2: random 2.2,
    worse than θ_o); with credit {0.02, 0.04} × drop {1, 1.25}: 0.04 costs RA 5 points on classes,
    (0.02, 1.25) gives random 1.81. Smaller damping makes the step more selective. A fixed ``step``
    still works (then keep damping ≥ 3e-3, or the tiny-Fisher weights explode). ``forgetting`` at its
    best (noise_scale 0.01, max_std 0.03): 1.63 / – / 51.6 / – / – — noise large enough to remove a
    class also wrecks RA, hence not the default."""

    variant: Literal["forgetting", "influence"] = "influence"
    fisher: Literal["true", "empirical"] = Field(
        "empirical", description="Fisher of D_r: expected over p_θ or true labels"
    )
    step: float | None = Field(
        None,
        gt=0,
        description="influence: multiplier s on the diagonal Newton step; "
        "None: the largest s keeping retain accuracy within retain_drop of θ_o's",
    )
    retain_drop: float = Field(1.0, ge=0, description="influence, step=None: allowed drop of D_r accuracy (points)")
    forget_credit: float = Field(
        0.02,
        ge=0,
        description="influence, step=None: each point of D_f accuracy "
        "removed allows this many more points of D_r accuracy drop",
    )
    step_min: float = Field(1e-4, gt=0, description="influence, step=None: first step tried (then doubled)")
    step_max: float = Field(100.0, gt=0, description="influence, step=None: largest step tried")
    bisections: int = Field(4, ge=0, description="influence, step=None: geometric bisections after the doubling")
    calibration_samples: int = Field(
        2048, ge=1, description="influence, step=None: D_r samples (seeded) whose accuracy is checked"
    )
    damping: float = Field(
        1e-4, gt=0, description="added to F_r before the power/inverse (with a fixed `step` use ≥ 3e-3)"
    )
    noise_scale: float = Field(0.01, gt=0, description="forgetting: (λσ_h²)^{1/4}")
    max_std: float = Field(0.03, gt=0, description="forgetting: cap on the per-weight noise std")
    batch_size: int = Field(128, ge=1, description="samples per vmap chunk of per-sample gradients")


def retain_accuracy(model: nn.Module, dataset, indices, batch_size: int = 1024) -> float:
    """Accuracy (%) of ``model`` (eval mode) on ``dataset[indices]``."""
    correct = 0
    with torch.no_grad():
        for idx in batches(indices, batch_size, torch.Generator(), shuffle=False):
            idx = idx.to(dataset.y.device)
            correct += int((model(dataset.inputs(idx)).argmax(1) == dataset.y[idx]).sum())
    return 100.0 * correct / max(len(indices), 1)


def calibrate_step(accuracy_at, floor: float, start: float, limit: float, bisections: int) -> float:
    """The largest step s in [start, limit] with ``accuracy_at(s) ≥ floor``: double s from ``start`` until
    the first failure, then bisect (geometrically) between the last pass and it. Stops at the first
    failure, so a collapse is never stepped over. Returns 0 when even ``start`` fails."""
    if accuracy_at(start) < floor:
        return 0.0
    good, bad = start, None
    while good * 2 <= limit:
        if accuracy_at(good * 2) < floor:
            bad = good * 2
            break
        good *= 2
    if bad is None:
        return good
    for _ in range(bisections):
        mid = (good * bad) ** 0.5
        good, bad = (mid, bad) if accuracy_at(mid) >= floor else (good, mid)
    return good


@METHODS.register("fisher")
class Fisher(Method):
    """One-shot Fisher forgetting (noise ∝ F_r^{-1/4}) or diagonal-Fisher influence unlearning."""

    name = "fisher"
    Options = FisherOptions

    #: stop="auto": the step along the (fixed) Newton direction — or the noise scale along a fixed noise
    #: draw — × {¼ … 4} around the configured or calibrated value, scored by the proxy
    strength_option = "step"

    def unlearn(self, ctx) -> nn.Module:
        centre, place, stds = self._path(ctx)
        model = place(centre)
        if stds is not None:  # forgetting: how much noise went where
            s = torch.cat(stds(centre))
            ctx.record(
                noise_std_mean=float(s.mean()), noise_std_capped=float((s >= ctx.options.max_std).float().mean())
            )
        return model

    def strength_path(self, ctx):
        """One Fisher (and one direction or noise draw) for every strength the search tries; the centre is
        ``step`` (calibrated when None) for ``influence``, ``noise_scale`` for ``forgetting``."""
        centre, place, stds = self._path(ctx)
        return StrengthPath("step" if stds is None else "noise_scale", centre, place)

    def _path(self, ctx):
        o = ctx.options
        fisher = diagonal_fisher(ctx.model, ctx.dataset, ctx.split.retain, o.fisher, o.batch_size)
        model = ctx.model.eval()
        params = {name: p for name, p in model.named_parameters() if name in fisher}
        base = {name: p.detach().clone() for name, p in params.items()}
        if o.variant == "influence":
            g_f = self._forget_gradient(ctx)
            ratio = len(ctx.split.forget) / len(ctx.split.retain)
            direction = {name: ratio * g_f[name] / (fisher[name] + o.damping) for name in params}

            def place(step: float) -> nn.Module:
                with torch.no_grad():
                    for name, p in params.items():
                        p.copy_(base[name] + step * direction[name])
                return model

            step = o.step if o.step is not None else self._calibrate(ctx, model, place)
            ctx.record(step=step, calibrated=o.step is None)
            return step, place, None
        gen = torch.Generator(device="cpu").manual_seed(ctx.seed)
        noise = {name: torch.randn(p.shape, generator=gen).to(p.device) for name, p in params.items()}
        inv = {name: (fisher[name] + o.damping).pow(-0.25) for name in params}

        def stds(scale: float) -> list[torch.Tensor]:
            return [(scale * inv[n]).clamp(max=o.max_std).flatten() for n in params]

        def add_noise(scale: float) -> nn.Module:
            with torch.no_grad():
                for name, p in params.items():
                    p.copy_(base[name] + (scale * inv[name]).clamp(max=o.max_std) * noise[name])
            return model

        return o.noise_scale, add_noise, stds

    @staticmethod
    def _calibrate(ctx, model, place) -> float:
        """The largest step keeping RA + forget_credit·(FA(θ_o) − FA) within retain_drop of θ_o's (see the
        module), on seeded D_r/D_f samples."""
        o = ctx.options
        gen = torch.Generator().manual_seed(ctx.seed)

        def sample(indices):
            indices = np.asarray(indices)
            if len(indices) <= o.calibration_samples:
                return indices
            return np.sort(indices[torch.randperm(len(indices), generator=gen)[: o.calibration_samples].numpy()])

        retain, forget = sample(ctx.split.retain), sample(ctx.split.forget)
        fa0 = retain_accuracy(model, ctx.dataset, forget) if o.forget_credit else 0.0
        floor = retain_accuracy(model, ctx.dataset, retain) - o.retain_drop

        def accuracy_at(s: float) -> float:  # RA(s) + credit · (FA(θ_o) − FA(s))
            place(s)
            credit = o.forget_credit * (fa0 - retain_accuracy(model, ctx.dataset, forget)) if o.forget_credit else 0.0
            return retain_accuracy(model, ctx.dataset, retain) + credit

        return calibrate_step(accuracy_at, floor, o.step_min, o.step_max, o.bisections)

    @staticmethod
    def _forget_gradient(ctx) -> dict[str, torch.Tensor]:
        """∇ mean_i CE(θ_o; D_f)."""
        model = ctx.model.eval()
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        acc = {n: torch.zeros_like(p) for n, p in params.items()}
        n = len(ctx.split.forget)
        for idx in batches(ctx.split.forget, 512, torch.Generator(), shuffle=False):
            idx = idx.to(ctx.device)
            loss = F.cross_entropy(model(ctx.dataset.inputs(idx)), ctx.dataset.y[idx], reduction="sum") / n
            for name, g in zip(params, torch.autograd.grad(loss, list(params.values()), allow_unused=True)):
                if g is not None:
                    acc[name] += g
        return acc
