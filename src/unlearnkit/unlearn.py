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
    short_of_target,
    two_sample_se,
    unresolved_bound,
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
    _warn_unsafe(method, plan, ctx.history, relative, min_change, label_smoothing_of(tcfg))
    return UnlearnResult(
        out.eval(), seconds, moved, change, ctx.history, method, plan.weighting.name, plan.target.name, passes
    )


# the proxy's ε from which a θ_o trained with plain cross-entropy is unlikely: 0 on every θ_o of the defaults-transfer
# grid and ten YAML grids, 0.003–0.016 on a Fashion CNN that does not memorise; 0.21 with label smoothing 0.2 and
# 0.043 with mixup (α 0.4) on digits
SMOOTHING_HINT = 0.03


def _warn_unsafe(
    method: str, plan: Plan, history: list[dict], relative: float, min_change: float, label_smoothing: float = 0.0
) -> None:
    """RuntimeWarnings for divergence rolled back by auto-stop, for targets the proxy's label check, twin check or
    thin-class probe set, for D_f and held-out data the shift check reads as not drawn alike, for a damage option
    auto lowered, for θ_o kept by auto-stop, for a kept state that barely moved or is short of the targets
    (``stopping.short_z``), for a model that moved by less than ``min_change`` (relative), and for a θ_o the proxy
    reads as trained with label smoothing where the method's retain term trains with none (``label_smoothing``: the
    run's train config's)."""

    def warn(text: str) -> None:  # a RuntimeWarning pointing at the caller of unlearn()
        warnings.warn(text, RuntimeWarning, stacklevel=4)

    m = plan.method
    knob = m.strength_option or ("lr or epochs" if isinstance(m, GradientMethod) else "its options")
    auto = next((h["auto_stop"] for h in reversed(history) if "auto_stop" in h), None)
    at = f" at lr {auto['lr']:.3g} = its lr × {auto['lr_factor']:.3g}" if auto and auto.get("lr") else ""
    for w in (auto or {}).get("warnings", []):
        warn(
            f"method {method!r} {w} (stop='auto'{at}; the model returned is that earlier state, not the diverged "
            f"one); lower {knob} for a run that does not diverge"
        )
    if auto is not None and auto.get("label_share") is not None:
        warn(
            f"method {method!r}: D_f's labels agree with those of their nearest D_r samples "
            f"{100 * auto['agree_forget']:.0f} % of the time, held-out samples' {100 * auto['agree_held_out']:.0f} %: "
            f"stop='auto' treated D_f as mislabelled, poisoned or atypical and expects a retrained model to misclassify "
            f"{100 * (1 - auto['label_share']):.0f} % of it (FA target {auto['target_fa']:.1f} %); if D_f's labels are "
            f"right, pass stopping: {{proxy: {{label_check: false}}}}"
        )
    if auto is not None and auto.get("twin_share") is not None:
        pairs = ", ".join(f"{f} ↔ {r}" for f, r in auto["twin_pairs"][:3])
        warn(
            f"method {method!r}: {auto['twins']} of D_f's samples ({100 * auto['twin_share']:.0f} % of those checked) "
            f"have a near-duplicate of the same label left in D_r (D_f ↔ D_r index: {pairs}, …): a model retrained "
            f"without D_f still fits them through those copies, so stop='auto' aims to keep them fitted as D_r is. To "
            f"remove them, add their duplicates to the request (every pair: the auto summary's twin_pairs; `unlearnkit "
            f"unlearn` writes the copies' indices to twin_ids.txt); to treat "
            f"them as never seen regardless, pass stopping: {{proxy: {{twin_check: false}}}}"
        )
    if auto is not None and auto.get("thin_share") is not None:
        classes = "; ".join(
            f"class {c}: D_r keeps {100 * k:.0f} % of it, a probe retrained on D_r classifies {100 * f:.0f} % of D_f's "
            f"samples of it"
            + (f" (on all the training data: {100 * u:.0f} % of held-out ones)" if u is not None else "")
            for c, (k, f, u) in auto["thin_classes"].items()
        )
        warn(
            f"method {method!r}: D_f removes most of a class ({classes}): a model retrained on the few samples left "
            f"learns it far less well than θ_o did, so stop='auto' expects a retrained model to misclassify "
            f"{100 * (1 - auto['thin_share']):.0f} % of D_f (FA target {auto['target_fa']:.1f} %); to aim at θ_o's "
            f"held-out accuracy instead, pass stopping: {{proxy: {{thin_below: null}}}}"
        )
    if auto is not None and auto.get("shifted"):
        r = auto["shift_ratio"]
        warn(
            f"method {method!r}: D_f and the held-out data do not look drawn alike: D_f's samples lie {r:.2f}× as far "
            f"from their nearest retained sample of their class as held-out samples do (median, per-class scale; "
            f"Mann–Whitney p = {auto['shift_p']:.1e}). Either the held-out data is not a random sample of the training "
            f"data's source (a later period, another source, hand-picked), or the request picks unusual samples ("
            + ("near-duplicates of retained ones, typical ones" if r < 1 else "outliers, atypical ones")
            + "); either way the proxy's targets for D_f, read off held-out data, are not what a retrained model shows "
            "on D_f, and stop='auto' may aim "
            + ("too far" if r < 1 else "too short")
            + ". Hold out samples drawn at random from the same data (make_split's unseen split; CLI: --holdout), or "
            "measure with retraining (unlearnkit unlearn --verify-retrain); stopping: {proxy: {shift_check: false}} "
            "silences this"
        )
    eps = (auto or {}).get("smoothing") or 0.0
    if eps >= SMOOTHING_HINT and label_smoothing == 0 and isinstance(m, GradientMethod) and m.uses_retain:
        warn(
            f"method {method!r}: θ_o looks trained with label smoothing or mixup (its held-out accuracy exceeds its "
            f"mean top probability: ε ≈ {eps:.2f}), but the retain term trains with plain cross-entropy, which "
            f"sharpens it; if θ_o was trained with label smoothing s, pass train_config={{'label_smoothing': s}} (CLI: "
            f"--label-smoothing s); after mixup a small smoothing (0.1) is a close stand-in"
        )
    name = m.damage_option
    if auto is not None and name and auto.get("best_step") and auto.get("damage_scale", 1.0) != 1.0:
        warn(
            f"method {method!r}: stop='auto' lowered {name} × {auto['damage_scale']:g} to {auto[name]:.3g}: at the "
            f"configured value most states of an earlier run of its lr search cost more accuracy than "
            f"stopping.max_damage allows; pass {name}={auto[name]:.3g} to start there, or stopping: "
            f"{{damage_lower: []}} to keep {name} as set"
        )
    if auto is not None and auto.get("cost_capped_after") is not None:
        warn(
            f"method {method!r}: stop='auto' ended its lr search after {auto['cost_capped_after']} run(s): their "
            f"passes reached stopping.max_cost × one retraining's ({auto['cost_budget']:.0f} passes), so retraining "
            f"on D_r would cost less than searching on; pass stopping: {{max_cost: null}} to search on regardless"
        )
    stopping = getattr(plan.options, "stopping", None)
    if auto is not None and stopping is not None and auto.get("drift_ra") is not None:
        if auto["drift_ra"] > stopping.max_damage or auto["drift_unseen"] > stopping.max_unseen_damage:
            warn(
                f"method {method!r}: the model this request started from had already lost {auto['drift_ra']:.1f} "
                f"points of accuracy on retained samples and {auto['drift_unseen']:.1f} on held-out ones since the "
                f"model before the first request (the baseline), more than stopping.max_damage "
                f"({stopping.max_damage:g}) / max_unseen_damage ({stopping.max_unseen_damage:g}) allow: stop='auto' "
                f"keeps only states that repair some of it; retraining on D_r restores what the chain lost"
            )
    kept = auto is not None and (auto.get("best_step") == 0 or ("best_value" in auto and auto["best_value"] is None))
    if kept:
        warn(
            f"method {method!r} did not change the model: stop='auto' kept θ_o because no "
            f"{'strength' if 'option' in auto else 'step'}{_lrs_tried(auto)} lowered the proxy gap below θ_o's "
            f"({auto['best_proxy_gap']:.2f}){_held_out_hint(auto)}; change its options, or pass stop='none' to "
            f"keep the configured run"
        )
    elif auto is not None and stopping is not None and barely_moved(auto, stopping):
        # a kept state the proxy cannot tell from θ_o: a model that (on D_f) is θ_o
        g0, tol = auto["original_proxy_gap"], stopping.flat_tol
        what = "strength" if "option" in auto else "state"
        reach = (
            "; it reaches D_f only through D_r (it has no forget term), so a method with one may remove what it could "
            "not"
            if isinstance(m, GradientMethod) and not m.uses_forget
            else ""
        )
        warn(
            f"method {method!r} barely changed the model: stop='auto' kept a {what}{_lrs_tried(auto)} whose proxy gap "
            f"({auto['best_proxy_gap']:.3f}) is within stopping.flat_tol ({tol:g} × θ_o's) of θ_o's ({g0:.3f}), so "
            f"the model returned reads like θ_o{_held_out_hint(auto)}{reach}; raise its {knob}, or pass stop='none' "
            f"to keep the configured run"
        )
    elif (
        auto is not None
        and stopping is not None
        and not auto.get("shifted")  # the targets are not a retrained model's: the shift warning says so
        and (short := short_of_target(auto, stopping.short_z))
    ):
        warn(_short_text(method, m, auto, short, knob))
    elif auto is not None and (bound := unresolved_bound(auto)) is not None:
        kept_fa = auto.get("kept_fa")
        warn(
            f"method {method!r}: θ_o classifies every one of the {auto['held_out']} held-out samples of D_f's classes "
            f"correctly, so stop='auto' expects a model retrained without D_f to classify all of D_f correctly too "
            f"and can see no accuracy left to remove;{_unresolved_text(auto, bound)}"
            + (f" The state kept classifies {kept_fa:.1f} % of D_f correctly." if kept_fa is not None else "")
            + " Hold out more data (make_split's unseen_fraction; CLI: --holdout), or measure the gap with retraining "
            "(`unlearnkit unlearn --verify-retrain`)"
        )
    elif m.moves_model and relative < min_change:
        warn(
            f"method {method!r} did not change the model (relative parameter change {relative:.2e} < "
            f"min_change {min_change:g}); raise its {knob}"
        )


def _short_text(method: str, m, auto: dict, short: dict, knob: str) -> str:
    """The warning for a kept state :func:`~unlearnkit.stopping.short_of_target` found short: what it still
    classifies, against what the proxy expects of a retrained model, and what removes the rest."""
    what = []
    if "partial" in short:
        fa, target, se = short["partial"]
        fo = auto.get("original_fa")
        what.append(
            f"classifies {fa:.1f} % of D_f's samples correctly"
            + (f" (θ_o: {fo:.1f} %)" if fo is not None else "")
            + f" where the proxy expects a model retrained without them near {target:.1f} % (± {se:.1f}; the target "
            f"rests on an effective {auto.get('held_out_eff') or 0:.0f} held-out samples)"
        )
    if "gone" in short:
        fa_g, _ = short["gone"]
        fo_g = auto.get("original_fa_gone")
        what.append(
            f"classifies {fa_g:.1f} % of the removed classes' samples as their class"
            + (f" (θ_o: {fo_g:.1f} %)" if fo_g is not None else "")
            + ", which a retrained model never does"
        )
    refused = auto.get("refused_for_damage") or 0
    why = (
        f"; {refused} state(s) it evaluated were not kept for costing more accuracy than stopping.max_damage / "
        f"max_unseen_damage allow"
        if refused
        else ""
    )
    reach = (
        "; it reaches D_f only through D_r (it has no forget term)"
        if isinstance(m, GradientMethod) and not m.uses_forget
        else ""
    )
    return (
        f"method {method!r} removed only part of D_f's influence: the state stop='auto' kept{_lrs_tried(auto)} "
        f"still {' and '.join(what)}{why}{reach}. A stronger run (raise its {knob}), another method, or retraining "
        f"on D_r removes the rest (`unlearnkit unlearn --verify-retrain` measures the gap); stopping.short_z sets "
        f"this check"
    )


def barely_moved(auto: dict, stopping) -> bool:
    """Whether auto kept a state (not θ_o itself) whose proxy gap is within ``stopping.flat_tol`` × θ_o's of θ_o's
    own: lower by so little that the proxy cannot tell it from θ_o (ft on a user's token model: 2.8505 against
    2.8513, every reading of D_f unchanged)."""
    g0, best = auto.get("original_proxy_gap"), auto.get("best_proxy_gap")
    tol = getattr(stopping, "flat_tol", 0.0)
    if g0 is None or best is None or not tol or g0 <= 0:
        return False
    return best >= g0 * (1.0 - tol)


def _held_out_hint(auto: dict) -> str:
    """Where θ_o was kept on a partly removed class: what the proxy's targets rest on. On a small held-out
    split θ_o can be right on every sample by chance (digits, 144 held-out samples, one split in six of a
    confirmation grid), and then nothing looks closer to retraining than θ_o. Where θ_o is as accurate on D_f as on
    held-out data (within two standard errors — the held-out mean's from its effective size 1/Σw², since its
    weights follow D_f's class mix — and not perfect on D_f), it did not memorise D_f: a
    Fashion-MNIST CNN at 83 % training accuracy kept θ_o on long-tail and half-of-class requests where retraining
    on fewer samples of a class still cost 3–13 points of FA."""
    if not auto.get("partial") or "held_out" not in auto:
        return ""
    if auto.get("thin_share") is not None:  # the thin-class probe set the targets (its own warning says how)
        return f"; its targets expect {100 * (1 - auto['thin_share']):.0f} % of D_f misclassified (proxy.thin_below)"
    if auto.get("twin_share") is not None:  # the twin check set the targets (its own warning says how)
        return f"; {100 * auto['twin_share']:.0f} % of D_f has a near-duplicate left in D_r (proxy.twin_check)"
    if auto.get("label_share") is not None:  # the label check set the targets (its own warning says how)
        return f"; its targets treat {100 * (1 - auto['label_share']):.0f} % of D_f as mislabelled (proxy.label_check)"
    fo, fh, n_f, n_h = auto.get("forget_fa"), auto["held_out_fa"], auto.get("forget_partial"), auto["held_out"]
    n_e = auto.get("held_out_eff") or n_h  # the weighted mean's effective size (older summaries: all of them)
    if fo is not None and fh is not None and n_f and n_e and fo < 99.5:
        p = min(max(fh / 100.0, 0.01), 0.99)
        if abs(fo - fh) <= 2.0 * two_sample_se(p, n_f, p, n_e):  # within 2 SE of held-out
            return (  # θ_o did not memorise D_f: it already treats D_f like data it never saw
                f"; θ_o is about as accurate on D_f ({fo:.1f} % of {n_f}) as on the {n_h} held-out samples of its "
                f"classes ({fh:.1f} %): it did not memorise D_f, so the proxy sees nothing left to remove. A retrained "
                f"model can still differ from θ_o by what training on fewer samples of a class costs, which only "
                f"retraining measures (unlearnkit unlearn --verify-retrain)"
            )
    if auto["target_fa"] < auto["held_out_fa"] - 0.05 or auto["target_mia"] > auto["held_out_mia"] + 0.05:
        return (  # the cap at θ_o (proxy.cap_at_original) set the targets: D_f is harder than held-out data
            f"; θ_o fits D_f less well than the {auto['held_out']} held-out samples of its classes (FA target "
            f"{auto['target_fa']:.1f} % against {auto['held_out_fa']:.1f} % held out, MIA-efficacy "
            f"{auto['target_mia']:.1f} % against {auto['held_out_mia']:.1f} %), and retraining does not fit D_f "
            f"better than θ_o: θ_o may already be what retraining gives"
        )
    bound = unresolved_bound(auto)
    return (
        f"; its targets for D_f come from {auto['held_out']} held-out samples, on which θ_o is "
        f"{auto['held_out_fa']:.1f} % accurate (MIA-efficacy {auto['held_out_mia']:.1f} %): on a small held-out split "
        f"θ_o can look like a model that never saw D_f by chance, and more held-out data sharpens the proxy"
        + (f" ({_unresolved_text(auto, bound).strip()[:-1]})" if bound is not None else "")
    )


def _unresolved_text(auto: dict, bound: float) -> str:
    """What :func:`~unlearnkit.stopping.unresolved_bound` found, as a sentence of a warning."""
    return (
        f" from an effective {auto['held_out_eff']:.0f} held-out samples (D_f's class mix), a retrained model's "
        f"accuracy on D_f as low as {bound:.1f} % would not show (95 % lower bound)."
    )


def _lrs_tried(auto: dict) -> str:
    runs = auto.get("runs") or []
    e0 = runs[0].get("epochs") if runs else None
    factors = ", ".join(
        f"{r['lr_factor']:g}" + (f" for {r['epochs']} epochs" if r.get("epochs", e0) != e0 else "") for r in runs
    )
    return f" (at lr × {factors})" if runs else ""


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
