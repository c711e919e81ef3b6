"""What an ``unlearn`` call tells its user about the run it made: the RuntimeWarnings read off the auto summary
(divergence rolled back, targets the proxy's checks set, held-out data that cannot show the gap, a state short of the
targets or barely moved, θ_o kept) and off the run (a model that did not move, a θ_o trained with label smoothing)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from .methods import GradientMethod
from .stopping import short_of_target, two_sample_se, unresolved_bound

if TYPE_CHECKING:
    from .unlearn import Plan


# the proxy's ε from which a θ_o trained with plain cross-entropy is unlikely: 0 on every θ_o of the defaults-transfer
# grid and ten YAML grids, 0.003–0.016 on a Fashion CNN that does not memorise; 0.21 with label smoothing 0.2 and
# 0.043 with mixup (α 0.4) on digits
SMOOTHING_HINT = 0.03


def warn_unsafe(
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
            f"({auto['best_proxy_gap']:.2f}){held_out_hint(auto)}; change its options, or pass stop='none' to "
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
            f"the model returned reads like θ_o{held_out_hint(auto)}{reach}; raise its {knob}, or pass stop='none' "
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
            f"method {method!r}: θ_o classifies correctly every held-out sample the proxy's targets for D_f rest on, "
            f"so stop='auto' expects a model retrained without D_f to classify all of D_f correctly too and can see "
            f"no accuracy left to remove; {_unresolved_clause(auto, bound)}."
            + (f" The state kept classifies {kept_fa:.1f} % of D_f correctly." if kept_fa is not None else "")
            + " Hold out more data (make_split's unseen_fraction; CLI: train --unseen-fraction, or unlearn --holdout), "
            "or measure the gap with retraining "
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


def held_out_hint(auto: dict) -> str:
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
        + (f" ({_unresolved_clause(auto, bound)})" if bound is not None else "")
    )


def _unresolved_clause(auto: dict, bound: float) -> str:
    """What :func:`~unlearnkit.stopping.unresolved_bound` found, as a clause (no capital, no full stop): the warning
    ends a sentence with it, the kept-θ_o hint puts it in brackets."""
    return (
        f"from an effective {auto['held_out_eff']:.0f} held-out samples (weighted to D_f's class mix), a retrained "
        f"model's accuracy on D_f as low as {bound:.1f} % would not show (95 % lower bound)"
    )


def _lrs_tried(auto: dict) -> str:
    runs = auto.get("runs") or []
    e0 = runs[0].get("epochs") if runs else None
    factors = ", ".join(
        f"{r['lr_factor']:g}" + (f" for {r['epochs']} epochs" if r.get("epochs", e0) != e0 else "") for r in runs
    )
    return f" (at lr × {factors})" if runs else ""
