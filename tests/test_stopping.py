"""stop='auto' (scripted proxy curves, GA's cliff, the strength search) and the divergence guards."""

import copy
import math
import warnings

import numpy as np
import pytest
import torch
from pydantic import Field

import unlearnkit as uk
from helpers import Smoothed
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.predict import predict_logits
from unlearnkit.eval.proxy import ProxyReference
from unlearnkit.methods import METHODS, Method, MethodOptions
from unlearnkit.stopping import STOP_CHOICES, StopOptions, best_step, check_stop, keepable, refine_points


def auto_summary(res):
    return next(h["auto_stop"] for h in res.history if "auto_stop" in h)


def curve(res):
    return [(h["step"], h["proxy_gap"]) for h in res.history if "proxy_gap" in h and "step" in h]


def test_stop_typo_lists_the_choices(digits, random_split, theta_o):
    assert STOP_CHOICES == ("auto", "none") and check_stop("auto") == "auto"
    with pytest.raises(uk.UnlearnkitError, match=r"'auto', 'none', got 'atuo'.*Did you mean 'auto'"):
        uk.unlearn(theta_o, digits, random_split, "ga", stop="atuo", device="cpu")
    with pytest.raises(uk.UnlearnkitError, match=r"stop: Input should be 'auto' or 'none'"):
        uk.unlearn(theta_o, digits, random_split, "ga", options={"stop": "atuo"}, device="cpu")


def test_refine_points_by_hand():
    # around the best: the midpoints to both neighbours (value order, whatever their status)
    assert refine_points([(1.0, "refused"), (2.0, "best"), (4.0, "kept"), (8.0, "noop")]) == pytest.approx(
        [2**0.5, 8**0.5]
    )
    assert refine_points([(4.0, "best"), (1.0, "kept"), (2.0, "kept")]) == pytest.approx([8**0.5])
    # nothing kept: across the damage bound, where a refused value meets one that changed nothing
    assert refine_points([(1.0, "refused"), (2.0, "refused"), (4.0, "refused"), (8.0, "noop")]) == pytest.approx(
        [32**0.5]
    )
    assert refine_points([(1.0, "noop"), (2.0, "noop")]) == []
    assert refine_points([]) == []


def test_best_step_prefers_the_earliest_minimum():
    assert best_step([(0, 5.0), (5, 3.0), (10, 3.0), (15, 4.0)]) == 5
    assert best_step([(0, 5.0), (5, 4.9), (10, 1.0)], min_delta=0.5) == 10
    assert best_step([(0, 1.0), (5, 2.0)]) == 0


# ft is these tests' plain gradient method; its settle (no patience or overshoot stop in its first epochs, tested on
# its own below) would shift the scripted curves' stopping points, so they run it without one
PLAIN_FT = {"settle_epochs": 0}


@pytest.fixture
def scripted(monkeypatch):
    """Replace the proxy by a scripted curve; remember the model state seen at each evaluation."""
    seen = []

    def install(values, damage=(), se=()):
        it = iter(values)
        hurt = iter(damage)
        hurt_se = iter(se)
        real_forward = ProxyReference.forward

        def forward(self, model, retain=slice(None)):
            seen.append(copy.deepcopy(model.state_dict()))
            return real_forward(self, model, retain)

        pending = []  # a screening evaluation's values, which its whole-sample evaluation (if any) repeats

        def evaluate_logits(self, lg):
            if len(lg["retain"]) == len(self.retain) and pending:
                v, d, e = pending.pop()
            else:
                v, d, e = next(it, 50.0), next(hurt, 0.0), next(hurt_se, 0.0)
                pending.clear()
                if len(lg["retain"]) < len(self.retain):
                    pending.append((v, d, e))
            return {
                "proxy_gap": v,
                "proxy_fa": v,
                "proxy_mia": 0.0,
                "proxy_dist": 0.0,
                "proxy_damage": d,
                "proxy_ra_loss": d,  # all of the scripted damage is RA
                "proxy_ra_loss_se": e,
            }

        monkeypatch.setattr(ProxyReference, "forward", forward)
        monkeypatch.setattr(ProxyReference, "evaluate_logits", evaluate_logits)
        return seen

    return install


def test_auto_stop_picks_the_best_step_of_a_scripted_curve(digits, random_split, theta_o, scripted):
    # θ_o then one value per evaluation; the minimum is the 3rd evaluation after the start
    seen = scripted([10.0, 8.0, 6.0, 3.0, 5.0, 4.0, 7.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0])
    opts = dict(epochs=3, lr=0.01, stopping=dict(every=0.25, patience=10, overshoot=100))
    res = uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu")
    s = auto_summary(res)
    k = s["every"]
    steps = [st for st, _ in curve(res)]
    assert steps[:4] == [0, k, 2 * k, 3 * k]
    assert s["best_step"] == 3 * k and s["best_proxy_gap"] == 3.0
    # the returned model is exactly the state the proxy saw at that step (seen[0]: θ_o's one pass, which
    # builds the reference and scores the start)
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, seen[3][name]), name


def test_auto_evaluates_at_most_max_interval_steps_apart(digits, random_split, theta_o, scripted):
    """Batch 4: an epoch of ft is ~300 steps, so half an epoch is ~150; max_interval 50 caps the spacing."""
    stopping = dict(patience=10, overshoot=100, lr_factors=(1.0,), max_interval=50)
    opts = dict(epochs=1, lr=0.001, retain_batch_size=4, stopping=stopping)
    scripted([10.0] * 50)
    res = uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu")
    s = auto_summary(res)
    # early evaluations at every/2, every/4 (≥ early_min 10 steps), then every 50 steps
    assert s["every"] == 50 and s["evaluations"] == 1 + 2 + math.ceil(s["steps_run"] / 50)
    assert [st for st, _ in curve(res)][:6] == [0, 12, 25, 50, 100, 150]
    scripted([10.0] * 50)
    opts["stopping"]["early_min"] = None  # off: the regular spacing alone
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu"))
    assert s["every"] == 50 and s["evaluations"] == 1 + math.ceil(s["steps_run"] / 50)
    scripted([10.0] * 50)
    opts["stopping"]["max_interval"] = None
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu"))
    assert s["every"] == round(s["steps_run"] / 2) > 50


def test_auto_never_keeps_a_state_that_lost_too_much_accuracy(digits, random_split, theta_o, scripted):
    """The lowest proxy gap (1.0) comes with 6 points of damage (> max_damage 5): the next best is kept."""
    scripted([10.0, 4.0, 1.0, 3.0] + [9.0] * 50, damage=[0.0, 2.0, 6.0, 5.0])
    opts = dict(epochs=2, lr=0.01, stopping=dict(every=0.25, patience=10, overshoot=100))
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu"))
    assert s["best_proxy_gap"] == 3.0 and s["best_step"] == 3 * s["every"] and s["refused_for_damage"] == 1
    scripted([10.0, 4.0, 1.0, 3.0] + [9.0] * 50, damage=[0.0, 2.0, 6.0, 5.0])
    opts["stopping"]["max_damage"] = 10.0  # the bound is an option
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu"))
    assert s["best_proxy_gap"] == 1.0 and s["refused_for_damage"] == 0


def test_keepable_bounds_ra_with_its_error_and_held_out_accuracy_apart():
    """By hand: RA loss + 2 SE ≤ max_damage (5) and held-out loss (proxy_damage − proxy_ra_loss) ≤
    max_unseen_damage (10), each on its own — not their sum against 5."""

    def v(damage: float, ra: float, se: float) -> dict:
        return {"proxy_damage": damage, "proxy_ra_loss": ra, "proxy_ra_loss_se": se}

    o = StopOptions()
    assert keepable(v(8.0, 0.0, 0.0), o)  # 8 held-out points, no RA loss: kept (the old sum rule refused it)
    assert not keepable(v(10.5, 0.0, 0.0), o)  # 10.5 held-out points
    assert keepable(v(13.0, 4.0, 0.5), o)  # RA 4 + 2 × 0.5 = 5, held-out 9
    assert not keepable(v(13.0, 4.0, 0.51), o)  # RA bound 5.02
    assert not keepable(v(14.5, 4.0, 0.0), o)  # held-out 10.5
    assert not keepable(v(5.5, 5.5, 0.0), o)  # RA alone over 5
    tight = StopOptions(max_unseen_damage=8.0)
    assert keepable(v(8.0, 0.0, 0.0), tight) and not keepable(v(8.5, 0.0, 0.0), tight)


def test_auto_refuses_a_state_whose_damage_may_exceed_the_bound(digits, random_split, theta_o, scripted):
    """The lowest gap (1.0) lost 4 ± 0.8 RA points (standard error): 4 + 2 × 0.8 > 5, so it is refused under
    the default damage_z 2, and kept with damage_z 1 (4.8) or 0 (the estimate alone); 3.0 has 3 + 2 × 1 = 5 ≤ 5."""
    curve = [10.0, 4.0, 1.0, 3.0] + [9.0] * 50
    damage, se = [0.0, 0.0, 4.0, 3.0], [0.0, 0.0, 0.8, 1.0]
    opts = dict(epochs=2, lr=0.01, stopping=dict(every=0.25, patience=10, overshoot=100))
    scripted(curve, damage, se)
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu"))
    assert s["best_proxy_gap"] == 3.0 and s["refused_for_damage"] == 1
    for z in (1.0, 0.0):
        scripted(curve, damage, se)
        opts["stopping"]["damage_z"] = z
        s = auto_summary(uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu"))
        assert s["best_proxy_gap"] == 1.0 and s["refused_for_damage"] == 0


def test_auto_stop_patience_and_overshoot(digits, random_split, theta_o, scripted):
    scripted([10.0, 5.0] + [6.0] * 50)
    res = uk.unlearn(
        theta_o,
        digits,
        random_split,
        "ft",
        options=dict(**PLAIN_FT, epochs=5, stopping=dict(patience=0.5)),
        device="cpu",
    )
    s = auto_summary(res)
    assert s["reason"].startswith("patience") and s["best_step"] == s["every"]
    per_epoch = math.ceil(len(random_split.retain) / 64)
    assert s["steps_run"] == s["every"] * (1 + math.ceil(0.5 * per_epoch / s["every"]))
    scripted([10.0, 5.0, 40.0, 1.0])  # one run (no lr search): it stops at 40, never reaching the 1.0
    res = uk.unlearn(
        theta_o,
        digits,
        random_split,
        "ft",
        options=dict(**PLAIN_FT, epochs=5, stopping=dict(overshoot=20, lr_factors=(1.0,))),
        device="cpu",
    )
    s = auto_summary(res)
    assert s["reason"].startswith("overshoot") and s["steps_run"] == 2 * s["every"] and s["best_proxy_gap"] == 5.0


def test_a_scheduled_objective_is_not_stopped_before_it_settles(digits, random_split, theta_o, scripted):
    """l1_sparse's penalty decays to 0 at its last step, so a proxy that rises mid-schedule (the penalty's
    transient) and falls later must not end the run: no overshoot or patience stop before ``settles_at``, and
    the later, lower state is kept. ft with ``settle_epochs=0`` on the same curve stops at the rise."""
    curve = [10.0, 5.0, 40.0, 30.0, 20.0, 1.0] + [3.0] * 50
    opts = dict(epochs=4, stopping=dict(overshoot=20, patience=0.5, lr_factors=(1.0,), early_min=None))
    scripted(curve)
    s = auto_summary(
        uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, "settle_epochs": 0}, device="cpu")
    )
    assert s["reason"].startswith("overshoot") and s["best_proxy_gap"] == 5.0 and s["settles_at"] == 0
    scripted(curve)
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "l1_sparse", options=opts, device="cpu"))
    total = 4 * math.ceil(len(random_split.retain) / 64)
    assert s["settles_at"] == total == s["steps_run"]  # ran to its last step (where patience may then speak)
    assert s["best_proxy_gap"] == 1.0 and s["best_step"] == 5 * s["every"]
    # scrub: the end of its last epoch with a max-step pass (that epoch's min-step pass included)
    scripted(curve)
    res = uk.unlearn(theta_o, digits, random_split, "scrub", options={**opts, "msteps": 1}, device="cpu")
    s = auto_summary(res)
    settled = math.ceil(len(random_split.forget) / 32) + math.ceil(len(random_split.retain) / 64)
    assert s["settles_at"] == settled <= s["steps_run"]


def test_ft_is_not_stopped_while_its_effect_on_the_forget_set_builds_up(digits, random_split, theta_o, scripted):
    """ft reaches D_f only through D_r: a proxy flat for the first epochs and lower later must not end its run on
    patience (``settle_epochs``, 2 by default); with ``settle_epochs=0`` the flat start ends it and θ_o is kept."""
    curve = [10.0, 10.0, 10.0, 10.0, 2.0] + [3.0] * 50  # θ_o, then evaluations every half epoch
    opts = dict(epochs=4, stopping=dict(overshoot=20, patience=0.5, lr_factors=(1.0,), early_min=None))
    scripted(curve)
    s = auto_summary(
        uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, "settle_epochs": 0}, device="cpu")
    )
    assert s["reason"].startswith("patience") and s["best_step"] == 0 and s["steps_run"] == s["every"]
    scripted(curve)
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "ft", options=opts, device="cpu"))
    assert s["settles_at"] == math.ceil(2 * math.ceil(len(random_split.retain) / 64))
    assert s["best_proxy_gap"] == 2.0 and s["best_step"] == 4 * s["every"]


def test_theta_o_is_a_candidate_and_kept_with_a_warning(digits, random_split, theta_o, scripted):
    scripted([1.0] + [5.0] * 50)
    with pytest.warns(RuntimeWarning, match="did not change the model: stop='auto' kept θ_o") as rec:
        res = uk.unlearn(theta_o, digits, random_split, "rl", device="cpu")
    s = auto_summary(res)
    assert s["best_step"] == 0
    # the warning says what the proxy's targets rest on: the held-out samples of D_f's classes
    ref = ProxyReference.build(theta_o, digits, random_split)
    assert s["held_out"] == len(ref.unseen) > 0 and s["partial"] and s["target_fa"] == ref.target_fa
    assert s["prior"] == (ref.prior if math.isfinite(ref.prior) else None)  # JSON-safe: None = pooled
    assert s["forget_fa"] == ref.forget_fa == 100.0 and s["forget_partial"] == len(ref.forget)  # θ_o memorised D_f
    # the effective number of held-out samples behind the weighted targets: at most all of them
    assert s["held_out_eff"] == pytest.approx(1 / np.sum(ref.ref_w**2)) and 1 < s["held_out_eff"] <= s["held_out"]
    msg = next(str(w.message) for w in rec if "kept θ_o" in str(w.message))
    assert f"from {len(ref.unseen)} held-out samples, on which θ_o is {ref.target_fa:.1f} % accurate" in msg
    assert all(torch.equal(a, b) for a, b in zip(res.model.state_dict().values(), theta_o.state_dict().values()))


def test_a_state_within_flat_tol_of_theta_o_is_kept_with_a_warning(digits, random_split, theta_o, scripted):
    """A kept state whose proxy gap is lower than θ_o's by less than ``stopping.flat_tol`` × θ_o's reads like θ_o:
    the call says so (ft, which has no forget term, is told that a method with one may remove D_f); 2 % lower is a
    state that moved, and 0.5 % lower with ``flat_tol`` 0 too."""
    opts = dict(epochs=2, stopping=dict(lr_factors=(1.0,), lr_lower=(), lr_refine=0, epoch_refine=0, step_refine=0))

    def run(curve, method="rl", extra=None, **stopping):
        scripted(curve)
        options = {**opts, **(extra or {}), "stopping": {**opts["stopping"], **stopping}}
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            res = uk.unlearn(theta_o, digits, random_split, method, options=options, device="cpu")
        return auto_summary(res), [str(w.message) for w in rec if "barely changed" in str(w.message)]

    s, said = run([10.0, 9.95] + [12.0] * 50)
    assert s["best_step"] > 0 and s["best_proxy_gap"] == 9.95 and s["original_proxy_gap"] == 10.0
    assert len(said) == 1 and "(9.950) is within stopping.flat_tol (0.01 × θ_o's) of θ_o's (10.000)" in said[0]
    assert "raise its lr or epochs" in said[0] and "no forget term" not in said[0]
    s, said = run([10.0, 9.95] + [12.0] * 50, method="ft", extra={"settle_epochs": 0})
    assert s["best_step"] > 0 and len(said) == 1 and "it has no forget term" in said[0]
    assert run([10.0, 9.8] + [12.0] * 50)[1] == []  # 2 % lower: it moved
    assert run([10.0, 9.95] + [12.0] * 50, flat_tol=0.0)[1] == []  # the check off


def test_method_option_overrides_the_library_stop(digits, random_split, theta_o):
    res = uk.unlearn(
        theta_o, digits, random_split, "ga", options=dict(stop="none", epochs=1), stop="auto", device="cpu"
    )
    assert not any("auto_stop" in h for h in res.history)
    res = uk.unlearn(theta_o, digits, random_split, "ga", options=dict(epochs=1), device="cpu")  # auto by default
    assert auto_summary(res)["evaluations"] >= 2


def test_guard_raises_under_none_naming_method_step_and_fix(digits, random_split, theta_o):
    with pytest.raises(uk.UnlearnkitError, match=r"method 'rl' diverged at step \d+: .*; lower lr \(now 100"):
        uk.unlearn(theta_o, digits, random_split, "rl", options=dict(lr=100.0, epochs=3), stop="none", device="cpu")


def test_guard_factor_is_configurable(digits, class_split, theta_o):
    # GA on a whole class at lr 0.01 grows the logits well past 1.5× θ_o's within 3 epochs
    with pytest.raises(uk.UnlearnkitError, match=r"logit norm on D_r grew .*logit_factor 1.5"):
        uk.unlearn(
            theta_o,
            digits,
            class_split,
            "ga",
            options=dict(lr=0.01, epochs=3, stopping=dict(logit_factor=1.5, param_factor=100)),
            stop="none",
            device="cpu",
        )


def test_guard_rolls_back_under_auto(digits, random_split, theta_o):
    match = (
        r"method 'rl' diverged at step \d+: .*rolled back to step \d+ \(stop='auto'.*the model returned is that earlier"
    )
    with pytest.warns(RuntimeWarning, match=match):
        res = uk.unlearn(theta_o, digits, random_split, "rl", options=dict(lr=100.0, epochs=3), device="cpu")
    s = auto_summary(res)
    assert s["reason"] == "divergence" and s["warnings"]
    assert all(torch.isfinite(p).all() for p in res.model.parameters())
    ref = ProxyReference.build(theta_o, digits, random_split)
    assert ref.evaluate(res.model)["proxy_gap"] == pytest.approx(s["best_proxy_gap"])


def test_ga_stops_before_its_cliff(digits, class_split, theta_o):
    """GA with a large lr and many epochs (a cliff without auto-stop) ends at its best proxy step."""
    o = dict(lr=0.01, epochs=20)
    ev = Evaluation(digits, class_split, torch.device("cpu"), original=theta_o)
    acc = METRICS.get("accuracy")()
    ra_o = acc.compute(theta_o, ev)["RA"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = uk.unlearn(theta_o, digits, class_split, "ga", options=o, device="cpu")
    s, c = auto_summary(res), curve(res)
    assert s["best_proxy_gap"] == min(v for _, v in c)
    ref = ProxyReference.build(theta_o, digits, class_split)
    assert ref.evaluate(res.model)["proxy_gap"] == pytest.approx(s["best_proxy_gap"])
    after = acc.compute(res.model, Evaluation(digits, class_split, torch.device("cpu")))
    assert after["RA"] >= ra_o - 5 and after["FA"] < 50, after
    with pytest.raises(uk.UnlearnkitError, match="diverged"):  # the same run without auto-stop falls off
        uk.unlearn(theta_o, digits, class_split, "ga", options=o, stop="none", device="cpu")


def test_tiny_change_warns_with_the_option_to_raise(digits, random_split, theta_o):
    with pytest.warns(RuntimeWarning, match=r"relative parameter change .* < min_change 0.0001\); raise its lr"):
        uk.unlearn(
            theta_o,
            digits,
            random_split,
            "ga",
            options=dict(lr=1e-9, epochs=1, momentum=0.0, weight_decay=0.0),
            stop="none",
            device="cpu",
        )


class ShrinkOptions(MethodOptions):
    strength: float = Field(0.2, gt=0)


class Shrink(Method):
    """Test one-shot method: θ ← (1 − strength)·θ."""

    name = "shrink_test"
    Options = ShrinkOptions
    strength_option = "strength"

    def unlearn(self, ctx):
        with torch.no_grad():
            for p in ctx.model.parameters():
                p.mul_(1 - ctx.options.strength)
        return ctx.model


def test_strength_search_picks_the_best_strength(digits, random_split, theta_o, monkeypatch):
    METHODS.add(Shrink.name, Shrink)
    try:
        n_o = float(torch.cat([p.flatten() for p in theta_o.parameters()]).norm())

        def evaluate(self, model):  # the proxy is best where ‖θ‖ = 0.6‖θ_o‖ (strength 0.4 = 0.2 × 2)
            r = float(torch.cat([p.flatten() for p in model.parameters()]).norm()) / n_o
            return {
                "proxy_gap": abs(r - 0.6),
                "proxy_fa": 0.0,
                "proxy_mia": 0.0,
                "proxy_dist": 0.0,
                "proxy_damage": 0.0,
                "proxy_ra_loss": 0.0,
                "proxy_ra_loss_se": 0.0,
            }

        monkeypatch.setattr(ProxyReference, "evaluate", evaluate)
        one = {"stopping": {"strength_refine": 1}}
        res = uk.unlearn(theta_o, digits, random_split, "shrink_test", options=one, device="cpu")
        s = auto_summary(res)
        assert s["option"] == "strength" and s["best_value"] == pytest.approx(0.4)
        # the grid, then one refinement round: the geometric midpoints around the best (0.4)
        assert s["tried"] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, (0.2 * 0.4) ** 0.5, (0.4 * 0.8) ** 0.5])
        # the default's three rounds close in on the best: each round's midpoints halve the log-distance
        d = auto_summary(uk.unlearn(theta_o, digits, random_split, "shrink_test", device="cpu"))
        assert d["tried"][:7] == pytest.approx(s["tried"]) and d["best_value"] == pytest.approx(0.4)
        assert d["tried"][7:] == pytest.approx(
            [0.4 * 2 ** (-k / 4) if i == 0 else 0.4 * 2 ** (k / 4) for k in (1, 0.5) for i in (0, 1)]
        )
        for a, b in zip(res.model.parameters(), theta_o.parameters()):
            assert torch.allclose(a, 0.6 * b)
        plain = uk.unlearn(theta_o, digits, random_split, "shrink_test", stop="none", device="cpu")
        for a, b in zip(plain.model.parameters(), theta_o.parameters()):
            assert torch.allclose(a, 0.8 * b)
    finally:
        METHODS._items.pop(Shrink.name)


def test_bench_config_stop_field(tmp_path):
    from unlearnkit.bench.config import load_config

    from unlearnkit.bench.config import BenchConfig

    assert BenchConfig(scenarios=[{"kind": "random"}], methods=["ft"]).stop == "auto"  # the default
    assert load_config("quick").stop == "none"  # a tuned preset pins its fixed schedule
    assert load_config("quick", overrides={"stop": "auto"}).stop == "auto"
    with pytest.raises(uk.UnlearnkitError, match=r"stop.*must be one of 'auto', 'none', got 'atuo'.*'auto'"):
        load_config("quick", overrides={"stop": "atuo"})


def test_cli_stop_typo_fails_before_work():
    from typer.testing import CliRunner

    from unlearnkit.cli import app

    out = CliRunner().invoke(app, ["unlearn", "--method", "ga", "--stop", "atuo"])
    assert out.exit_code == 2 and "'auto', 'none'" in out.output


def test_one_shot_methods_declare_their_strength_and_auto_searches_it(digits, class_split, theta_o):
    """ssd under stop='auto': α × {¼ … 4} is tried, then λ × {¼ … 4} at the chosen α, the proxy keeps the best
    (θ_o a candidate); an α that can select nothing (α ≥ |D|/|D_f|) is refused by ssd and recorded as skipped,
    not a crash."""
    from unlearnkit.methods import METHODS

    assert METHODS.get("ssd").strength_option == "alpha" and METHODS.get("if").strength_option == "scale"
    res = uk.unlearn(theta_o, digits, class_split, "ssd", device="cpu", seed=0)
    summary = next(h["auto_stop"] for h in res.history if "auto_stop" in h)
    assert summary["option"] == "alpha" and summary["tried"][:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert summary["partial"] is False  # a whole class: the targets are FA 0 and MIA 100, no held-out hint
    tried = [h for h in res.history if "strength" in h and h.get("strength", 0) > 0]
    alphas = [h["strength"] for h in tried if h["option"] == "alpha"]
    assert alphas == summary["tried"]  # the grid, then a refinement round
    assert any("skipped" in h for h in tried)  # |D|/|D_f| ≈ 10 for one digits class: α = 16 selects nothing
    then = summary["then"]
    at = summary["best_value"] if summary["best_value"] is not None else summary["centre"]
    assert then["option"] == "lam" and then["at"] == {"alpha": at} and then["tried"][:5] == [0.25, 0.5, 1.0, 2.0, 4.0]
    # λ = 1 at that α is the first stage's point: scored once
    assert [h["strength"] for h in tried if h["option"] == "lam"] == [v for v in then["tried"] if v != 1.0]
    assert len(tried) == len(alphas) + len(then["tried"]) - 1
    scored = [h for h in tried if "proxy_gap" in h and keepable(h, StopOptions())]
    start = next(h for h in res.history if h.get("strength") == 0.0)
    best = min([start["proxy_gap"]] + [h["proxy_gap"] for h in scored])
    assert summary["best_proxy_gap"] == best


def test_fisher_auto_searches_its_step_along_one_direction(digits, class_split, theta_o, monkeypatch):
    """fisher under stop='auto': the Fisher is computed once, the step × {¼ … 4} around the calibrated step is
    scored along that one direction, and the model kept is exactly the one at the chosen step (or θ_o)."""
    from unlearnkit.methods import fisher as fisher_mod

    calls = []
    real = fisher_mod.diagonal_fisher
    monkeypatch.setattr(fisher_mod, "diagonal_fisher", lambda *a, **k: calls.append(1) or real(*a, **k))
    res = uk.unlearn(theta_o, digits, class_split, "fisher", device="cpu", seed=0)
    assert len(calls) == 1  # one Fisher for the five strengths
    s = auto_summary(res)
    calibrated = next(h["step"] for h in res.history if h.get("calibrated"))
    assert s["option"] == "step" and s["centre"] == calibrated > 0
    assert s["tried"][:5] == pytest.approx([calibrated * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)])
    assert len(s["tried"]) > 5  # a refinement round around the best
    keep = StopOptions()  # the lowest gap among the strengths auto may keep (not over max_damage)
    scored = {h["strength"]: h["proxy_gap"] for h in res.history if "proxy_gap" in h and keepable(h, keep)}
    assert s["best_proxy_gap"] == min(scored.values()) and scored[s["best_value"] or 0.0] == s["best_proxy_gap"]
    assert s["best_value"] is not None  # on a class, some step beats keeping θ_o
    fixed = uk.unlearn(
        theta_o, digits, class_split, "fisher", device="cpu", seed=0, stop="none", options={"step": s["best_value"]}
    )
    for a, b in zip(res.model.state_dict().values(), fixed.model.state_dict().values()):
        assert torch.equal(a, b)  # the search's model is the method's own at that step


def test_lr_search_keeps_the_run_with_the_lowest_kept_proxy_gap(digits, random_split, theta_o, scripted):
    """Run ×1: θ_o 10, then 8, 6, then patience; run ×10: 9, 2 (the best), then patience. The search keeps
    run ×10's step-2 state, and ×0.3 is not tried (run ×1 peaked after its first evaluation)."""
    stop = dict(every=0.5, patience=1.0, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(0.3,))
    # θ_o's value (once: the runs share the reference), then per run one value per evaluation (every half
    # epoch; patience: 2 evaluations)
    seen = scripted([10.0, 8.0, 6.0, 7.0, 7.0] + [9.0, 2.0, 5.0, 5.0])
    opts = dict(epochs=3, lr=0.001, stopping=stop)
    res = uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu")
    s = auto_summary(res)
    assert [r["lr_factor"] for r in s["runs"]] == [1.0, 10.0]
    assert s["lr_factor"] == 10.0 and s["lr"] == pytest.approx(0.01) and s["best_proxy_gap"] == 2.0
    assert s["best_step"] == 2 * s["every"]
    # seen: the reference's θ_o pass (once: the runs share it, and it scores their start), then one pass per
    # evaluation (4 in each run); the kept model is the state run ×10's second evaluation saw
    assert len(seen) == 1 + 4 + 4
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, seen[1 + 4 + 1][name]), name
    assert {h["lr"] for h in res.history if "proxy_gap" in h} == {0.001, 0.01}


def test_lr_search_tries_a_lower_lr_when_the_first_run_peaks_at_once(digits, random_split, theta_o, scripted):
    stop = dict(every=0.5, patience=1.0, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(0.3,))
    scripted([10.0, 4.0, 8.0, 8.0] + [12.0, 12.0] + [9.0, 3.0, 6.0, 6.0])  # θ_o once, then each run's evaluations
    res = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=3, stopping=stop), device="cpu"
    )
    s = auto_summary(res)
    assert [r["lr_factor"] for r in s["runs"]] == [1.0, 10.0, 0.3]
    assert s["lr_factor"] == 0.3 and s["best_proxy_gap"] == 3.0


def test_lr_search_tries_a_lower_lr_when_the_first_run_diverges(digits, class_split, theta_o):
    """A run the divergence guard stopped had too large an lr for its schedule, whatever it kept before: × 0.3 runs
    even though × 1 kept a state after its first evaluation (GA on a class at lr 0.01, the logit guard at 1.5×)."""
    stop = dict(
        logit_factor=1.5, param_factor=100, lr_factors=(1.0, 10.0), lr_lower=(0.3,), lr_refine=0, epoch_refine=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = uk.unlearn(
            theta_o, digits, class_split, "ga", options=dict(lr=0.01, epochs=3, stopping=stop), device="cpu"
        )
    runs = auto_summary(res)["runs"]
    assert runs[0]["reason"] == "divergence" and runs[0]["best_step"] > 0
    assert [r["lr_factor"] for r in runs][:3] == [1.0, 10.0, 0.3]


def test_a_divergence_starts_the_lr_descent_but_does_not_continue_it(digits, class_split, theta_o):
    """Only the first run's divergence counts: × 0.3 diverges too, after keeping a state past its first evaluation,
    and × 0.1 does not run (ga ends most runs by divergence; descending on it picked worse states)."""
    stop = dict(
        logit_factor=1.2,
        param_factor=100,
        lr_factors=(1.0, 10.0),
        lr_lower=(0.3, 0.1),
        lr_refine=0,
        epoch_refine=0,
        step_refine=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = uk.unlearn(
            theta_o, digits, class_split, "ga", options=dict(lr=0.01, epochs=6, stopping=stop), device="cpu"
        )
    s = auto_summary(res)
    lower = s["runs"][2]
    assert lower["lr_factor"] == 0.3 and lower["reason"] == "divergence" and lower["best_step"] > s["first_evaluation"]
    assert [r["lr_factor"] for r in s["runs"]] == [1.0, 10.0, 0.3]


def test_a_damage_bound_run_lowers_the_methods_regulariser_for_the_runs_after_it(
    digits, random_split, theta_o, scripted
):
    """l1_sparse's ``l1`` is its damage option: every state of the first run (× 1) is refused for damage, so the
    next run of the search (× 10) uses γ × 0.1, no extra run; without the damage, γ stays."""
    stop = dict(
        every=0.5,
        early_min=None,
        patience=10,
        overshoot=100,
        lr_factors=(1.0, 10.0),
        lr_lower=(),
        lr_refine=0,
        epoch_refine=0,
        step_refine=0,
        damage_lower=(0.1,),
    )
    opts = dict(epochs=2, l1=2e-3, stopping=stop)
    # θ_o, then 4 evaluations a run: × 1 (all refused: RA −10), × 10 at γ/10
    scripted([10.0] + [3.0, 2.0, 2.0, 2.0] + [5.0, 4.0, 4.5, 4.5], damage=[0.0] + [10.0] * 4 + [0.0] * 4)
    with pytest.warns(RuntimeWarning, match=r"lowered l1 × 0.1 to 0.0002: .*damage_lower: \[\]"):
        res = uk.unlearn(theta_o, digits, random_split, "l1_sparse", options=opts, device="cpu")
    s = auto_summary(res)
    assert [(r["lr_factor"], r["l1"]) for r in s["runs"]] == [(1.0, 2e-3), (10.0, pytest.approx(2e-4))]
    assert s["best_proxy_gap"] == 4.0 and s["l1"] == pytest.approx(2e-4) and s["damage_scale"] == 0.1
    scripted([10.0] + [3.0, 2.0, 2.0, 2.0] + [9.0] * 4)  # the same curve, nothing refused
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "l1_sparse", options=opts, device="cpu"))
    assert [(r["lr_factor"], r["l1"]) for r in s["runs"]] == [(1.0, 2e-3), (10.0, 2e-3)] and s["best_proxy_gap"] == 2.0


def test_lr_search_descends_while_each_lower_lr_still_peaks_at_once(digits, random_split, theta_o, scripted):
    """lr_lower is a descent: × 0.3 peaks at its first evaluation too, so × 0.1 runs; it peaks later, so × 0.03
    does not run. The kept state is × 0.1's (the lowest kept gap over all runs)."""
    stop = dict(every=0.5, patience=1.0, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(0.3, 0.1, 0.03))
    scripted([10.0, 4.0, 8.0, 8.0] + [12.0, 12.0] + [5.0, 9.0, 9.0] + [9.0, 3.0, 6.0, 6.0] + [1.0] * 10)
    res = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=3, stopping=stop), device="cpu"
    )
    s = auto_summary(res)
    assert [r["lr_factor"] for r in s["runs"]] == [1.0, 10.0, 0.3, 0.1]
    assert s["lr_factor"] == 0.1 and s["best_proxy_gap"] == 3.0 and s["best_step"] == 2 * s["every"]


def test_lr_search_refines_upward_while_the_best_run_ends_still_improving(digits, random_split, theta_o, scripted):
    """One epoch, two evaluations a run. ×1 is still improving at its end (8, 6) and ×10 is worse (9, 12): the
    midpoint ×√10 runs (5, 3) and ends improving too, so round 2 tries the midpoint of √10 and 10 (4, 7); it
    does not beat 3, and the kept state is ×√10's last."""
    stop = dict(patience=10, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(0.3,), lr_refine=2, epoch_refine=0)
    seen = scripted([10.0] + [8.0, 6.0] + [9.0, 12.0] + [5.0, 3.0] + [4.0, 7.0] + [1.0] * 10)
    res = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=1, stopping=stop), device="cpu"
    )
    s = auto_summary(res)
    assert [r["lr_factor"] for r in s["runs"]] == pytest.approx([1.0, 10.0, 10**0.5, 10**0.75])
    assert s["lr_factor"] == pytest.approx(10**0.5) and s["best_proxy_gap"] == 3.0
    assert s["best_step"] == s["steps_run"]
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, seen[1 + 2 + 2 + 1][name]), name  # ×√10's second evaluation


def test_lr_search_ascends_above_the_largest_lr_up_to_lr_max_factor(digits, random_split, theta_o, scripted):
    """×10 is the best run and ends still improving: ×100 is tried (one round), unless lr_max_factor is below it;
    with lr_refine 0, or when the best run stopped before its end, nothing more runs."""
    curves = [10.0] + [8.0, 7.0] + [6.0, 2.0] + [12.0, 12.0] + [1.0] * 10

    def factors(**stop):
        scripted(curves)
        stop = dict(patience=10, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(), epoch_refine=0, **stop)
        res = uk.unlearn(
            theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=1, stopping=stop), device="cpu"
        )
        return [r["lr_factor"] for r in auto_summary(res)["runs"]]

    assert factors(lr_refine=1) == [1.0, 10.0, 100.0]
    assert factors(lr_refine=1, lr_max_factor=50.0) == [1.0, 10.0]
    assert factors(lr_refine=0) == [1.0, 10.0]
    scripted([10.0] + [8.0, 7.0] + [2.0, 6.0] + [1.0] * 10)  # ×10's best is its first evaluation: no ascent
    stop = dict(patience=10, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(), lr_refine=2, epoch_refine=0)
    res = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=1, stopping=stop), device="cpu"
    )
    assert [r["lr_factor"] for r in auto_summary(res)["runs"]] == [1.0, 10.0]


def test_lr_search_ascends_above_a_largest_lr_that_never_moved_the_proxy(digits, random_split, theta_o, scripted):
    """ft at lr 2e-4 (×100 stays clear of the divergence guard). ×1 reads θ_o's 10 at both evaluations and ×10 stays within 1 % of it (10.05, 9.99): steps too small to move
    the model. ×1 kept θ_o, but not for being too fast, so no lower lr runs; ×10 is the largest lr tried and flat,
    so ×100 runs (4, 3) and is kept. With flat_tol 0 the same curves start the descent instead and never reach
    ×100; a ×10 run that moved by 2 % (9.8, then 10.05: its best not at its end) ends the search."""

    def runs(curves, **stop):
        scripted(curves)
        stop = dict(patience=10, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(0.3,), lr_refine=1, **stop)
        stop |= dict(epoch_refine=0, step_refine=0)
        res = uk.unlearn(
            theta_o,
            digits,
            random_split,
            "ft",
            options=dict(**PLAIN_FT, lr=2e-4, epochs=1, stopping=stop),
            device="cpu",
        )
        return auto_summary(res)

    flat = [10.0] + [10.0, 10.0] + [10.05, 9.99] + [4.0, 3.0] + [20.0] * 10
    s = runs(flat)
    assert [r["lr_factor"] for r in s["runs"]] == [1.0, 10.0, 100.0]
    assert s["lr_factor"] == 100.0 and s["best_proxy_gap"] == 3.0
    assert [r["lr_factor"] for r in runs(flat, flat_tol=0.0)["runs"]][:3] == [1.0, 10.0, 0.3]
    moved = [10.0] + [10.0, 10.0] + [9.8, 10.05] + [4.0, 3.0] + [20.0] * 10
    assert [r["lr_factor"] for r in runs(moved)["runs"]] == [1.0, 10.0]


def test_lr_search_ascends_where_the_best_run_ran_out_of_epochs_on_a_falling_curve(
    digits, random_split, theta_o, scripted
):
    """Ten evaluations a run (every 0.1 epoch; lr_factors (1, 1): one lr run twice, the search on). ×1 falls to 5.5
    at its eighth and reads 5.6, 5.55 after: its best is in its last third and nothing after it is 2 % above, so it
    ran out of epochs still improving and ×10 runs. Where the best is the sixth (then 6.6 four times), or a later
    reading is 3.6 % above it, nothing more runs."""

    def runs(curve):
        scripted([10.0] + curve * 2 + [4.0] * 20)
        stop = dict(every=0.1, patience=10, overshoot=100, lr_factors=(1.0, 1.0), lr_lower=(), lr_refine=1)
        stop |= dict(epoch_refine=0, step_refine=0)
        res = uk.unlearn(
            theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=1, stopping=stop), device="cpu"
        )
        s = auto_summary(res)
        assert s["runs"][0]["steps_run"] == 19 and s["runs"][0]["reason"] == "budget"
        return [r["lr_factor"] for r in s["runs"]]

    falling = [9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5]
    assert runs(falling + [5.6, 5.55]) == [1.0, 1.0, 10.0]
    assert runs(falling[:6] + [6.6] * 4) == [1.0, 1.0]
    assert runs(falling + [5.7, 5.6]) == [1.0, 1.0]


def test_auto_removes_a_class_by_fine_tuning_from_a_users_small_lr(digits, theta_o):
    """ft at lr 0.002, a tenth of its default, on digits class 7: the × 10 run falls slowly (proxy 52.5 → 50.1 in
    95 steps, its best at step 80) and ends there; the search goes on to × 100 and the class is gone (FA 0.97
    when only a last-state best counted as still improving)."""
    split = uk.make_split(digits, "class", seed=0, classes=[7])
    res = uk.unlearn(theta_o, digits, split, "ft", options=dict(lr=0.002), device="cpu", seed=0)
    forget = torch.as_tensor(split.forget)
    with torch.no_grad():
        fa = (res.model(digits.inputs(forget)).argmax(1) == digits.y[forget]).float().mean().item()
    assert fa < 0.05
    assert 100.0 in [r["lr_factor"] for r in auto_summary(res)["runs"]]


def test_lr_search_tries_between_the_best_lr_and_a_larger_one_that_never_beat_theta_o(
    digits, random_split, theta_o, scripted
):
    """×1 improves, then patience stops it (not budget-bound); ×10 never beats θ_o (12, 12). The best lr may lie
    between them: ×√10 runs (5, 3, then patience) and beats ×1, and as ×10 is still the next larger lr and never
    beat θ_o, round 2 tries 10^0.75 (4, …). When ×10 beat θ_o once (9 < 10), nothing more runs."""
    stop = dict(every=0.5, patience=1.0, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(), lr_refine=2)
    opts = dict(epochs=3, stopping=stop)
    curves = [10.0] + [8.0, 6.0, 7.0, 7.0] + [12.0, 12.0] + [5.0, 3.0, 4.0, 4.0] + [4.0, 5.0, 5.0] + [20.0] * 10
    seen = scripted(curves)
    res = uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu")
    s = auto_summary(res)
    assert [r["lr_factor"] for r in s["runs"]] == pytest.approx([1.0, 10.0, 10**0.5, 10**0.75])
    assert s["lr_factor"] == pytest.approx(10**0.5) and s["best_proxy_gap"] == 3.0
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, seen[1 + 4 + 2 + 1][name]), name  # ×√10's second evaluation
    scripted([10.0] + [8.0, 6.0, 7.0, 7.0] + [9.0, 12.0, 12.0] + [1.0] * 10)
    res = uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu")
    assert [r["lr_factor"] for r in auto_summary(res)["runs"]] == [1.0, 10.0]


def test_epoch_refine_reruns_a_run_that_ran_out_of_epochs_still_falling(digits, random_split, theta_o, scripted):
    """One epoch, two evaluations a run. ×1 ends still falling (8, 6); ×10 is worse (9, 12). epoch_refine re-runs ×1
    with 2 epochs (4 evaluations: 7, 5, 4, 3), which wins; a second round would need 4 epochs (epoch_max_factor 2
    forbids it). A plateau at the end (8, 7.99: under 1 %) or a last state that is not the run's lowest runs
    nothing more; a falling last state refused for damage does."""

    def search(curve, damage=(), **stop):
        seen = scripted(curve, damage)
        stop = dict(patience=10, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(), lr_refine=0, step_refine=0, **stop)
        res = uk.unlearn(
            theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=1, stopping=stop), device="cpu"
        )
        return auto_summary(res), res, seen

    s, res, seen = search([10.0] + [8.0, 6.0] + [9.0, 12.0] + [7.0, 5.0, 4.0, 3.0] + [1.0] * 10, epoch_max_factor=2.0)
    assert [(r["lr_factor"], r["epochs"]) for r in s["runs"]] == [(1.0, 1), (10.0, 1), (1.0, 2)]
    assert s["epochs"] == 2 and s["best_proxy_gap"] == 3.0 and s["best_step"] == s["steps_run"]
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, seen[-1][name]), name  # the longer run's last state
    assert len(search([10.0] + [8.0, 7.99] + [9.0, 12.0] + [1.0] * 10)[0]["runs"]) == 2  # a plateau
    assert len(search([10.0] + [6.0, 7.0] + [9.0, 12.0] + [1.0] * 10)[0]["runs"]) == 2  # its best was earlier
    assert search([10.0] + [8.0, 6.0] + [9.0, 12.0] + [1.0] * 10, epoch_refine=0)[0]["runs"][-1]["epochs"] == 1
    s, _, _ = search([10.0] + [8.0, 6.0] + [9.0, 12.0] + [7.0, 5.0, 4.0, 3.0], damage=[0.0, 0.0, 9.0])
    assert [(r["lr_factor"], r["epochs"]) for r in s["runs"]][2] == (1.0, 2)  # 6 was refused for damage, and falling
    assert s["best_proxy_gap"] == 3.0


def test_at_steps_evaluates_exactly_there_on_the_same_trajectory(digits, random_split, theta_o, scripted):
    """stopping.at_steps: a run evaluates only at those steps and stops after the last; from the same seed it is the
    same trajectory, so its state at step 20 is the one a run on the usual cadence evaluates at step 20."""
    stop = dict(patience=10, overshoot=100, lr_factors=(1.0,))
    seen = scripted([10.0] + [9.0, 8.0, 7.0] + [50.0] * 10)
    full = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=2, stopping=stop), device="cpu"
    )
    at_20 = seen[2]  # seen: θ_o (the reference), then steps 10, 20, …
    assert [h["step"] for h in full.history if "proxy_gap" in h][:3] == [0, 10, 20]
    scripted([10.0] + [3.0])
    res = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=2, stopping={**stop, "at_steps": [20]}), device="cpu"
    )  # fmt: skip
    s = auto_summary(res)
    assert [h["step"] for h in res.history if "proxy_gap" in h] == [0, 20]
    assert s["steps_run"] == 20 and s["reason"] == "at_steps" and s["best_step"] == 20
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, at_20[name]), name


def test_step_refine_looks_between_the_kept_state_and_a_lower_one_refused_for_damage(
    digits, random_split, theta_o, scripted
):
    """Run ×1 (evaluations at 10, 20, …, 57): 9, 6, then 3 but refused for damage (9 > max_damage 5). Round 1
    re-runs ×1 evaluating 22, 25, 27: 5, 4, then 2 refused again; round 2 evaluates 26: 3.5, kept. × 10 is worse
    throughout. The kept state is the re-run's at step 26; with step_refine 0 it is run ×1's at step 20."""
    ok = [0.0] * 20
    values = [10.0] + [9.0, 6.0, 3.0, 8.0, 8.0, 8.0] + [12.0] * 6 + [5.0, 4.0, 2.0] + [3.5]
    damage = [0.0] + [0.0, 0.0, 9.0, 0.0, 0.0, 0.0] + ok[:6] + [0.0, 0.0, 9.0] + [0.0]
    stop = dict(patience=10, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(), lr_refine=0, step_refine=2)
    seen = scripted(values, damage)
    res = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=3, stopping=stop), device="cpu"
    )
    s = auto_summary(res)
    assert [r.get("at_steps") for r in s["runs"]] == [None, None, [22, 25, 27], [26]]
    assert s["lr_factor"] == 1.0 and s["best_step"] == 26 and s["best_proxy_gap"] == 3.5
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, seen[-1][name]), name  # the last evaluation: step 26
    refined = [(h["step"], h["proxy_gap"]) for h in res.history if h.get("refined")]
    assert refined == [(22, 5.0), (25, 4.0), (27, 2.0), (26, 3.5)]
    scripted(values, damage)
    off = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=3, stopping={**stop, "step_refine": 0}), device="cpu"
    )  # fmt: skip
    assert auto_summary(off)["best_step"] == 20 and len(auto_summary(off)["runs"]) == 2


def test_screening_on_the_head_of_the_retain_sample_keeps_every_decision(digits, class_split, random_split, theta_o):
    """stopping.screen_retain: evaluations first see 500 of the proxy's D_r sample and all of it only where the state
    could beat the best. The kept model, its step and every run of the lr search are those of whole-sample
    evaluations; the evaluation passes are fewer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method, split in (("rl", random_split), ("ga", class_split)):
            runs = {}
            for screen in (500, None):
                opts = dict(epochs=3, stopping=dict(screen_retain=screen))
                runs[screen] = uk.unlearn(theta_o, digits, split, method, options=opts, device="cpu", seed=0)
            a, b = auto_summary(runs[500]), auto_summary(runs[None])
            assert a["runs"] == b["runs"] and a["best_step"] == b["best_step"], method
            for (name, x), y in zip(runs[500].model.state_dict().items(), runs[None].model.state_dict().values()):
                assert torch.equal(x, y), (method, name)
            assert runs[500].passes["eval_forward"] < runs[None].passes["eval_forward"], method


def test_may_improve_bounds_the_whole_sample_gap_by_hand():
    """A screened proxy gap of 6 with an RA loss of 4 (weights 1, 1, 1, 1: a quarter of the gap is RA loss) is at
    least 5 on the whole sample: it may beat a best of 5.5, not one of 4.9."""
    from unlearnkit.stopping import Monitor

    m = Monitor.__new__(Monitor)
    m.o = StopOptions()
    values = {"proxy_gap": 6.0, "proxy_ra_loss": 4.0}
    m.best = (3, 5.5, None)
    assert m._may_improve(values)
    m.best = (3, 4.9, None)
    assert not m._may_improve(values)


def test_lr_search_result_equals_the_single_run_at_the_chosen_lr(digits, class_split, theta_o):
    """Each run starts from θ_o with the same seed: the kept model is bit-identical to auto-stopping one run at
    the chosen lr (lr_factors (1,): the search off)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = uk.unlearn(theta_o, digits, class_split, "rl", options=dict(epochs=2), device="cpu")
        s = auto_summary(res)
        assert len(s["runs"]) >= 2 and s["lr"] is not None
        alone = uk.unlearn(
            theta_o,
            digits,
            class_split,
            "rl",
            options=dict(epochs=2, lr=s["lr"], stopping=dict(lr_factors=(1.0,))),
            device="cpu",
        )
    assert "runs" not in auto_summary(alone) and auto_summary(alone)["best_step"] == s["best_step"]
    for (name, a), b in zip(res.model.state_dict().items(), alone.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_kept_run_filters_per_step_entries_to_the_chosen_run():
    from unlearnkit.stopping import kept_run

    runs = [{"lr": 0.01, "lr_factor": 1.0}, {"lr": 0.1, "lr_factor": 10.0}]
    h = [{"mask_fraction": 0.5}, {"step": 0, "lr": 0.01}, {"step": 5, "lr": 0.01}, {"step": 0, "lr": 0.1}]
    chosen = h + [{"auto_stop": {"lr": 0.1, "runs": runs}}]
    assert [e.get("lr") for e in kept_run(chosen) if "step" in e] == [0.1]
    assert kept_run(chosen)[0] == {"mask_fraction": 0.5}  # entries of no run stay
    kept_theta_o = h + [{"auto_stop": {"lr": None, "runs": runs}}]  # θ_o kept: the first run's curve
    assert [e["step"] for e in kept_run(kept_theta_o) if "step" in e] == [0, 5]
    single = [{"step": 0}, {"auto_stop": {"best_step": 0}}]
    assert kept_run(single) == single
    # epoch_refine: the same lr again with more epochs; only the chosen run's entries
    longer = [
        {"step": 0, "lr": 0.1, "epochs": 2},
        {"step": 0, "lr": 0.1, "epochs": 4},
        {"step": 9, "lr": 0.1, "epochs": 4},
    ]
    runs2 = [{"lr": 0.1, "lr_factor": 1.0, "epochs": 2}, {"lr": 0.1, "lr_factor": 1.0, "epochs": 4}]
    picked = kept_run(longer + [{"auto_stop": {"lr": 0.1, "epochs": 4, "runs": runs2}}])
    assert [(e["step"], e["epochs"]) for e in picked if "step" in e] == [(0, 4), (9, 4)]


def test_lr_search_runs_each_lr_from_the_same_seed(digits, random_split, theta_o):
    """Two runs at the same lr (factors 1, 1) trace the same proxy curve, even for a method that draws from the
    global RNG (bad_teacher's random teacher from new_model): each run is seeded as if it were alone."""
    build = lambda: uk.build_model("mlp", digits.input_shape, digits.num_classes)  # noqa: E731
    stop = dict(lr_factors=(1.0, 1.0), lr_lower=(), lr_refine=0, epoch_refine=0, patience=10, overshoot=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = uk.unlearn(
            theta_o, digits, random_split, "bad_teacher", options=dict(epochs=1, stopping=stop), device="cpu",
            new_model=build,
        )  # fmt: skip
    steps = [(h["step"], h["proxy_gap"]) for h in res.history if "proxy_gap" in h]
    half = len(steps) // 2
    assert len(steps) == 2 * half and half >= 3
    assert steps[:half] == steps[half:]


@pytest.mark.parametrize("method", ["ft", "ga", "neggrad_plus"])
def test_auto_beats_theta_o_where_only_the_class_prior_shifts(overlap_mlp, method):
    """Overlapping Gaussians, an MLP, 40 % of class 1 forgotten: θ_o already treats D_f like held-out data,
    and what retraining changes is the class prior. With the prior-shift proxy (the default) auto moves
    and lands closer to θ_r than θ_o; with the uncorrected proxy it keeps θ_o or stays near it (measured:
    Avg.Gap 4.03 → 1.84 / 0.98 / 1.09 for ft / ga / neggrad_plus; uncorrected, ft and neggrad_plus keep θ_o
    and ga's lr descent moves it to 3.93 at × 0.1)."""
    ds, split, theta_o, theta_r = overlap_mlp
    ev = Evaluation(ds, split, torch.device("cpu"), original=theta_o, retrained=theta_r)

    def row(model):
        return {
            k: v for name in ("accuracy", "mia_efficacy") for k, v in METRICS.get(name)().compute(model, ev).items()
        }

    ref = row(theta_r)

    def gap(model):
        return uk.avg_gap(row(model), ref)

    res = uk.unlearn(theta_o, ds, split, method, device="cpu", seed=0)
    assert res.moved and gap(res.model) < gap(theta_o) - 1.0
    off = {"stopping": {"proxy": {"prior_shift": False}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "did not change the model"
        res_off = uk.unlearn(theta_o, ds, split, method, device="cpu", seed=0, options=off)
    assert not res_off.moved or gap(res_off.model) > gap(theta_o) - 0.5


@pytest.mark.parametrize("stop", ["none", "auto"])
def test_a_finished_run_frees_its_context_without_waiting_for_the_garbage_collector(
    digits, random_split, theta_o, stop
):
    """The context (model copies, best state, proxy reference: GPU memory on a GPU) must go when the call
    returns: a reference cycle would keep it until a cyclic collection, growing each bench job's memory."""
    import gc

    from unlearnkit.context import UnlearnContext

    gc.collect()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            uk.unlearn(theta_o, digits, random_split, "rl", options={"epochs": 1}, stop=stop)
        alive = [o for o in gc.get_objects() if isinstance(o, UnlearnContext)]
    finally:
        gc.enable()
    assert alive == []


def test_early_evaluations_catch_a_best_state_before_the_first_regular_one_and_do_not_shorten_patience(
    digits, random_split, theta_o, scripted
):
    """every = 50 steps (batch 4, max_interval 50); the best state comes at step 12, an early evaluation. Patience (in steps,
    0.5 epoch ≈ 150 steps = 3 regular intervals) runs from step 12, whatever the early evaluations add."""
    stop = dict(patience=0.5, overshoot=100, lr_factors=(1.0,), max_interval=50)
    opts = dict(epochs=2, lr=0.001, retain_batch_size=4, stopping=stop)
    seen = scripted([10.0, 2.0, 6.0] + [7.0] * 50)  # θ_o, step 12, step 25, then regular evaluations
    res = uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu")
    s = auto_summary(res)
    assert s["every"] == 50 and s["best_step"] == 12 and s["best_proxy_gap"] == 2.0
    assert s["reason"].startswith("patience") and s["steps_run"] == 200  # first regular step ≥ 12 + 150
    for name, v in res.model.state_dict().items():
        assert torch.equal(v, seen[1][name]), name  # the state the step-12 evaluation saw


def test_lr_search_counts_an_early_evaluation_as_the_first_one(digits, random_split, theta_o, scripted):
    """every = 50 steps (batch 4, max_interval 50), so the first evaluation is the early one at step 12: a run whose best state
    is there peaked at once, and the lower lr is tried."""
    stop = dict(patience=0.5, overshoot=20, lr_factors=(1.0, 10.0), lr_lower=(0.3,), max_interval=50, lr_refine=0)
    scripted([10.0, 4.0] + [8.0] * 5)  # run ×1: best at step 12, then flat; later runs read 50 (overshoot)
    opts = dict(epochs=1, lr=0.001, retain_batch_size=4, stopping=stop)
    res = uk.unlearn(theta_o, digits, random_split, "ft", options={**opts, **PLAIN_FT}, device="cpu")
    s = auto_summary(res)
    assert s["first_evaluation"] == 12 and s["every"] == 50
    assert [r["lr_factor"] for r in s["runs"]] == [1.0, 10.0, 0.3]
    assert s["lr_factor"] == 1.0 and s["best_step"] == 12


def test_strength_search_counts_the_strengths_it_refused_for_damage(digits, random_split, theta_o, scripted):
    """ssd α around 1: × ½ has the lowest gap but lost 6 points (> max_damage 5), so × 1 is kept; of the
    refinement round's midpoints √½ is kept-but-worse and √2 is refused too: 2 refused in the summary."""
    scripted([10.0, 8.0, 2.0, 5.0, 9.0, 12.0, 7.0, 6.0], damage=[0.0, 0.0, 6.0, 0.0, 0.0, 0.0, 0.0, 7.0])
    opts = {"alpha": 1.0, "stopping": {"strength_refine": 1}}
    res = uk.unlearn(theta_o, digits, random_split, "ssd", options=opts, device="cpu")
    s = auto_summary(res)
    assert s["tried"] == pytest.approx([0.25, 0.5, 1.0, 2.0, 4.0, math.sqrt(0.5), math.sqrt(2.0)])
    assert s["best_value"] == 1.0 and s["best_proxy_gap"] == 5.0
    assert s["refused_for_damage"] == 2


def test_per_epoch_values_named_like_the_proxy_do_not_steer_auto(digits, class_split, theta_o):
    """on_epoch (the bench's epoch_eval) may record the proxy metric's own column, proxy_gap, by epoch: the lr
    search reads only the monitor's evaluations by step (it crashed on those entries), so the kept model is
    bit-identical to the run without on_epoch, and the epoch values are in the history."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = uk.unlearn(theta_o, digits, class_split, "rl", options=dict(epochs=2), device="cpu")
        seen = []
        per_epoch = uk.unlearn(
            theta_o,
            digits,
            class_split,
            "rl",
            options=dict(epochs=2),
            device="cpu",
            on_epoch=lambda model, epoch: seen.append(epoch) or {"proxy_gap": 1e-9, "FA": 0.0},
        )
    assert seen and any("epoch" in h and h.get("proxy_gap") == 1e-9 for h in per_epoch.history)
    assert auto_summary(per_epoch)["best_step"] == auto_summary(plain)["best_step"]
    for (name, a), b in zip(per_epoch.model.state_dict().items(), plain.model.state_dict().values()):
        assert torch.equal(a, b), name


class Dampen(Shrink):
    """Test one-shot method whose strength weakens as it grows (like ssd's α): θ ← (1 − 0.1/strength)·θ."""

    name = "dampen_test"
    strength_weaker = "larger"

    def unlearn(self, ctx):
        with torch.no_grad():
            for p in ctx.model.parameters():
                p.mul_(1 - 0.1 / ctx.options.strength)
        return ctx.model


@pytest.mark.parametrize(
    "method, centre, extended, kept, refused",
    [(Shrink, 0.2, [0.0125, 0.003125], 0.003125, 6), (Dampen, 1.0, [16.0], 16.0, 5)],
    ids=["weaker-smaller", "weaker-larger"],
)
def test_strength_search_extends_toward_weaker_when_every_strength_cost_too_much(
    digits, random_split, theta_o, monkeypatch, method, centre, extended, kept, refused
):
    """Every strength of the grid loses more than the damage bound (the norm moves by more than 1 %): the search
    goes on in the method's weaker direction (× ¼ or × 4) until a strength is kept, instead of keeping θ_o; the
    proxy is best at ‖θ‖ = 0.995 ‖θ_o‖. The first strength within 1 % is kept; it is the weakest tried, and the
    search does not go past a weakest best (toward θ_o)."""
    METHODS.add(method.name, method)
    try:
        n_o = float(torch.cat([p.detach().flatten() for p in theta_o.parameters()]).norm())

        def evaluate(self, model):
            r = float(torch.cat([p.detach().flatten() for p in model.parameters()]).norm()) / n_o
            return {
                "proxy_gap": abs(r - 0.995),
                "proxy_fa": 0.0,
                "proxy_mia": 0.0,
                "proxy_dist": 0.0,
                "proxy_damage": 0.0 if abs(r - 1) <= 0.01 else 50.0,
                "proxy_ra_loss": 0.0 if abs(r - 1) <= 0.01 else 50.0,
                "proxy_ra_loss_se": 0.0,
            }

        monkeypatch.setattr(ProxyReference, "evaluate", evaluate)
        opts = {"strength": centre, "stopping": {"strength_refine": 0}}
        s = auto_summary(uk.unlearn(theta_o, digits, random_split, method.name, options=opts, device="cpu"))
        grid = [centre * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)]
        assert s["tried"] == pytest.approx(grid + extended)
        assert s["best_value"] == pytest.approx(kept) and s["refused_for_damage"] == refused
        off = {"strength": centre, "stopping": {"strength_refine": 0, "strength_extend": 0}}
        with pytest.warns(RuntimeWarning, match="kept θ_o"):
            s0 = auto_summary(uk.unlearn(theta_o, digits, random_split, method.name, options=off, device="cpu"))
        assert s0["tried"] == pytest.approx(grid) and s0["best_value"] is None
    finally:
        METHODS._items.pop(method.name)


def shrink_searches(digits, split, theta_o, monkeypatch, gap, overlays):
    """The Shrink test method under auto at centre 0.05 (grid 0.0125 … 0.2, no refinement) with the proxy replaced by
    ``gap(reference, r)``, r = ‖θ‖ / ‖θ_o‖: the search summary once per ``stopping`` overlay."""
    METHODS.add(Shrink.name, Shrink)
    try:
        n_o = float(torch.cat([p.detach().flatten() for p in theta_o.parameters()]).norm())

        def evaluate(self, model):
            r = float(torch.cat([p.detach().flatten() for p in model.parameters()]).norm()) / n_o
            zero = dict(proxy_fa=0.0, proxy_mia=0.0, proxy_dist=0.0, proxy_damage=0.0, proxy_ra_loss=0.0)
            return {"proxy_gap": gap(self, r), **zero, "proxy_ra_loss_se": 0.0}

        monkeypatch.setattr(ProxyReference, "evaluate", evaluate)
        return [
            auto_summary(
                uk.unlearn(
                    theta_o,
                    digits,
                    split,
                    Shrink.name,
                    options={"strength": 0.05, "stopping": {"strength_refine": 0, **overlay}},
                    device="cpu",
                )
            )
            for overlay in overlays
        ]
    finally:
        METHODS._items.pop(Shrink.name)


SHRINK_GRID = [0.0125, 0.025, 0.05, 0.1, 0.2]


@pytest.mark.parametrize(
    "target, extended, kept, kept_without",
    [(0.4, [0.8, 3.2], 0.8, 0.2), (0.999, [], 0.0125, 0.0125)],
    ids=["strongest-best", "weakest-best"],
)
def test_strength_search_steps_past_a_best_that_is_the_strongest_tried(
    digits, random_split, theta_o, monkeypatch, target, extended, kept, kept_without
):
    """Shrink at centre 0.05 tries 0.0125 … 0.2 (‖θ‖ = 0.9875 … 0.8 ‖θ_o‖). With the proxy best at 0.4 ‖θ_o‖ the grid's
    best is its strongest value, 0.2: the search tries 0.8 (0.2 ‖θ_o‖, better) and 3.2 (worse) and keeps 0.8, where
    the grid alone keeps 0.2. With the proxy best at 0.999 ‖θ_o‖ the best is the weakest value: nothing more is
    tried (past it lies θ_o, a candidate already)."""
    s, s0 = shrink_searches(
        digits, random_split, theta_o, monkeypatch, lambda ref, r: abs(r - target), [{}, {"strength_extend": 0}]
    )
    assert s["tried"] == pytest.approx(SHRINK_GRID + extended) and s["best_value"] == pytest.approx(kept)
    assert s0["tried"] == pytest.approx(SHRINK_GRID) and s0["best_value"] == pytest.approx(kept_without)


def test_strength_search_goes_stronger_where_no_strength_moved_the_proxy(digits, random_split, theta_o, monkeypatch):
    """Shrink at centre 0.05 tries 0.0125 … 0.2; the proxy reads θ_o's own gap for every ‖θ‖ above 0.5 ‖θ_o‖ (the
    strengths are too weak to move it) and 1 less below. No value moved the proxy, so the search goes on toward the
    stronger end: 0.8 (‖θ‖ 0.2 ‖θ_o‖, better; kept), then, as 0.8 is the strongest tried, 3.2 (‖θ‖ 2.2 ‖θ_o‖, flat).
    With flat_tol 0 the grid alone runs and θ_o is kept."""
    s, s0 = shrink_searches(
        digits,
        random_split,
        theta_o,
        monkeypatch,
        lambda ref, r: ref.values_o["proxy_gap"] - (1.0 if r < 0.5 else 0.0),
        [{}, {"flat_tol": 0.0}],
    )
    assert s["tried"] == pytest.approx(SHRINK_GRID + [0.8, 3.2]) and s["best_value"] == pytest.approx(0.8)
    assert s0["tried"] == pytest.approx(SHRINK_GRID) and s0["best_value"] is None


@pytest.mark.parametrize("last, ascends", [(2.03, True), (2.1, False)], ids=["blip-1.5%", "rise-5%"])
def test_a_last_reading_within_2_percent_of_the_best_still_ends_improving(
    digits, random_split, theta_o, scripted, last, ascends
):
    """×10's curve falls to 2.0 and its last (end-of-budget) reading is 1.5 % higher: a noisy reading at the end, not
    a turn, so the ascent tries ×100 as it does for a run whose last reading is its best; 5 % higher is a turn."""
    scripted([10.0] + [9.0, 8.5, 8.0, 7.5] + [6.0, 4.0, 2.0, last] + [12.0] * 4)  # θ_o; ×1, ×10: 4 evaluations each
    stop = dict(
        patience=10, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(), lr_refine=1, epoch_refine=0, every=0.34
    )
    res = uk.unlearn(
        theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=1, stopping=stop), device="cpu"
    )
    runs = auto_summary(res)["runs"]
    assert runs[1]["best_proxy_gap"] == 2.0 and runs[1]["reason"] == "budget"
    assert [r["lr_factor"] for r in runs] == ([1.0, 10.0, 100.0] if ascends else [1.0, 10.0])


@pytest.mark.parametrize(
    ("max_cost", "train_epochs", "runs", "capped_after"),
    [
        (None, 1, [1.0, 10.0, 0.3, 0.1], None),  # no cap: the whole descent
        (1e-6, 30, [1.0], 1),  # the first run always runs
        (2.0, 1, [1.0, 10.0], 2),  # run × 1 (1.5 epochs) and × 10 (1 epoch) spend 2.5 retrainings' worth of 1 epoch
        (1.0, 30, [1.0, 10.0, 0.3, 0.1], None),  # the default against 30 training epochs: not reached
    ],
)
def test_lr_search_starts_no_run_past_its_cost_cap(
    digits, random_split, theta_o, scripted, max_cost, train_epochs, runs, capped_after
):
    """``max_cost``: no further run once the passes spent reach max_cost × one retraining's (2 · train epochs ·
    |D_r|); the scripted descent of the test above, cut where the cap says."""
    stop = dict(
        every=0.5, patience=1.0, overshoot=100, lr_factors=(1.0, 10.0), lr_lower=(0.3, 0.1, 0.03), max_cost=max_cost
    )
    scripted([10.0, 4.0, 8.0, 8.0] + [12.0, 12.0] + [5.0, 9.0, 9.0] + [9.0, 3.0, 6.0, 6.0] + [1.0] * 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = uk.unlearn(
            theta_o,
            digits,
            random_split,
            "ft",
            options=dict(**PLAIN_FT, epochs=3, stopping=stop),
            device="cpu",
            train_config=uk.TrainConfig(epochs=train_epochs),
        )
    s = auto_summary(res)
    assert [r["lr_factor"] for r in s["runs"]] == runs and s["cost_capped_after"] == capped_after
    capped_warnings = [str(w.message) for w in caught if "stopping.max_cost" in str(w.message)]
    assert len(capped_warnings) == (capped_after is not None)
    budget = None if max_cost is None else max_cost * 2 * train_epochs * len(random_split.retain)
    if capped_after is not None:  # the last run started below the cap, and the search ended at or above it
        assert res.passes["forward"] + res.passes["backward"] >= budget


def test_the_cost_cap_is_not_reported_where_the_search_wanted_no_further_run(digits, random_split, theta_o, scripted):
    """Past the cap but with nothing left to try (one lr factor, × 2, whose run did not peak at once and stopped
    on patience: no descent, ascent or refinement): no cost_capped_after and no warning."""
    stop = dict(every=0.5, patience=1.0, overshoot=100, lr_factors=(2.0,), lr_lower=(0.3,), max_cost=1e-6)
    scripted([10.0, 8.0, 4.0, 6.0, 6.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = uk.unlearn(
            theta_o, digits, random_split, "ft", options=dict(**PLAIN_FT, epochs=3, stopping=stop), device="cpu"
        )
    s = auto_summary(res)
    assert [r["lr_factor"] for r in s["runs"]] == [2.0] and s["best_proxy_gap"] == 4.0
    assert s["cost_capped_after"] is None
    assert not [w for w in caught if "stopping.max_cost" in str(w.message)]


def test_the_kept_theta_o_warning_says_when_theta_o_did_not_memorise_the_forget_set():
    """θ_o kept on a partial request: where θ_o is as accurate on D_f as on held-out data (within two standard
    errors) the warning says it did not memorise D_f; where it fits D_f perfectly or clearly better than held-out
    data, the warning keeps pointing at the held-out split's size, and where clearly worse (the targets capped at
    θ_o), at the cap (hand-made summaries)."""
    from unlearnkit.advice import held_out_hint

    base = dict(partial=True, held_out=300, held_out_fa=80.0, held_out_mia=20.0, target_fa=80.0, target_mia=20.0)
    base |= dict(label_share=None, forget_partial=200)
    # 2 SE of the difference at p = 0.8: 200 · sqrt(0.16 · (1/200 + 1/300)) = 7.30 points
    assert "did not memorise D_f" in held_out_hint(base | {"forget_fa": 87.2})
    assert "(87.2 % of 200)" in held_out_hint(base | {"forget_fa": 87.2})
    for fo in (87.4, 99.5, 100.0):  # clearly better on D_f than held out, or perfect on it: the split's size
        hint = held_out_hint(base | {"forget_fa": fo})
        assert "did not memorise" not in hint and "from 300 held-out samples" in hint
    assert "from 300 held-out samples" in held_out_hint(base | {"forget_fa": None})  # an older summary
    capped = base | {"forget_fa": 72.8, "target_fa": 72.8}  # D_f a little harder than held out: within 2 SE
    assert "did not memorise D_f" in held_out_hint(capped)
    capped = base | {"forget_fa": 72.6, "target_fa": 72.6}  # clearly harder: the cap set the targets
    assert "θ_o fits D_f less well than the 300 held-out samples" in held_out_hint(capped)
    # a request from one class: the weighted held-out mean rests on its 30 samples (effective size), not on 300;
    # 2 SE = 200 · sqrt(0.16 · (1/200 + 1/30)) = 15.7 points
    one_class = base | {"held_out_eff": 30.0}
    assert "did not memorise D_f" in held_out_hint(one_class | {"forget_fa": 95.0})
    assert "did not memorise" not in held_out_hint(one_class | {"forget_fa": 96.0})
    # where a check set the targets, the hint names it (its own warning says how)
    assert (
        held_out_hint(base | {"thin_share": 0.7}) == "; its targets expect 30 % of D_f misclassified (proxy.thin_below)"
    )
    assert held_out_hint(base | {"twin_share": 0.25}) == (
        "; 25 % of D_f has a near-duplicate left in D_r (proxy.twin_check)"
    )
    assert held_out_hint(base | {"label_share": 0.9}) == (
        "; its targets treat 10 % of D_f as mislabelled (proxy.label_check)"
    )
    assert held_out_hint({"partial": False, "held_out": 300}) == ""  # every forgotten class gone


def test_a_theta_o_trained_with_label_smoothing_is_named_where_the_retain_term_has_none(digits, random_split, theta_o):
    """The proxy reads θ_o (compressed as label smoothing 0.3) as under-confident: ft's plain cross-entropy retain
    term gets a warning naming train_config's label_smoothing; given it, none."""
    train = random_split.train
    fives = train[digits.labels[train] == 5]
    split = uk.Split(train, random_split.test, random_split.unseen, fives[: len(fives) // 2])
    smooth = Smoothed(theta_o, 0.3).eval()
    o = {"epochs": 1, "stopping": {"lr_factors": [1.0], "lr_lower": []}}
    with pytest.warns(RuntimeWarning, match=r"label smoothing or mixup .*ε ≈ 0\.[23]"):
        uk.unlearn(smooth, digits, split, "ft", options=o, device="cpu")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        uk.unlearn(smooth, digits, split, "ft", options=o, train_config={"label_smoothing": 0.3}, device="cpu")
        uk.unlearn(theta_o, digits, split, "ft", options=o, device="cpu")  # not under-confident: no warning
    assert not [w for w in seen if "label smoothing" in str(w.message)]


def test_short_of_target_by_hand():
    """The "removed only part" check on hand-made summaries: D_f's partial part short where the kept FA exceeds the
    target by more than z standard errors of the difference; a removed class short where its FA's lower bound,
    z binomial standard errors below it, is above 0."""
    from unlearnkit.stopping import short_of_target, two_sample_se

    base = dict(partial=True, target_fa=80.0, held_out_eff=300.0, forget_partial=200, kept_fa_gone=None)
    # SE = 100 · sqrt(0.8 · 0.2 / 300 + 0.92 · 0.08 / 200) = 3.0022; 3 SE = 9.007 < 92 − 80
    assert two_sample_se(0.8, 300, 0.92, 200) == pytest.approx(3.0022, abs=1e-4)
    assert short_of_target(base | {"kept_fa": 92.0}, 3.0) == {"partial": (92.0, 80.0, pytest.approx(3.0022, abs=1e-4))}
    # SE = 100 · sqrt(0.16 / 300 + 0.88 · 0.12 / 200) = 3.257; 3 SE = 9.77 > 88 − 80
    assert short_of_target(base | {"kept_fa": 88.0}, 3.0) == {}
    assert short_of_target(base | {"kept_fa": 88.0}, 2.0) != {}  # 2 SE = 6.51 < 8
    assert short_of_target(base | {"kept_fa": 60.0}, 3.0) == {}  # over-forgot: not short
    assert short_of_target(base | {"kept_fa": 92.0}, None) == {}  # the check off
    assert short_of_target(base | {"kept_fa": 92.0, "held_out_eff": None}, 3.0) == {}  # an older summary
    # 100 % everywhere: p clipped to 0.99, SE = 100 · sqrt(0.0099 / 300 + 0.0099 / 200) = 0.908, nothing to warn of
    assert short_of_target(base | {"kept_fa": 100.0, "target_fa": 100.0}, 3.0) == {}
    gone = dict(partial=False, kept_fa=None, forget_gone=180)
    # 5 % of 180: SE = 100 · sqrt(0.05 · 0.95 / 180) = 1.6245, 5 − 3 · 1.6245 = 0.13 > 0
    assert short_of_target(gone | {"kept_fa_gone": 5.0}, 3.0) == {"gone": (5.0, pytest.approx(1.6245, abs=1e-4))}
    # 4.5 %: SE = 1.5452, 4.5 − 4.636 < 0: as likely a few stray samples as a class still there
    assert short_of_target(gone | {"kept_fa_gone": 4.5}, 3.0) == {}
    assert short_of_target(gone | {"kept_fa_gone": 0.0}, 3.0) == {}
    both = short_of_target(base | {"kept_fa": 92.0, "kept_fa_gone": 50.0, "forget_gone": 180}, 3.0)
    assert set(both) == {"partial", "gone"}


@pytest.mark.parametrize("method, split_name", [("rl", "class_split"), ("ssd", "class_split"), ("ft", "random_split")])
def test_the_summary_reads_the_kept_states_accuracy_on_the_forget_sample(digits, theta_o, request, method, split_name):
    """``kept_fa`` / ``kept_fa_gone`` are the returned model's accuracy on the proxy's D_f sample (partial part /
    removed classes), ``original_fa`` / ``original_fa_gone`` θ_o's — for the lr search and the strength search."""
    split = request.getfixturevalue(split_name)
    res = uk.unlearn(theta_o, digits, split, method, device="cpu")
    s = auto_summary(res)
    ref = ProxyReference.build(theta_o, digits, split)
    kept = ref.forget_accuracy(ref.forward(res.model)["forget"])
    assert (s["kept_fa"], s["kept_fa_gone"]) == kept
    assert (s["original_fa"], s["original_fa_gone"]) == ref.fa_o == ref.forget_accuracy(ref.forward(theta_o)["forget"])
    assert s["forget_gone"] == int(ref.is_gone.sum()) and s["forget_partial"] == int((~ref.is_gone).sum())
    if split_name == "class_split":
        assert s["kept_fa"] is None and s["original_fa_gone"] == 100.0 and s["kept_fa_gone"] < 100.0
    else:
        assert s["kept_fa_gone"] is None and s["kept_fa"] is not None


def test_a_kept_theta_o_reports_theta_os_accuracy_as_the_kept_one(digits, random_split, theta_o, scripted):
    scripted([5.0] + [9.0] * 50)  # nothing beats θ_o
    opts = dict(epochs=1, stopping=dict(lr_factors=(1.0,), lr_lower=(), lr_refine=0, epoch_refine=0, step_refine=0))
    s = auto_summary(uk.unlearn(theta_o, digits, random_split, "rl", options=opts, device="cpu"))
    assert s["best_step"] == 0 and s["kept_fa"] == s["original_fa"] == 100.0


def test_a_state_kept_short_of_removing_a_class_warns_and_a_complete_one_does_not(digits, class_split, theta_o):
    """rl at a tenth of its lr for one epoch removes class 3 only partly (its kept state still classifies most of
    the class as 3): the call says so, with the numbers in its summary; ``short_z: null`` silences it; rl at its
    defaults removes the class and says nothing of the kind."""
    weak = dict(epochs=1, stopping=dict(lr_factors=(0.1,), lr_lower=(), lr_refine=0, epoch_refine=0))

    def run(options):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            res = uk.unlearn(theta_o, digits, class_split, "rl", options=options, device="cpu")
        return auto_summary(res), [str(w.message) for w in rec if "removed only part" in str(w.message)]

    s, said = run(weak)
    assert s["best_step"] > 0 and 50.0 < s["kept_fa_gone"] < 100.0
    assert len(said) == 1
    assert f"still classifies {s['kept_fa_gone']:.1f} % of the removed classes' samples as their class" in said[0]
    assert "(θ_o: 100.0 %)" in said[0] and "raise its lr or epochs" in said[0]
    assert run({**weak, "stopping": {**weak["stopping"], "short_z": None}})[1] == []
    s, said = run({})
    assert s["kept_fa_gone"] == 0.0 and said == []


def test_the_unresolved_bound_is_the_no_error_clopper_pearson_bound_of_the_held_out_accuracy():
    """Hand-worked: every held-out sample right over an effective n: 100·0.05^(1/n) — 144: 97.94 % (the rule of three,
    1 − 3/144 = 97.92 %), 14: 80.74 %; None once one held-out sample was wrong, without a partial part, or where the
    label check, twin check or thin probe set the targets."""
    from unlearnkit.stopping import unresolved_bound

    base = dict(partial=True, held_out=180, held_out_eff=144.0, held_out_fa=100.0)
    assert unresolved_bound(base) == pytest.approx(97.9411, abs=1e-3)
    assert unresolved_bound(base | {"held_out_eff": 14.0}) == pytest.approx(80.7364, abs=1e-3)
    assert unresolved_bound(base | {"held_out_fa": 100.0 - 1e-12}) is not None  # a weighted mean of all-right
    for off in (
        {"held_out_fa": 99.3},
        {"partial": False},
        {"held_out_eff": None},
        {"twin_share": 0.2},
        {"label_share": 0.8},
        {"thin_share": 0.5},
    ):
        assert unresolved_bound(base | off) is None


def test_auto_says_when_the_held_out_data_cannot_show_the_gap(digits, random_split, theta_o):
    """The same θ_o and D_f with held-out data θ_o classifies entirely right (its misclassified held-out samples
    dropped): the proxy can see no accuracy to remove, and unlearn says how large a gap that hides (the bound for
    the summary's effective size); with the held-out data as it is (θ_o wrong on some of it), no such warning."""
    from unlearnkit.stopping import unresolved_bound

    right = predict_logits(theta_o, digits, random_split.unseen).argmax(1).numpy() == digits.labels[random_split.unseen]
    assert 0 < (~right).sum() < len(right)
    lucky = uk.Split(random_split.train, random_split.test, random_split.unseen[right], random_split.forget)
    opts = dict(epochs=2, stopping=dict(lr_factors=[1.0]))
    for split, fires in ((lucky, True), (random_split, False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = uk.unlearn(theta_o, digits, split, "rl", options=opts, device="cpu", seed=0)
        s = auto_summary(res)
        said = [str(w.message) for w in caught if "every held-out sample the proxy's targets" in str(w.message)]
        assert (unresolved_bound(s) is not None) == fires and bool(said) == fires
        if fires:
            assert s["held_out_fa"] == pytest.approx(100.0)
            assert f"as low as {unresolved_bound(s):.1f} %" in said[0]
            assert f"from an effective {s['held_out_eff']:.0f} held-out samples" in said[0]
