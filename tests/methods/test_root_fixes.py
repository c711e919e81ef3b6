"""'Safe by default', root fixes: SCRUB's max-steps stay bounded, SSD's importances do not depend on the
order of the samples, Fisher (influence) removes any class.

One θ_o (digits, MLP, the baselines' training: SGD lr 0.05, 30 epochs, cosine) is trained once per module
on the class scenario's training set (the same for every forgotten class at seed 0)."""

from itertools import permutations

import numpy as np
import pytest
import torch
from torch import nn

import unlearnkit as uk
from unlearnkit.errors import UnlearnkitError
from unlearnkit.eval import predict_logits
from unlearnkit.methods.fisher import calibrate_step, diagonal_fisher, reference_batch_sizes

TRAIN = uk.TrainConfig(lr=0.05, epochs=30, batch_size=64, schedule="cosine", weight_decay=5e-4)


@pytest.fixture(scope="module")
def digits():
    return uk.load_dataset("digits")


@pytest.fixture(scope="module")
def theta_o(digits):
    split = uk.make_split(digits, "class", seed=0, classes=[3])
    torch.manual_seed(0)
    model = uk.build_model("mlp", digits.input_shape, digits.num_classes)
    return uk.train_model(model, digits, split.train, TRAIN, torch.device("cpu"), seed=0)


def class_split(ds, c):
    return uk.make_split(ds, "class", seed=0, classes=[c])


def acc(model, ds, idx):
    return 100.0 * float((predict_logits(model, ds, idx).argmax(1) == ds.y[idx]).float().mean())


def run(model, ds, split, method, **options):
    """The method's configured schedule (stop none: these tests are about the methods themselves)."""
    return uk.unlearn(model, ds, split, method, options=options, device="cpu", seed=0, stop="none")


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_all_class_splits_share_theta_o_training_set(digits):
    train = class_split(digits, 3).train
    for c in (0, 7, 9):
        assert np.array_equal(class_split(digits, c).train, train)


# --- SCRUB -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [3, 7, 9])
def test_scrub_max_steps_stay_bounded(digits, theta_o, c):
    """Without the max-step clip the 2nd max pass diverged: ‖θ_u − θ_o‖ 58–405 and the forgotten class's
    head row norm 1.8 → 24–122 on classes 3/7/9 (3 seeds; seed 0: 204 / 69 / 199). With it (measured,
    3 seeds): ‖Δθ‖ 8–12, head row ≤ 2.2. Bounds: ‖Δθ‖ < 25, head row < 1.5× θ_o's — and the class is
    still forgotten with RA kept."""
    split = class_split(digits, c)
    res = run(theta_o, digits, split, "scrub")
    row0 = float(theta_o.head.weight[c].detach().norm())
    row = float(res.model.head.weight[c].detach().norm())
    assert res.param_change < 25.0, f"‖Δθ‖ = {res.param_change:.1f}"
    assert row < 1.5 * row0, f"head row {c}: {row0:.2f} → {row:.2f}"
    assert acc(res.model, digits, split.forget) < 10.0
    assert acc(res.model, digits, split.retain) > 97.0


def test_scrub_without_the_clip_is_the_diverging_loop(digits, theta_o):
    """``max_clip=None`` is the reference loop as it runs (its clip line commented out): on class 3 it
    is the run that diverges, which is why the clip is on by default."""
    with pytest.raises(uk.UnlearnkitError, match="diverged"):  # the shared loop's guard catches it
        run(theta_o, digits, class_split(digits, 3), "scrub", max_clip=None)
    loose = {"param_factor": 1e9, "logit_factor": 1e9}
    res = run(theta_o, digits, class_split(digits, 3), "scrub", max_clip=None, stopping=loose)
    assert res.param_change > 100.0
    assert float(res.model.head.weight[3].detach().norm()) > 10 * float(theta_o.head.weight[3].detach().norm())


def test_scrub_max_pass_takes_at_most_max_pass_steps_steps():
    """The max pass's batch grows with D_f past ``max_pass_steps`` × ``batch_size`` samples, so a pass takes at most
    that many steps (by hand: 131 samples at 32 → 5 steps; 648 → batch 65, 10 steps; unbounded: 21)."""
    from types import SimpleNamespace

    from unlearnkit.methods.scrub import SCRUB, SCRUBOptions

    def ctx(n, **o):
        return SimpleNamespace(options=SCRUBOptions(**o), split=SimpleNamespace(forget=range(n), retain=range(640)))

    assert SCRUB.pass_steps(ctx(131)) == (5, 10) and SCRUB.forget_batch(ctx(131)) == 32
    assert SCRUB.forget_batch(ctx(648)) == 65 and SCRUB.pass_steps(ctx(648)) == (10, 10)
    assert SCRUB.pass_steps(ctx(648, max_pass_steps=None)) == (21, 10)
    assert SCRUB.pass_steps(ctx(320)) == (10, 10) and SCRUB.forget_batch(ctx(321)) == 33


def test_scrub_max_pass_cap_changes_nothing_on_a_small_forget_set_and_forgets_more_on_a_large_one(digits, theta_o):
    """Under 320 samples the cap is not reached: the same weights bit for bit. Five digit classes (648 samples, 21
    steps a pass unbounded): the default lr diverges either way, which starts auto's lr descent; at lr × 0.3 the
    unbounded pass diverges again and keeps most of the classes (FA 70 %) where the bounded one removes most (FA 25 %).
    (Before a diverged first run started the descent: FA ≈ 100 against about half.)"""
    split = class_split(digits, 3)
    a = flat(run(theta_o, digits, split, "scrub").model)
    assert torch.equal(a, flat(run(theta_o, digits, split, "scrub", max_pass_steps=None).model))
    five = uk.make_split(digits, "class", seed=0, classes=[0, 1, 2, 3, 4])
    fa = {}
    for cap in (10, None):
        res = uk.unlearn(theta_o, digits, five, "scrub", options={"max_pass_steps": cap}, device="cpu", seed=0)
        fa[cap] = acc(res.model, digits, five.forget)
    assert fa[None] > fa[10] + 30.0 and fa[10] < 40.0, fa


def test_scrub_clip_touches_only_max_steps(digits, theta_o):
    """With msteps=0 there are no max-steps, so the clip setting cannot change a single weight."""
    split = class_split(digits, 3)
    a = flat(run(theta_o, digits, split, "scrub", msteps=0, epochs=2).model)
    b = flat(run(theta_o, digits, split, "scrub", msteps=0, epochs=2, max_clip=None).model)
    assert torch.equal(a, b)
    loose = {"param_factor": 1e9, "logit_factor": 1e9}  # the unclipped loop diverges; let it, to compare
    c = flat(run(theta_o, digits, split, "scrub", msteps=2, epochs=2, max_clip=1e-3, stopping=loose).model)
    d = flat(run(theta_o, digits, split, "scrub", msteps=2, epochs=2, max_clip=None, stopping=loose).model)
    assert (c - d).abs().max() > 1e-3


# --- SSD ---------------------------------------------------------------------------------------------


def reordered(ds, split, seed):
    """The same samples stored in another order (a Split sorts its indices, so the order of the rows is
    what decides which samples share an index-ordered batch): new row j holds old sample perm[j]."""
    perm = np.random.default_rng(seed).permutation(len(ds.y))
    new = np.argsort(perm)  # old index i → new index
    ds2 = uk.ArrayDataset(
        **{**ds.__dict__, "x": ds.x[perm], "y": ds.y[perm], "pool": new[ds.pool], "test": new[ds.test]}
    )
    return ds2, uk.Split(new[split.train], new[split.test], new[split.unseen], new[split.forget], split.info)


@pytest.mark.parametrize("scenario", ["random", "class"])
def test_ssd_result_does_not_depend_on_sample_order_or_chunks(digits, theta_o, scenario):
    """The same D_f and D in another order, or other vmap chunks, give the same model (float tolerance)."""
    split = class_split(digits, 7) if scenario == "class" else uk.make_split(digits, "random", seed=0, fraction=0.1)
    base = run(theta_o, digits, split, "ssd")
    assert base.history[0]["dampened"] > 0
    for other in (
        run(theta_o, *reordered(digits, split, 1), "ssd"),
        run(theta_o, *reordered(digits, split, 2), "ssd", chunk_size=37),
        run(theta_o, digits, split, "ssd", chunk_size=1000, batch_size=64),
    ):
        assert other.history[0]["dampened"] == base.history[0]["dampened"]
        assert torch.allclose(flat(other.model), flat(base.model), atol=1e-6, rtol=1e-5)


def test_ssd_reference_batch_importance_does_depend_on_order(digits, theta_o):
    """The reference estimator (``fisher='batch'``) on the same samples in another order: another model —
    the failure the default avoids. Its order-invariant expectation does not move."""
    split = uk.make_split(digits, "random", seed=0, fraction=0.1)
    opts = dict(fisher="batch", alpha=50.0, batch_size=512)
    other = reordered(digits, split, 1)
    a, b = run(theta_o, digits, split, "ssd", **opts), run(theta_o, *other, "ssd", **opts)
    assert (flat(a.model) - flat(b.model)).abs().max() > 1e-3
    opts["fisher"] = "expected_batch"
    a, b = run(theta_o, digits, split, "ssd", **opts), run(theta_o, *other, "ssd", **opts)
    assert torch.allclose(flat(a.model), flat(b.model), atol=1e-6, rtol=1e-5)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(x)


@pytest.mark.parametrize("n, b", [(5, 2), (5, 3), (4, 4), (5, 8)])
def test_expected_batch_importance_is_the_reference_averaged_over_all_orders(n, b):
    """Enumerate every order of n samples, run the reference estimator (mean over unshuffled batches of b
    of the squared batch-mean gradient) on each, average: equals ``expected_batch`` exactly."""
    torch.manual_seed(0)
    model = Tiny()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(n, 3, generator=g), torch.randint(0, 4, (n,), generator=g)
    ds = uk.ArrayDataset("tiny", x, y, 4, pool=np.arange(n), test=np.arange(0))
    idx = np.arange(n)
    total, count = {k: torch.zeros_like(p) for k, p in model.named_parameters()}, 0
    for order in permutations(idx):
        ref = diagonal_fisher(model, ds, np.array(order), "batch", batch_size=b)
        for k in total:
            total[k] += ref[k]
        count += 1
    got = diagonal_fisher(model, ds, idx, "expected_batch", batch_size=b, chunk_size=2)
    for k in total:
        assert torch.allclose(got[k], total[k] / count, atol=1e-7, rtol=1e-4), k


def test_reference_batch_sizes():
    assert reference_batch_sizes(10, 4) == [4, 4, 2]
    assert reference_batch_sizes(8, 4) == [4, 4]
    assert reference_batch_sizes(3, 8) == [3]


def test_ssd_alpha_that_cannot_select_is_rejected(digits, theta_o):
    """Per-sample importances: I_D ≥ (|D_f|/|D|)·I_f, so α ≥ |D|/|D_f| is a silent no-op — refused."""
    split = uk.make_split(digits, "random", seed=0, fraction=0.1)
    ratio = len(split.train) / len(split.forget)
    with pytest.raises(UnlearnkitError, match="alpha"):
        run(theta_o, digits, split, "ssd", alpha=ratio)
    run(theta_o, digits, split, "ssd", alpha=ratio - 0.5)  # below the bound: accepted


def test_ssd_auto_computes_its_importances_once_and_keeps_the_methods_own_model(digits, theta_o, monkeypatch):
    """stop='auto' moves along α, then λ, with one (I_f, I_D) pair: every (α, λ) the search tries costs a
    dampening, not two Fisher passes, and the model it keeps is exactly ssd's own at those options (or θ_o)."""
    from unlearnkit.methods import ssd as ssd_mod

    calls = []
    real = ssd_mod.diagonal_fisher
    monkeypatch.setattr(ssd_mod, "diagonal_fisher", lambda *a, **k: calls.append(1) or real(*a, **k))
    split = uk.make_split(digits, "subclass", seed=0, classes=[5], fraction=0.5)
    res = uk.unlearn(theta_o, digits, split, "ssd", device="cpu", seed=0)
    s = next(h["auto_stop"] for h in res.history if "auto_stop" in h)
    assert len(calls) == 2 and len(s["tried"]) > 5  # I_f and I_D, once, for the grid and the refinements
    assert len(s["then"]["tried"]) >= 5  # and for λ's
    assert s["best_value"] is not None and s["best_options"]["alpha"] == s["best_value"]
    fixed = run(theta_o, digits, split, "ssd", **s["best_options"])
    for a, b in zip(res.model.state_dict().values(), fixed.model.state_dict().values()):
        assert torch.equal(a, b)


# --- Fisher (influence) ------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [0, 3, 7, 9])
def test_fisher_default_removes_any_class(digits, theta_o, c):
    """The old fixed step (0.3, tuned on class 3) left class 0 at FA 98% and class 7 at 86% (3 seeds).
    The calibrated step guarantees RA ≥ RA(θ_o) − 1 − 0.02·(FA(θ_o) − FA) on D_r (all of it is the
    calibration sample here) and (measured, 3 seeds) takes every class to FA 0% with RA ≥ 97%."""
    split = class_split(digits, c)
    ra0, fa0 = acc(theta_o, digits, split.retain), acc(theta_o, digits, split.forget)
    res = run(theta_o, digits, split, "fisher")
    fa, ra = acc(res.model, digits, split.forget), acc(res.model, digits, split.retain)
    assert fa <= 2.0, f"class {c}: FA {fa:.1f}"
    assert ra >= ra0 - 1.0 - 0.02 * (fa0 - fa) - 1e-9, f"class {c}: RA {ra:.2f} vs θ_o {ra0:.2f}"
    assert ra >= ra0 - 5.0
    assert res.history[0]["calibrated"] and res.history[0]["step"] > 0


def test_fisher_calibration_keeps_random_forgetting_mild(digits, theta_o):
    """On random forgetting FA and RA fall together: the step stops early (RA within ~1.2 points, FA
    still near the held-out accuracy, not wiped out)."""
    split = uk.make_split(digits, "random", seed=0, fraction=0.1)
    ra0 = acc(theta_o, digits, split.retain)
    res = run(theta_o, digits, split, "fisher")
    fa, ra = acc(res.model, digits, split.forget), acc(res.model, digits, split.retain)
    assert ra >= ra0 - 1.0 - 0.02 * (100.0 - fa) - 1e-9
    assert fa > 85.0


def test_fisher_fixed_step_is_the_old_behaviour(digits, theta_o):
    """``step`` given: no calibration, exactly θ_o + s·direction (twice the step, twice the change)."""
    split = class_split(digits, 7)
    a = run(theta_o, digits, split, "fisher", step=0.3, damping=1e-2)
    b = run(theta_o, digits, split, "fisher", step=0.6, damping=1e-2)
    assert a.history[0] == {"step": 0.3, "calibrated": False}
    da, db = flat(a.model) - flat(theta_o), flat(b.model) - flat(theta_o)
    assert torch.allclose(db, 2 * da, atol=1e-5, rtol=1e-4)
    assert acc(a.model, digits, split.forget) > 50.0  # the old default did not forget class 7


def test_calibrate_step_by_hand():
    calls = []

    def threshold(limit):
        def f(s):
            calls.append(s)
            return 100.0 if s <= limit else 50.0

        return f

    # doubling 0.01 → 0.32 passes, 0.64 fails; 4 geometric bisections in [0.32, 0.64]
    s = calibrate_step(threshold(0.5), 99.0, 0.01, 100.0, 4)
    assert 0.5 / 2 ** (1 / 16) <= s <= 0.5
    assert len(calls) == 1 + 6 + 4
    assert calibrate_step(threshold(0.001), 99.0, 0.01, 100.0, 4) == 0.0  # even the first step fails
    assert calibrate_step(threshold(1e9), 99.0, 0.01, 1.0, 4) == pytest.approx(
        0.64
    )  # never fails: largest doubling ≤ limit
    # a failure at 0.08 stops the search even though 0.16 would pass again (no stepping over a collapse)
    s = calibrate_step(lambda s: 50.0 if 0.06 < s < 0.1 else 100.0, 99.0, 0.01, 100.0, 0)
    assert s == pytest.approx(0.04)
