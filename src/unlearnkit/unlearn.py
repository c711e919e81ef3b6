"""The library entry point: ``unlearn(model, dataset, split, method, weighting, target)``."""

from __future__ import annotations

import copy
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .advice import warn_unsafe
from .amp import contiguous
from .baseline import Baseline
from .data.split import Split, check_model, check_split, fit_warning
from .device import resolve_device
from .errors import UnlearnkitError
from .methods import METHODS, GradientMethod
from .models.fresh import reinitialised
from .options import build, parse_options
from .passes import PassCounter
from .stopping import (
    StopRun,
    check_stop,
    search_lr,
    search_strength,
)
from .targets import TARGETS
from .training import Augment, TrainConfig, check_augment, label_smoothing_of, train_model
from .weighting import WEIGHTINGS
from .context import UnlearnContext, materialise

log = logging.getLogger("unlearnkit")


def _searches_lr(options) -> bool:
    """Whether ``stop="auto"`` runs the lr search (more than one lr multiple, or a multiple other than 1)."""
    return tuple(options.stopping.lr_factors) != (1.0,)


@dataclass
class UnlearnResult:
    model: nn.Module
    seconds: float
    moved: bool
    param_change: float
    history: list[dict] = field(default_factory=list)
    method: str = ""
    weighting: str = "uniform"
    target: str = "none"
    passes: dict[str, int] = field(default_factory=dict)


@dataclass
class Plan:
    """A validated method ∘ weighting ∘ target composition (checked before any work is done)."""

    method: object
    options: object
    weighting: object
    target: object

    @classmethod
    def make(
        cls,
        method: str,
        weighting: str = "uniform",
        target: str = "none",
        options: dict | None = None,
        weighting_options: dict | None = None,
        target_options: dict | None = None,
    ) -> "Plan":
        m_cls = METHODS.get(method)
        opts = parse_options(m_cls.Options, options, f"method {method!r}")
        m = m_cls()
        m.check_options(opts)
        w = build(WEIGHTINGS, weighting, weighting_options)
        TARGETS.get(target)
        m.check_composition(w, target)
        effective = target if target != "none" else m.default_target
        t = build(TARGETS, effective, target_options if effective == target else None)
        return cls(m, opts, w, t)


def effective_stop(mode: str, split: Split) -> str:
    """The stop mode a run uses: ``none`` on a correction split (no deletion request: nothing for the proxy to
    compare), else ``mode``."""
    return "none" if split.purpose == "correction" else mode


def check_auto_has_held_out(method_cls: type, mode: str, split: Split) -> None:
    """``stop="auto"`` on a method it steers (a gradient method, or one with a strength option) compares D_f with
    held-out data: refuse a split without any, naming the fix."""
    steered = issubclass(method_cls, GradientMethod) or method_cls.strength_option is not None
    if mode == "auto" and steered and len(split.unseen) == 0:
        raise UnlearnkitError(
            "stop='auto' compares D_f with held-out data, but split.unseen is empty; make the "
            "split with unseen_fraction > 0 (e.g. 0.1), or pass stop='none'"
        )


def unlearn(
    model: nn.Module,
    dataset,
    split: Split,
    method: str = "rl",
    weighting: str = "uniform",
    target: str = "none",
    *,
    options: dict | None = None,
    weighting_options: dict | None = None,
    target_options: dict | None = None,
    device: str = "auto",
    seed: int = 0,
    stop: str = "auto",
    min_change: float = 1e-4,
    train_config: TrainConfig | dict | None = None,
    new_model: Callable[[], nn.Module] | None = None,
    retrained: Callable[[], tuple[nn.Module, float]] | None = None,
    progress: Callable[[dict], None] | None = None,
    on_epoch: Callable[[nn.Module, int], dict | None] | None = None,
    baseline: Baseline | None = None,
    augment: Augment | None = None,
) -> UnlearnResult:
    """Unlearn ``split.forget`` from a copy of ``model`` (θ_o is never changed).

    ``dataset`` is an :class:`~unlearnkit.data.ArrayDataset` (wrap your own with
    ``from_torch_dataset``). ``new_model`` builds a fresh model of the same architecture (needed by
    ``retrain`` and methods with a random teacher); without it, a copy of ``model`` with every layer
    re-initialised by its own ``reset_parameters()`` (:func:`~unlearnkit.models.fresh.reinitialised`, which
    raises for a parameter no such layer owns); ``retrained`` may supply a cached θ_r.
    ``on_epoch(model, epoch)`` may return values (e.g. FA/RA/TA) recorded in the history per epoch.

    ``stop="auto"`` (default; a method's ``stop`` option overrides it): gradient methods keep the state
    (θ_o included) with the lowest retrain-free proxy gap (:mod:`unlearnkit.eval.proxy`), evaluated every
    ``stopping.every`` of an epoch, and stop early on overshoot, patience or divergence; one-shot methods
    with a ``strength_option`` pick its value by the proxy. The curve and the choice are in
    ``history``. ``stop="none"`` runs the configured schedule exactly (divergence still raises).
    ``baseline`` (:class:`~unlearnkit.baseline.Baseline`, ``stop="auto"`` only): where ``model`` is the result of
    earlier deletion requests, the answers of the model before the first — damage is then counted against it, so a
    chain of requests does not lose ``stopping.max_damage`` of accuracy per request.
    ``augment``: the data augmentation θ_o was trained with — a function from a batch of model-ready inputs (on the
    device) to the batch the model trains on, same shape and dtype — applied to every batch a gradient method's terms
    train on and to ``retrain``'s training (evaluation and the proxy read the inputs as they are), as the reference
    implementations' unlearning loops read the training loader's transforms. It matters most for ``retrain``: a gold
    standard trained without θ_o's augmentation is another model. For the methods it made no clear difference on
    ``benchmarks/augmented_theta_o.py`` (digits, noise and one-pixel shifts; 48 → 49 of 60 cells won).
    A model whose relative parameter change ‖θ_u − θ_o‖/‖θ_o‖ is below ``min_change`` warns.
    """
    check_stop(stop, "unlearn(stop=…)")
    if min_change < 0:
        raise UnlearnkitError(f"min_change must be ≥ 0 (a relative parameter change), got {min_change}")
    plan = Plan.make(method, weighting, target, options, weighting_options, target_options)
    check_split(dataset, split)  # indices in range, train in the pool, test apart (before any work)
    check_model(model, dataset)  # output size = num_classes, takes the inputs
    check_augment(augment, dataset, resolve_device(device))
    if augment is not None and not plan.method.trains_on_batches:
        warnings.warn(
            f"method {method!r} takes no gradient steps on training batches, so augment has no effect; remove it",
            RuntimeWarning,
            stacklevel=2,
        )
    unfit = fit_warning(model, dataset, split, seed)  # has θ_o learnt the data as it reaches it here?
    if unfit:
        warnings.warn(f"method {method!r}: {unfit}", RuntimeWarning, stacklevel=2)
    for unmet in (plan.target.unmet(dataset, split), plan.weighting.unmet(dataset, split)):
        if unmet:
            raise UnlearnkitError(unmet)
    mode = effective_stop(plan.options.stop or stop, split)
    correction = split.purpose == "correction"  # no deletion request: nothing for the proxy to compare
    if baseline is not None:
        if not isinstance(baseline, Baseline):
            raise UnlearnkitError(
                f"baseline must be an unlearnkit.Baseline, got {type(baseline).__name__}; measure one on the model "
                f"before the first request: Baseline.measure(first_model, dataset, train, unseen)"
            )
        baseline.check(dataset)
        if mode != "auto":
            raise UnlearnkitError(
                f"baseline is read by the proxy of stop='auto' only (damage against the first model), but this run "
                f"is stop={mode!r}; pass stop='auto' or drop the baseline"
            )
    check_auto_has_held_out(type(plan.method), mode, split)
    dev = resolve_device(device)
    tcfg = parse_options(TrainConfig, train_config, "train_config")
    original = copy.deepcopy(model).to(dev).eval()
    for p in original.parameters():
        p.requires_grad_(False)
    work = copy.deepcopy(model).to(dev)
    data = dataset.to(dev)

    def fresh_model():
        if new_model is None:  # the same architecture, every layer re-drawn by its own reset_parameters()
            return reinitialised(model).to(dev).requires_grad_(True).train()  # the caller's model: no hooks of ours
        return new_model().to(dev)

    def retrain_provider():
        if retrained is not None:
            return retrained()
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        m = train_model(fresh_model(), data, split.retain, tcfg, dev, seed=seed, augment=augment)
        return m, time.perf_counter() - t0

    ctx = UnlearnContext(
        model=work,
        original=original,
        dataset=data,
        split=split,
        num_classes=dataset.num_classes,
        device=dev,
        seed=seed,
        options=plan.options,
        weighting=plan.weighting,
        target=plan.target,
        new_model=fresh_model,
        retrained=retrain_provider,
        train_config=tcfg,
        progress=progress,
        on_epoch=on_epoch,
        stop=mode,
        baseline=baseline,
        augment=augment,
    )
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with PassCounter(work, original) as counter:
        ctx.passes = counter
        plan.weighting.prepare(ctx)
        ctx.split = plan.weighting.driving_split(ctx)
        plan.target.prepare(ctx)
        strength = plan.method.strength_option
        try:
            if mode == "auto" and strength is not None:
                search_strength(plan.method, ctx, strength, plan.options.stopping)
                out = ctx.model
            elif mode == "auto" and isinstance(plan.method, GradientMethod) and _searches_lr(plan.options):
                search_lr(plan.method, ctx, plan.options.stopping)
                out = ctx.model
            else:
                out = plan.method.unlearn(ctx)
        except StopRun:  # stop="auto" decided inside the loop
            out = ctx.model
        if ctx.monitor is not None:
            ctx.monitor.finish()  # auto: load the best state, record the summary
    if ctx.nhwc:  # the loop ran channels_last: hand back the default format
        contiguous(out)
    if correction and (plan.options.stop or stop) == "auto":
        ctx.record(
            auto_stop={
                "reason": "correction split (no deletion request): the proxy does not apply, "
                "ran the configured schedule"
            }
        )
    seconds = ctx.cost_seconds if ctx.cost_seconds is not None else time.perf_counter() - t0
    passes = counter.as_dict()
    if ctx.cost_passes is not None:
        passes["total"] = ctx.cost_passes
    floats = {k: v for k, v in out.state_dict().items() if v.is_floating_point()}
    finite = torch.stack([torch.isfinite(v).all() for v in floats.values()]).tolist() if floats else []
    bad = [k for k, ok in zip(floats, finite) if not ok]  # one host sync, not one per tensor
    if bad:
        raise UnlearnkitError(
            f"method {method!r} left non-finite parameters ({', '.join(bad[:3])}); lower its lr or epochs"
        )
    change = parameter_distance(out, original)
    moved = change > 0
    materialise(ctx.history)  # per-step diagnostics recorded as device tensors: one host copy, here
    relative = change / max(parameter_distance(original, None), 1e-12)
    warn_unsafe(method, plan, ctx.history, relative, min_change, label_smoothing_of(tcfg))
    return UnlearnResult(
        out.eval(), seconds, moved, change, ctx.history, method, plan.weighting.name, plan.target.name, passes
    )


@torch.no_grad()
def parameter_distance(a: nn.Module, b: nn.Module | None) -> float:
    """‖θ_a − θ_b‖₂ (‖θ_a‖₂ when ``b`` is None) over all floating-point parameters and buffers."""
    sa, sb = a.state_dict(), (b.state_dict() if b is not None else None)
    parts = [
        ((v - (sb[k].to(v.device) if sb is not None else 0)) ** 2).sum().double()
        for k, v in sa.items()
        if v.is_floating_point()
    ]
    if not parts:
        return 0.0
    return float(torch.stack([p.to(parts[0].device) for p in parts]).sum()) ** 0.5  # one host sync
