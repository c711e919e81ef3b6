"""``stop: auto`` for a gradient method: the lr search (and longer runs) around its configured schedule, each
run watched by a :class:`~unlearnkit.stopping.monitor.Monitor`, the run whose kept state has the lowest proxy
gap chosen."""

from __future__ import annotations

import copy
import math

import torch

from ..errors import UnlearnkitError
from ..passes import training_passes
from ..training import TrainConfig


from .facts import kept_facts, reference_facts
from .monitor import StopRun, keepable, shared_reference
from .options import StopOptions


#: a run whose last evaluation reads at most this much (relative) above the one before still "ends improving"
#: there (the lr ascent and the longer run): one noisy last reading must not hide a falling curve — ft on logreg
#: digits class 3 read 31.10 then 31.49 (+1.3 %) at the end of its × 10 run and stopped at Avg.Gap 28.7 (1.93 with
#: the runs that reading now lets it have). Measured: 7 rows of 680 changed on three grids, 6 of them better
END_BLIP = 0.02


def trial_context(ctx, start_model, **options):
    """A copy of ``ctx`` for one run of a search: its own copy of ``start_model`` (counted by the pass
    counter), ``options`` changed, its own history and no monitor yet."""
    trial = copy.copy(ctx)
    trial.model = copy.deepcopy(start_model)
    trial.options = ctx.options.model_copy(update=options)
    trial.history, trial.monitor = [], None
    if ctx.passes is not None:
        ctx.passes.watch(trial.model)
    return trial


def cost_budget(ctx, options: StopOptions) -> float | None:
    """``max_cost`` × the passes of one retraining on D_r (2 · epochs · |D_r|, :func:`training_passes`) with the
    run's train_config (the library default where none was given); None without a cap."""
    if options.max_cost is None:
        return None
    epochs = (ctx.train_config or TrainConfig()).epochs
    return options.max_cost * training_passes(epochs, len(ctx.split.retain))


def unmoved(gaps: list[float], g0: float, tol: float) -> bool:
    """Whether proxy gaps all stay within ``tol`` × θ_o's gap ``g0`` of it (``flat_tol``; 0: off, never unmoved)."""
    return tol > 0 and all(abs(g - g0) <= tol * g0 for g in gaps)


def search_lr(method, ctx, options: StopOptions) -> dict:
    """``stop="auto"`` for a gradient method: run it from θ_o at its lr × each of ``options.lr_factors`` (and ×
    each of ``options.lr_lower`` when the first run kept θ_o, peaked at its first evaluation or diverged), each run
    auto-stopped by its own :class:`Monitor` with the same seed — then, for ``options.lr_refine`` rounds while the
    best run's last state was its best (its epochs ran out while it still improved; a last reading within
    ``END_BLIP`` of the one before counts as that end) or the next larger lr tried
    never beat θ_o (it diverged or over-forgot from its first evaluation on, so the best lr may lie between the
    two), a larger lr: the geometric midpoint with the next larger lr tried, or × 10 above the largest; then, for
    ``options.epoch_refine`` rounds while a run ran out of epochs with its proxy gap still falling (its last
    evaluation its lowest, or the one before a last reading within ``END_BLIP`` of it; kept or refused for damage,
    ≥ 1 % below the evaluation before it, at or below the best kept gap),
    that lr again with twice that run's epochs (up to ``epoch_max_factor`` × the method's); then, for ``options.step_refine`` rounds while
    the kept run's next evaluation had a lower proxy gap but was refused for damage, a re-run of that lr (the
    same trajectory) evaluated at three steps between the two; no run after the first once the passes spent reach
    ``options.max_cost`` × one retraining's (:func:`cost_budget`) — and leave in ``ctx.model`` the kept state
    with the lowest proxy gap (θ_o when no run beat it; the earlier run on ties).

    Why: the step at which to stop only helps when the method's lr can reach a good state within its
    epochs. Default settings chosen on one scenario are too weak for some (ft and ga keep a class) and too
    strong for others (rl and bad_teacher over-forget random samples at the first evaluation); the proxy
    can rank the runs as it ranks the steps. The cost is one more run, and up to seven more where the descent,
    the ascent or the step refinement run (a refinement re-run stops at its last step), measured in
    ``benchmarks/defaults_transfer.py``. ``ctx.history`` gets every run's curve (its entries
    carry ``lr``) and one ``auto_stop`` summary: the chosen run's, with ``lr``, ``lr_factor`` and the
    ``runs`` tried."""
    start_model = copy.deepcopy(ctx.model)
    base_lr, base_epochs = ctx.options.lr, ctx.options.epochs
    ref = shared_reference(ctx, options)  # one reference from θ_o for every run (trials copy ctx)
    budget = cost_budget(ctx, options)
    capped: list[int] = []  # the number of runs when the cost cap stopped the search (at most one entry)

    def affordable() -> bool:  # another run is within max_cost × one retraining's passes
        if budget is None or ctx.passes is None or ctx.passes.forward + ctx.passes.backward < budget:
            return True
        if not capped:
            capped.append(len(runs))
        return False

    runs: list[dict] = []
    best: tuple[float, dict | None, dict | None] = (math.inf, None, None)  # (gap, state, summary)
    # (lr factor, epochs, damage scale) → step → proxy values (runs at one lr, length and damage scale share a trajectory)
    evals: dict[tuple[float, int, float], dict[int, dict]] = {}

    damage_name = method.damage_option  # a regulariser's weight the search may lower (l1_sparse: "l1")
    damage_base = getattr(ctx.options, damage_name) if damage_name else None
    scale = [1.0]  # the damage option's multiples, the current one first (damage_lower lowers it)

    def run(
        factor: float, at_steps: tuple[int, ...] | None = None, epochs: int | None = None, at: float | None = None
    ) -> dict:
        nonlocal best
        epochs = epochs or base_epochs
        at = scale[0] if at is None else at  # the damage option's multiple: the search's current one by default
        exact = {} if at_steps is None else {"stopping": options.model_copy(update={"at_steps": at_steps})}
        if damage_name and at != 1.0:
            exact[damage_name] = damage_base * at
        trial = trial_context(ctx, start_model, lr=base_lr * factor, epochs=epochs, **exact)
        torch.manual_seed(ctx.seed)  # each run as if it were the only one
        try:
            method.unlearn(trial)
        except StopRun:
            pass
        summary = trial.monitor.finish() if trial.monitor is not None else None
        if summary is None:
            raise UnlearnkitError(f"method {method.name!r} ran without a stopping monitor; pass stop='none'")
        lr = base_lr * factor
        # the monitor's evaluations (by step); on_epoch's entries (by epoch) may carry a proxy_gap column too
        scored = [e for e in trial.history if "proxy_gap" in e and "step" in e]
        evals.setdefault((factor, epochs, at), {}).update((e["step"], e) for e in scored)
        if at_steps is None:
            ctx.history.extend({**e, "lr": lr, "epochs": epochs} for e in trial.history if "auto_stop" not in e)
        else:  # a re-run of a trajectory already recorded: only its new evaluations
            ctx.history.extend(
                {**e, "lr": lr, "epochs": epochs, "refined": True} for e in scored if e["step"] in at_steps
            )
        summary = {**summary, "lr": lr, "lr_factor": factor, "epochs": epochs, "damage_scale": at}
        if damage_name:
            summary[damage_name] = damage_base * at
        keys = ("lr", "lr_factor", "epochs", "best_step", "best_proxy_gap", "steps_run", "reason", "damage_scale")
        runs.append(
            {k: summary[k] for k in keys}
            | ({damage_name: summary[damage_name]} if damage_name else {})
            | ({"at_steps": list(at_steps)} if at_steps else {})
        )
        if summary["best_step"] and summary["best_proxy_gap"] < best[0] - options.min_delta:
            best = (summary["best_proxy_gap"], copy.deepcopy(trial.model.state_dict()), summary)
        elif best[2] is None:  # no run moved yet: θ_o's gap and this run's summary (θ_o kept)
            best = (summary["best_proxy_gap"], None, summary)
        # the method's regulariser cost more than the damage bound allows: the runs that follow use a lower one (no
        # run of its own: on a large data set one run can cost most of a retraining, and the cost cap would end
        # the search before the lr it needs)
        lowered = len(scale) - 1
        if at_steps is None and damage_name and damage_base and lowered < len(options.damage_lower):
            if damage_bound(summary):
                scale.insert(0, options.damage_lower[lowered])
        return summary

    def damage_bound(summary: dict) -> bool:  # at least half of its evaluated states refused for damage (≥ 2)
        evaluated = summary["evaluations"] - 1  # θ_o's own score is the first
        return evaluated >= 2 and 2 * summary["refused_for_damage"] >= evaluated

    def seen_by(r: dict) -> dict[int, dict]:  # the proxy values of r's trajectory by step (θ_o's at step 0)
        return evals.get((r["lr_factor"], r["epochs"], r["damage_scale"]), {})

    def flat(r: dict) -> bool:  # every evaluation within flat_tol of θ_o's proxy gap, no divergence: steps too small
        seen = seen_by(r)
        if r.get("at_steps") or r["reason"] == "divergence" or 0 not in seen:
            return False
        gaps = [v["proxy_gap"] for s, v in seen.items() if s > 0]
        return len(gaps) >= 2 and unmoved(gaps, seen[0]["proxy_gap"], options.flat_tol)

    def too_fast(summary: dict) -> bool:  # kept θ_o, or peaked at its first evaluation — and not for never moving
        return (not summary["best_step"] or summary["best_step"] == summary["first_evaluation"]) and not flat(summary)

    def near_end(r: dict, step: int) -> bool:  # ``step`` is r's last evaluation, or the one before a last within 2 %
        seen = seen_by(r)
        steps = sorted(seen)
        if not steps or step == steps[-1]:
            return bool(steps)
        last, before = seen[steps[-1]]["proxy_gap"], seen[step]["proxy_gap"]
        return len(steps) > 1 and step == steps[-2] and last <= before + max(options.min_delta, END_BLIP * before)

    def trending(r: dict, step: int) -> bool:  # ``step`` in r's last third of evaluations, none after it END_BLIP above
        seen = seen_by(r)
        steps = [k for k in sorted(seen) if k > 0]
        if step not in steps:
            return False
        i, g = steps.index(step), seen[step]["proxy_gap"]
        return 3 * i >= 2 * len(steps) and all(seen[k]["proxy_gap"] <= g + END_BLIP * abs(g) for k in steps[i + 1 :])

    def budget_bound(summary: dict) -> bool:  # still improving when its epochs ran out: its best at its end, or a
        # falling curve's best in its last third with no later reading END_BLIP above it (ft's × 10 run on a digits
        # class at a user's lr 0.002 fell 52.5 → 50.1 in 95 steps, its best at 80 of 95, and ended there)
        best = summary["best_step"]
        return summary["reason"] == "budget" and best > 0 and (near_end(summary, best) or trending(summary, best))

    def blocked(factor: float) -> bool:  # every run at this lr kept θ_o: too large from its first evaluation on
        same = [r for r in runs if math.isclose(r["lr_factor"], factor) and r["damage_scale"] == scale[0]]
        return all(not r["best_step"] for r in same)

    last = run(options.lr_factors[0])
    for f in options.lr_factors[1:]:
        if not affordable():
            break
        run(f)
    # a descent: each lower lr only while the last one was still too fast — or, for the first, diverged: the guard says
    # its lr is too large for the method's schedule, whatever it kept before (scrub's defaults on full Fashion-MNIST
    # class 0 kept a state at RA − 5 before its second max pass diverged; lr × 0.3: Avg.Gap 1.87 / 2.27 → 1.01 / 0.76).
    # Only the first: ga ends most runs by divergence, and descending on it past a run that was not too fast picked
    # a worse state (the fashion preset's class 0, 5.53 → 8.95)
    for i, f in enumerate(options.lr_lower):
        if not (too_fast(last) or (i == 0 and last["reason"] == "divergence")) or not affordable():
            break
        last = run(f)
    for _ in range(options.lr_refine):  # an ascent: a larger lr while the best run ran out of epochs improving,
        # or into the gap below the next larger lr when that one never beat θ_o (diverged or over-forgot at once),
        # or × 10 above the largest lr tried when that one never moved the proxy (flat)
        chosen = best[2]
        top = max(runs, key=lambda r: r["lr_factor"])
        if flat(top):
            f = top["lr_factor"] * 10.0
        else:
            if chosen is None or not chosen["best_step"]:
                break
            above = [r["lr_factor"] for r in runs if r["lr_factor"] > chosen["lr_factor"]]
            if not (budget_bound(chosen) or (above and blocked(min(above)))):
                break
            f = math.sqrt(chosen["lr_factor"] * min(above)) if above else chosen["lr_factor"] * 10.0
        if f > options.lr_max_factor or any(math.isclose(f, r["lr_factor"]) for r in runs) or not affordable():
            break
        run(f)

    def still_falling(r: dict) -> float | None:  # ran out of epochs at its lowest proxy gap: that gap, else None
        seen = seen_by(r)
        if r["reason"] != "budget" or r.get("at_steps") or not seen or max(seen) != r["steps_run"]:
            return None
        steps = sorted(seen)
        low = min(steps, key=lambda k: (seen[k]["proxy_gap"], k))
        if low == steps[0] or not near_end(r, low):
            return None  # its lowest is not at its end
        last = seen[low]["proxy_gap"]
        before = seen[steps[steps.index(low) - 1]]["proxy_gap"]
        falling = last < before - max(options.min_delta, 0.01 * before)  # not a plateau: ≥ 1 % into the lowest
        return last if falling and last <= best[0] else None

    for _ in range(options.epoch_refine):  # a longer run where one ran out of epochs still improving
        falling = [(g, r) for r in runs if (g := still_falling(r)) is not None]
        if not falling:
            break
        _, r = min(falling, key=lambda t: t[0])
        longer = 2 * r["epochs"]
        if (
            longer > options.epoch_max_factor * base_epochs
            or any(
                math.isclose(q["lr_factor"], r["lr_factor"])
                and q["epochs"] == longer
                and q["damage_scale"] == r["damage_scale"]
                for q in runs
            )
            or not affordable()
        ):
            break
        run(r["lr_factor"], epochs=longer, at=r["damage_scale"])
    for _ in range(options.step_refine):  # a closer look where the kept run crossed the damage bound
        gap, state, chosen = best
        if state is None or chosen is None:
            break
        f, b = chosen["lr_factor"], chosen["best_step"]
        seen = evals[(f, chosen["epochs"], chosen["damage_scale"])]
        n = min((s for s in seen if s > b), default=None)
        if n is None or keepable(seen[n], options) or seen[n]["proxy_gap"] >= gap:
            break  # the next state was worse, not refused: the kept one is a minimum at this resolution
        between = sorted({b + (n - b) * j // 4 for j in (1, 2, 3)} - set(seen) - {b})
        if not between or not affordable():
            break
        run(f, tuple(between), epochs=chosen["epochs"], at=chosen["damage_scale"])
    gap, state, summary = best
    with torch.no_grad():
        ctx.model.load_state_dict(state if state is not None else ctx.original.state_dict())
    assert summary is not None
    summary = {
        **summary,
        "runs": runs,
        "cost_capped_after": capped[0] if capped else None,  # runs done when max_cost ended the search, or None
        "cost_budget": budget,
        **reference_facts(ref),
    }
    if state is None:
        summary.update(best_step=0, lr=None, lr_factor=None, **kept_facts(ref.fa_o))
    ctx.record(auto_stop=summary)
    return summary


def kept_run(history: list[dict]) -> list[dict]:
    """The entries of the run a job kept: under ``stop="auto"``'s lr search every run's entries carry its
    ``lr`` and ``epochs``, and only the chosen run's (the first run's when θ_o was kept) belong in per-step plots
    (``epoch_refine`` runs an lr again with more epochs)."""
    auto = next((h["auto_stop"] for h in history if "auto_stop" in h), None)
    if not auto or not auto.get("runs"):
        return history
    chosen = auto if auto.get("lr") is not None else auto["runs"][0]
    lr, ep = chosen["lr"], chosen.get("epochs")
    return [h for h in history if h.get("lr", lr) == lr and h.get("epochs", ep) == ep]


def refine_points(tried: list[tuple[float, str]]) -> list[float]:
    """Values for one refinement round of the strength search: the geometric midpoints between the kept
    best (``"best"``) and its neighbours in value order, or, when no value was kept (θ_o stays), between
    each neighbouring pair that straddles the damage bound (``"refused"`` next to ``"kept"`` or
    ``"noop"``) — a factor of 2 between candidates can step over the strength that forgets without
    costing accuracy. ``tried``: (value, status) with status in best / kept / refused / noop."""
    pts = sorted((v, st) for v, st in tried if v > 0)
    has_best = any(st == "best" for _, st in pts)
    out = []
    for (a, sa), (b, sb) in zip(pts, pts[1:]):
        pair = {sa, sb}
        if ("best" in pair) if has_best else ("refused" in pair and bool(pair & {"kept", "noop"})):
            out.append(math.sqrt(a * b))
    return out
