"""``stop: auto`` for a one-shot method: a 1-D search over its strength option, the proxy picking."""

from __future__ import annotations

import copy
from typing import Any, Callable, Literal, NamedTuple

import torch

from ..errors import UnlearnkitError
from ..passes import evaluating


from .facts import kept_facts, reference_facts
from .lr_search import refine_points, trial_context, unmoved
from .monitor import keepable, shared_reference
from .options import StopOptions


class StrengthPath(NamedTuple):
    """A one-shot method's strength as a path: ``place(value)`` sets ``ctx.model`` to the result at that
    strength of ``option`` and returns it; the search tries ``centre`` × its factors. ``then``, for a method
    with a second strength knob: given the value the search chose for ``option`` (its centre where θ_o was
    kept), that knob's path at it, searched next (ssd: λ at the chosen α); ``weaker``: which way this path's
    option weakens the method (None: the method's ``strength_weaker``)."""

    option: str
    centre: float
    place: Callable[[float], Any]
    then: Callable[[float], "StrengthPath"] | None = None
    weaker: Literal["smaller", "larger"] | None = None


def search_strength(method, ctx, option: str, options: StopOptions) -> dict:
    """Run a one-shot ``method`` at ``option`` × each of ``options.strength_factors`` (around the method's
    :meth:`~unlearnkit.methods.base.Method.strength_path` centre where it has one, moving along the path;
    else rerunning it on copies of θ_o), score each with the proxy and leave the best (θ_o itself
    included) in ``ctx.model``. Up to ``options.strength_extend`` values past the end of the range follow (× 4 or
    ÷ 4 each): toward the method's weaker end (``strength_weaker``) while every value was refused for damage,
    or one step stronger while the best is the strongest value tried or while no value moved the proxy by more
    than ``flat_tol`` of θ_o's gap (or the method refused it); then
    ``options.strength_refine`` rounds try the geometric midpoints around the best (:func:`refine_points`).
    A path with a second knob (``StrengthPath.then``) is searched the same way next, at the value chosen for
    the first (coordinate search; the summary's ``then`` and ``best_options`` say what it tried and chose)."""
    ref = shared_reference(ctx, options)
    start_model = copy.deepcopy(ctx.model)  # θ_o as the method receives it (trainable)
    start = dict(ref.values_o)  # θ_o's score, computed with the reference
    ctx.record(step=0, strength=0.0, **start)
    path = method.strength_path(ctx)
    if path is None:
        centre = getattr(ctx.options, option)
        if centre is None:
            raise UnlearnkitError(
                f"method {method.name!r}: stop='auto' searches {option!r} around its value, but it is None; "
                f"set {option} or pass stop='none'"
            )
        path = StrengthPath(option, centre, lambda v: method.unlearn(trial_context(ctx, start_model, **{option: v})))
    # the best so far: (the options that gave it, None for θ_o; its proxy gap; its state)
    best: tuple[dict | None, float, dict | None] = (None, start["proxy_gap"], None)
    kept_fa = [ref.fa_o]  # the best state's forget_accuracy (θ_o's until a strength beats it)
    refused = 0

    def stage(p: StrengthPath, fixed: dict, status: dict[float, str]) -> list[float]:
        """Search ``p``'s option with the options in ``fixed`` held; ``status`` (value → best / kept / refused /
        noop) may hold values already scored. Returns the values tried, in order."""

        gaps: dict[float, float | None] = {}  # value → its proxy gap (None: the method refused the value)

        def trial(value: float) -> None:
            nonlocal best, refused
            try:
                out = p.place(value)
            except UnlearnkitError as e:  # a strength the method refuses (e.g. ssd's α that selects nothing)
                ctx.record(strength=value, option=p.option, skipped=str(e))
                status[value] = "noop"
                gaps[value] = None
                return
            with evaluating(ctx.passes):
                values = ref.evaluate(out)
            gaps[value] = values["proxy_gap"]
            ctx.record(strength=value, option=p.option, **values)
            if not keepable(values, options):
                status[value] = "refused"
                refused += 1
            elif values["proxy_gap"] < best[1] - options.min_delta:
                for k, st in status.items():
                    if st == "best":
                        status[k] = "kept"
                state = {k: v.detach().clone() for k, v in out.state_dict().items()}
                best = ({**fixed, p.option: value}, values["proxy_gap"], state)
                with evaluating(ctx.passes):  # a new best only: one pass over the D_f sample
                    kept_fa[0] = ref.forget_accuracy(ref.forget_logits(out))
                status[value] = "best"
            else:
                status[value] = "kept" if values["proxy_gap"] < start["proxy_gap"] else "noop"

        tried = []
        for value in (p.centre * f for f in options.strength_factors):
            if value not in status:
                trial(value)
            tried.append(value)
        weaker = 4.0 if (p.weaker or method.strength_weaker) == "larger" else 0.25  # one step toward the weaker end
        for _ in range(options.strength_extend):  # past the end of the range tried, while the answer may lie there
            values = sorted(v for v in status if v > 0)
            if not values:
                break
            weakest, strongest = (values[-1], values[0]) if weaker > 1 else (values[0], values[-1])
            mine = next((v for v, st in status.items() if st == "best"), None)  # this stage's best, if it holds one
            scored = [g for g in gaps.values() if g is not None]
            flat = all(st == "noop" for st in status.values()) and unmoved(scored, start["proxy_gap"], options.flat_tol)
            if all(st == "refused" for st in status.values()):  # every value cost too much: further toward weaker
                value = weakest * weaker
            elif mine is not None and len(values) > 1 and mine == strongest:
                value = mine / weaker  # the best is the strongest tried: one step stronger (not weaker: θ_o is there)
            elif flat:  # no value moved the proxy (or the method refused it as selecting nothing): too weak
                value = strongest / weaker
            else:
                break
            if value in status:
                break
            trial(value)
            tried.append(value)
        for _ in range(options.strength_refine):
            extra = [v for v in refine_points(list(status.items())) if v not in status]
            for value in extra:
                trial(value)
            tried += extra
        return tried

    status: dict[float, str] = {}
    tried = stage(path, {}, status)
    chosen = best[0][path.option] if best[0] is not None else None
    then = None
    if path.then is not None:  # the second knob, at the first's chosen value (its centre where θ_o was kept)
        at = chosen if chosen is not None else path.centre
        second = path.then(at)
        # the point (at, second's centre) was scored in the first stage where ``at`` was tried there
        seeded = {second.centre: status[at]} if at in status else {}
        before = best[0]
        tried_then = stage(second, {path.option: at}, seeded)
        then = {
            "option": second.option,
            "at": {path.option: at},
            "centre": second.centre,
            "tried": tried_then,
            # a new best can only have come from this stage (it holds the second option); else None
            "best_value": best[0][second.option] if best[0] is not before and best[0] is not None else None,
        }
    value_options, gap, state = best
    with torch.no_grad():
        ctx.model.load_state_dict(state if state is not None else ctx.original.state_dict())
    summary = {
        "option": path.option,
        "best_value": value_options[path.option] if value_options is not None else None,
        "best_options": value_options,
        "best_proxy_gap": gap,
        "centre": path.centre,
        "refused_for_damage": refused,
        "tried": tried,
        **({"then": then} if then is not None else {}),
        "reason": "strength search",
        **reference_facts(ref),
        **kept_facts(kept_fa[0]),
    }
    ctx.record(auto_stop=summary)
    return summary
