"""``falw``: Forgetting-aware Loss Weighting for long-tailed unlearning (Yu, Zhao, Wang et al.,
"FaLW: A Forgetting-aware Loss Reweighting for Long-tailed Unlearning", ICLR 2026, arXiv 2601.18650;
restated in ``methods/falw.md``).

Each forget sample (x_i, y_i = c) with current true-class probability p_i gets

    z_i = (p_i − μ_c) / σ_c,      w_i = 1 + sign(z_i) · tanh(|z_i|)^(1 / B_c)          (weight, §"Weight")

where (μ_c, σ_c) are the mean / population std of the *current* model's true-class softmax
probability on the held-out unseen split V (re-estimated every ``refresh_every`` optimisation steps,
1 = every step as the paper, in eval mode and without gradient), and

    B_c = ( N_f / (C · N_{f,c}) )^τ                                         (balancing factor)

from the forget histogram (τ = 0 switches balancing off). w ∈ (0, 2): an over-forgotten sample
(z ≪ 0) gets w → 0, an under-forgotten one (z ≫ 0) w → 2. Only the forget term is weighted; the
base method's per-sample forget loss is reduced as Σ w_i ℓ_i / B (the paper) or, with
``normalize=True`` (a documented option, not the paper), Σ w_i ℓ_i / Σ w_i.

Departure on purpose (cost): by default V is a seeded subsample of at most ``unseen_per_class``
samples per class (drawn once per run from ``ctx.seed``), not the whole split, and the reference is
re-estimated every ``refresh_every`` = 10 steps, not every step. The paper's forward pass
over all of V every step costs more than the unlearning step itself once V holds thousands of
samples (4.1× the plain RL time on a 5000-sample Fashion-MNIST CNN); ``benchmarks/falw_overhead.py``
measures the ratio and the Avg.Gap of both settings. ``FaLWOptions(**PAPER)`` (``unseen_per_class:
null, refresh_every: 1``) is the paper's setting exactly; with a cap at or above every class's unseen
count and ``refresh_every: 1`` the two are bit-identical.

Using FaLW with GA / NegGrad+ / SalUn / SCRUB is our *reconstruction* (the paper only says
"plug-and-play"): the weight multiplies whatever per-sample forget loss the method defines.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UnlearnkitError
from ..classes import GROUPS, class_thirds
from .base import WEIGHTINGS, Weighting


#: defaults chosen by measurement (benchmarks/falw_overhead.py and its notes): the paper's forward pass
#: over the whole unseen split every step made RL+FaLW 4.1× slower than RL on a 5000-sample
#: Fashion-MNIST CNN (V = 500; one eval pass over 500 samples costs ≈ 2.7 training steps of 64+64 on
#: CPU, and V grows with the dataset: 5400 samples ≈ 40 steps at full Fashion-MNIST). 32 samples per
#: class (μ_c's standard error σ_c/√32 ≈ 0.18 σ_c) every 10 steps costs ≈ 1.4/10 of a step: ≤ 1.2×.
UNSEEN_PER_CLASS = 32
REFRESH_EVERY = 10


class FaLWOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tau: float = Field(
        0.15, ge=0, description="balancing exponent τ in B_c = (N_f/(C·N_f,c))^τ; 0 = off (the paper tunes 0.1–0.2)"
    )
    refresh_every: int = Field(
        REFRESH_EVERY,
        ge=1,
        description="optimisation steps between re-estimates of "
        "(μ_c, σ_c) on the unseen split (1 = every step, "
        "as the paper)",
    )
    normalize: bool = Field(
        False,
        description="divide the weighted forget loss by Σ w_i instead of the batch "
        "size (False = the paper's Σ w_i ℓ_i / B)",
    )
    eps: float = Field(1e-8, gt=0, description="lower clamp on σ_c")
    unseen_batch_size: int | None = Field(
        None, ge=1, description="chunk the reference forward pass (None = the whole unseen split in one batched pass)"
    )
    unseen_per_class: int | None = Field(
        UNSEEN_PER_CLASS,
        ge=2,
        description="estimate (μ_c, σ_c) on a seeded subsample of at most this many unseen "
        "samples per class, drawn once per run (None = the whole unseen split, "
        "as the paper; see PAPER for the paper's setting)",
    )


#: the paper's setting: the whole unseen split, re-estimated every step
PAPER = {"unseen_per_class": None, "refresh_every": 1}


def subsample_per_class(indices: np.ndarray, labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """At most ``per_class`` of ``indices`` per class (``labels`` aligned with ``indices``), drawn without
    replacement by a generator seeded with ``seed``; kept in their original order. When no class
    exceeds the cap (or ``per_class`` is None) ``indices`` is returned unchanged."""
    indices = np.asarray(indices)
    if per_class is None or len(indices) == 0 or np.bincount(labels).max() <= per_class:
        return indices
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(indices), dtype=bool)
    for c in np.unique(labels):
        pos = np.flatnonzero(labels == c)
        keep[pos if len(pos) <= per_class else rng.choice(pos, per_class, replace=False)] = True
    return indices[keep]


def balancing_factors(counts, tau: float) -> torch.Tensor:
    """B_c = (N_f / (C · N_{f,c}))^τ per class; 1 for classes with no forget sample (never used)."""
    n = torch.as_tensor(np.asarray(counts), dtype=torch.float64)
    C, total = len(n), n.sum()
    b = torch.where(n > 0, (total / (C * n.clamp_min(1))) ** tau, torch.ones_like(n))
    return b.float()


def falw_weight(z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """w = 1 + sign(z) · tanh(|z|)^(1/B) (elementwise; B broadcast against z)."""
    return 1 + torch.sign(z) * torch.tanh(z.abs()) ** (1 / b)


@torch.no_grad()
def unseen_reference(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    eps: float = 1e-8,
    chunk: int | None = None,
    modules: list[torch.nn.Module] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ_c, σ_c) per class of the model's true-class softmax probability on ``inputs`` (population std,
    clamped ≥ eps); a class without samples gets μ = 0, σ = +inf, so its z is 0 and its weight 1.

    The model runs in eval mode (BatchNorm uses its running statistics and is not updated, dropout
    is off) and every submodule's own train/eval flag is restored afterwards (``modules``: the
    model's ``list(model.modules())``, passed by callers that refresh often, to save walking it).
    """
    modules = list(model.modules()) if modules is None else modules
    modes = [m.training for m in modules]
    for m in modules:  # == model.eval(), without walking the module tree on every refresh
        object.__setattr__(m, "training", False)
    try:
        logits = model(inputs) if chunk is None else torch.cat([model(x) for x in inputs.split(chunk)])
    finally:
        for m, t in zip(modules, modes):
            object.__setattr__(m, "training", t)
    p = F.softmax(logits.float(), dim=1).gather(1, labels.view(-1, 1)).squeeze(1)
    n = torch.bincount(labels, minlength=num_classes).clamp_min(1)
    mu = torch.bincount(labels, weights=p, minlength=num_classes) / n
    var = torch.bincount(labels, weights=(p - mu[labels]).square(), minlength=num_classes) / n
    absent = torch.bincount(labels, minlength=num_classes) == 0
    return mu, var.sqrt().clamp_min(eps).masked_fill(absent, float("inf"))


@WEIGHTINGS.register("falw")
class FaLW(Weighting):
    """Dynamic per-sample forget weights from the current model vs. its unseen-data reference.

    ``weights`` also records per-step diagnostics, ``ctx.record(step, falw_mean_w_head,
    falw_mean_w_mid, falw_mean_w_tail)``: the batch's mean weight over head / mid / tail classes
    (thirds by forget count, :func:`unlearnkit.classes.class_thirds`; NaN when a group is
    absent from the batch).
    """

    name = "falw"
    step_diagnostics = {f"falw_mean_w_{g}": g for g in GROUPS}
    step_diagnostics_title = "mean weight by class third"
    requires_unseen = True
    unseen_use = "to estimate each class's μ_c, σ_c"
    terms = frozenset({"forget"})
    Options = FaLWOptions

    def __init__(self, options: BaseModel | None = None):
        super().__init__(options)
        self.normalize = self.options.normalize  # read by the shared loop's reduce_weighted

    def prepare(self, ctx) -> None:
        if unmet := self.unmet(ctx.dataset, ctx.split):
            raise UnlearnkitError(unmet)
        C = ctx.num_classes
        counts = np.bincount(ctx.labels(ctx.split.forget), minlength=C)
        unseen_counts = np.bincount(ctx.labels(ctx.split.unseen), minlength=C)
        absent = np.flatnonzero((counts > 0) & (unseen_counts == 0))
        if len(absent):
            warnings.warn(
                f"falw: class(es) {absent.tolist()} of the forget set have no sample in the unseen split; "
                f"their forget samples get weight 1 (enlarge unseen_fraction to weight them)",
                RuntimeWarning,
                stacklevel=2,
            )
        dev = ctx.device
        self.B = balancing_factors(counts, self.options.tau).to(dev)
        groups = torch.as_tensor(class_thirds(counts), device=dev)
        # class → one-hot head/mid/tail (all zero for classes outside the thirds): diagnostics as one matmul
        self._group_onehot = (groups.view(-1, 1) == torch.arange(3, device=dev)).float()
        unseen = subsample_per_class(
            ctx.split.unseen, ctx.labels(ctx.split.unseen), self.options.unseen_per_class, ctx.seed
        )
        idx = torch.as_tensor(unseen, dtype=torch.long)
        self._unseen_x = ctx.dataset.inputs(idx.to(ctx.dataset.x.device)).to(dev)
        self._unseen_y = ctx.dataset.y[idx.to(ctx.dataset.y.device)].to(dev)
        self._model, self._modules = None, []
        self.mu = self.sigma = None
        self._ref_step: int | None = None

    def refresh(self, ctx) -> None:
        """Re-estimate (μ_c, σ_c) from the current ``ctx.model`` in one batched pass over the unseen split."""
        if ctx.model is not self._model:  # cache the module list (a method may swap ctx.model in setup)
            self._model, self._modules = ctx.model, list(ctx.model.modules())
        self.mu, self.sigma = unseen_reference(
            ctx.model,
            self._unseen_x,
            self._unseen_y,
            ctx.num_classes,
            self.options.eps,
            self.options.unseen_batch_size,
            self._modules,
        )

    def weights(self, ctx, batch, logits, step, term):
        if term not in self.terms:
            return None
        if self._ref_step is None or not 0 <= step - self._ref_step < self.options.refresh_every:
            self.refresh(ctx)
            self._ref_step = step
        y = batch.y
        with torch.no_grad():
            p = F.softmax(logits.detach().float(), dim=1).gather(1, y.view(-1, 1)).squeeze(1)
            w = falw_weight((p - self.mu[y]) / self.sigma[y], self.B[y])
            onehot = self._group_onehot[y]  # [B, 3]
            means = w @ onehot / onehot.sum(0)  # NaN (0/0) for a group absent from the batch
        # recorded as device tensors (no host sync per step); unlearn() turns them into numbers at the end
        ctx.record(step=step, **{f"falw_mean_w_{name}": means[i] for i, name in enumerate(GROUPS)})
        return w
