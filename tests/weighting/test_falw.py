"""FaLW weighting (methods/falw.md): the weight formula, balancing factors, the unseen reference that
moves with the model, forced unit weights == uniform exactly, diagnostics and composition."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unlearnkit as uk
from unlearnkit.context import UnlearnContext
from unlearnkit.data.split import Split
from unlearnkit.methods import METHODS
from unlearnkit.options import build
from unlearnkit.unlearn import Plan
from unlearnkit.weighting import WEIGHTINGS
from unlearnkit.weighting import falw as falw_mod
from unlearnkit.weighting.falw import balancing_factors, falw_weight, unseen_reference

CPU = torch.device("cpu")


# ---------------------------------------------------------------- weight formula, hand-computed
def test_weight_formula_hand_cases():
    z = torch.tensor([0.0, -50.0, 50.0, 0.5, -0.5])
    w = falw_weight(z, torch.ones(5))
    assert w[0] == 1.0  # z = 0 → 1 exactly
    assert w[1] < 1e-6  # z ≪ 0 (over-forgotten) → ≈ 0
    assert w[2] > 2 - 1e-6  # z ≫ 0 (under-forgotten) → ≈ 2
    t = math.tanh(0.5)  # 0.46211715726...
    assert w[3].item() == pytest.approx(1 + t, abs=1e-6)
    assert w[4].item() == pytest.approx(1 - t, abs=1e-6)


def test_balancing_factor_steepens_the_curve():
    z = torch.tensor([-0.5, 0.5, -2.0, 2.0])
    flat, steep, soft = (
        falw_weight(z, torch.tensor(1.0)),
        falw_weight(z, torch.tensor(2.0)),
        falw_weight(z, torch.tensor(0.5)),
    )
    assert steep[1].item() == pytest.approx(1 + math.tanh(0.5) ** 0.5, abs=1e-6)  # 1.67979...
    assert steep[0].item() == pytest.approx(1 - math.tanh(0.5) ** 0.5, abs=1e-6)
    assert soft[1].item() == pytest.approx(1 + math.tanh(0.5) ** 2, abs=1e-6)
    # B > 1: every weight further from 1 than with B = 1; B < 1: closer
    assert ((steep - 1).abs() > (flat - 1).abs()).all()
    assert ((soft - 1).abs() < (flat - 1).abs()).all()


def test_balancing_factors_hand_computed():
    counts = [60, 30, 10, 0]  # N_f = 100, C = 4
    b = balancing_factors(counts, tau=1.0)
    expected = [100 / (4 * 60), 100 / (4 * 30), 100 / (4 * 10), 1.0]  # absent class → 1 (never used)
    assert b.tolist() == pytest.approx(expected, rel=1e-6)
    b15 = balancing_factors(counts, tau=0.15)
    assert b15[:3].tolist() == pytest.approx([e**0.15 for e in expected[:3]], rel=1e-6)
    assert b15[2] > 1 > b15[0]  # tail steeper, head softer
    assert balancing_factors(counts, tau=0.0).tolist() == [1.0, 1.0, 1.0, 1.0]


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def digits():
    return uk.load_dataset("digits")


@pytest.fixture(scope="module")
def lt_split(digits):
    return uk.make_split(digits, "long_tail", seed=0, fraction=0.2, profile="exp", ratio=20)


@pytest.fixture(scope="module")
def trained(digits, lt_split):
    torch.manual_seed(0)
    model = uk.build_model("mlp", digits.input_shape, 10, hidden=[32])
    return uk.train_model(model, digits, lt_split.train, uk.TrainConfig(epochs=8, lr=0.05), CPU, seed=0)


def make_ctx(model, ds, split, weighting):
    return UnlearnContext(
        model=model,
        original=model,
        dataset=ds,
        split=split,
        num_classes=ds.num_classes,
        device=CPU,
        seed=0,
        options=None,
        weighting=weighting,
        target=None,
    )


def numpy_reference(model, ds, idx):
    """(μ_c, σ_c) by plain numpy (population std), the hand computation to compare against."""
    with torch.no_grad():
        p = F.softmax(model.eval()(ds.inputs(torch.as_tensor(idx))), 1).numpy()
    y = ds.labels[idx]
    pt = p[np.arange(len(y)), y]
    mu = np.array([pt[y == c].mean() for c in range(ds.num_classes)])
    sd = np.array([pt[y == c].std() for c in range(ds.num_classes)])
    return mu, sd


# ---------------------------------------------------------------- the reference on unseen data
def test_weights_follow_formula_with_reference_from_unseen(digits, lt_split, trained):
    model = trained
    w = build(WEIGHTINGS, "falw", {"tau": 0.15})
    ctx = make_ctx(model, digits, lt_split, w)
    w.prepare(ctx)
    idx = torch.as_tensor(lt_split.forget[:48])
    batch = ctx.batch(idx)
    logits = model(batch.x).detach()
    got = w.weights(ctx, batch, logits, step=0, term="forget")
    mu, sd = numpy_reference(model, digits, lt_split.unseen)
    np.testing.assert_allclose(w.mu.numpy(), mu, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(w.sigma.numpy(), np.maximum(sd, 1e-8), rtol=1e-4, atol=1e-7)
    counts = np.bincount(digits.labels[lt_split.forget], minlength=10)
    B = (counts.sum() / (10 * counts)) ** 0.15
    y = batch.y.numpy()
    p = F.softmax(logits, 1).numpy()[np.arange(len(y)), y]
    z = (p - mu[y]) / np.maximum(sd[y], 1e-8)
    expected = 1 + np.sign(z) * np.tanh(np.abs(z)) ** (1 / B[y])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert not got.requires_grad
    assert w.weights(ctx, batch, logits, step=0, term="retain") is None  # only the forget term


def test_reference_moves_with_the_model(digits, lt_split, trained):
    import copy

    model = copy.deepcopy(trained)
    w = build(WEIGHTINGS, "falw", {"refresh_every": 1})
    ctx = make_ctx(model, digits, lt_split, w)
    w.prepare(ctx)
    batch = ctx.batch(torch.as_tensor(lt_split.forget[:16]))
    w.weights(ctx, batch, model(batch.x).detach(), 0, "forget")
    mu0, sd0 = w.mu.clone(), w.sigma.clone()
    with torch.no_grad():  # move the model: push class-3 logits down
        model.head.bias[3] -= 3.0
    w.weights(ctx, batch, model(batch.x).detach(), 1, "forget")
    mu1, _ = numpy_reference(model, digits, lt_split.unseen)
    assert w.mu[3] < mu0[3] - 0.05  # recomputed from the current model, not frozen at θ_o
    np.testing.assert_allclose(w.mu.numpy(), mu1, rtol=1e-5, atol=1e-7)
    assert not torch.equal(w.sigma, sd0)


def test_refresh_every_keeps_reference_between_refreshes(digits, lt_split, trained):
    import copy

    model = copy.deepcopy(trained)
    w = build(WEIGHTINGS, "falw", {"refresh_every": 3})
    ctx = make_ctx(model, digits, lt_split, w)
    w.prepare(ctx)
    batch = ctx.batch(torch.as_tensor(lt_split.forget[:16]))
    mus = []
    for step in range(4):
        w.weights(ctx, batch, model(batch.x).detach(), step, "forget")
        mus.append(w.mu.clone())
        with torch.no_grad():
            model.head.bias[3] -= 1.0
    assert torch.equal(mus[0], mus[1]) and torch.equal(mus[1], mus[2])  # steps 1, 2: no refresh
    assert mus[3][3] < mus[2][3]  # step 3: refreshed


def test_absent_class_gets_weight_one_with_warning(digits, lt_split, trained):
    unseen = lt_split.unseen[digits.labels[lt_split.unseen] != 9]
    split = Split(lt_split.train, lt_split.test, unseen, lt_split.forget, lt_split.info)
    w = build(WEIGHTINGS, "falw", {})
    ctx = make_ctx(trained, digits, split, w)
    with pytest.warns(RuntimeWarning, match=r"class\(es\) \[9\].*weight 1"):
        w.prepare(ctx)
    forget = split.forget
    idx = torch.as_tensor(
        np.concatenate([forget[digits.labels[forget] == 9][:3], forget[digits.labels[forget] != 9][:5]])
    )
    batch = ctx.batch(idx)
    got = w.weights(ctx, batch, trained(batch.x).detach(), 0, "forget")
    assert (got[:3] == 1.0).all()
    assert (got[3:] != 1.0).all()


def test_refresh_runs_in_eval_mode_and_restores_modes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 3))
    model.train()
    model[2].eval()  # a submodule deliberately in eval stays in eval
    x, y = torch.randn(30, 4), torch.arange(30) % 3
    stats = (model[1].running_mean.clone(), model[1].running_var.clone(), model[1].num_batches_tracked.clone())
    mu1, sd1 = unseen_reference(model, x, y, 3)
    mu2, sd2 = unseen_reference(model, x, y, 3)
    assert torch.equal(mu1, mu2) and torch.equal(sd1, sd2)  # deterministic: no dropout, no BN update
    assert torch.equal(stats[0], model[1].running_mean) and torch.equal(stats[2], model[1].num_batches_tracked)
    assert [m.training for m in model] == [True, True, False, True, True]
    model.eval()
    p = F.softmax(model(x), 1)[torch.arange(30), y]
    assert mu1[0].item() == pytest.approx(p[y == 0].mean().item(), abs=1e-6)


def test_needs_unseen_split(digits, lt_split, trained):
    split = Split(lt_split.train, lt_split.test, np.empty(0, dtype=np.int64), lt_split.forget)
    w = build(WEIGHTINGS, "falw", {})
    with pytest.raises(uk.UnlearnkitError, match="unseen"):
        w.prepare(make_ctx(trained, digits, split, w))


def test_options():
    assert build(WEIGHTINGS, "falw", {}).normalize is False  # the paper: Σ w ℓ / B
    assert build(WEIGHTINGS, "falw", {"normalize": True}).normalize is True
    with pytest.raises(uk.UnlearnkitError, match="tau"):
        build(WEIGHTINGS, "falw", {"tau": -1})
    with pytest.raises(uk.UnlearnkitError, match="refresh_every"):
        build(WEIGHTINGS, "falw", {"refresh_every": 0})


# ---------------------------------------------------------------- inside the shared loop
class BNDropNet(nn.Module):
    """BatchNorm and dropout: a reference pass in train mode, or one that draws RNG, would show."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2))
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.body(x))


@pytest.fixture(scope="module")
def bn_model(digits, lt_split):
    torch.manual_seed(1)
    return uk.train_model(BNDropNet(), digits, lt_split.train, uk.TrainConfig(epochs=3, lr=0.05), CPU, seed=1)


@pytest.mark.parametrize("method", ["rl", "ga", "neggrad_plus"])
@pytest.mark.parametrize("normalize", [False, True])
def test_unit_weights_equal_uniform_exactly(method, normalize, digits, lt_split, bn_model, monkeypatch):
    opts = {"epochs": 1, "lr": 0.01}
    plain = uk.unlearn(bn_model, digits, lt_split, method, "uniform", options=opts, device="cpu", stop="none", seed=3)
    monkeypatch.setattr(falw_mod, "falw_weight", lambda z, b: torch.ones_like(z))
    forced = uk.unlearn(
        bn_model,
        digits,
        lt_split,
        method,
        "falw",
        options=opts,
        weighting_options={"normalize": normalize},
        device="cpu",
        stop="none",
        seed=3,
    )
    assert plain.param_change > 0
    sp, sf = plain.model.state_dict(), forced.model.state_dict()
    assert all(torch.equal(sp[k], sf[k]) for k in sp), [k for k in sp if not torch.equal(sp[k], sf[k])]


def test_falw_changes_the_result_and_records_diagnostics(digits, lt_split, trained):
    opts = {"epochs": 1, "lr": 0.01}
    plain = uk.unlearn(trained, digits, lt_split, "rl", "uniform", options=opts, device="cpu", stop="none", seed=0)
    res = uk.unlearn(trained, digits, lt_split, "rl", "falw", options=opts, device="cpu", stop="none", seed=0)
    assert res.param_change > 0 and not torch.equal(plain.model.head.weight, res.model.head.weight)
    diag = [h for h in res.history if "falw_mean_w_head" in h]
    steps = int(np.ceil(len(lt_split.retain) / 64))  # rl: one pass over D_r, 64 per batch
    assert [h["step"] for h in diag] == list(range(steps))
    vals = np.array([[h[f"falw_mean_w_{g}"] for g in ("head", "mid", "tail")] for h in diag], dtype=float)
    finite = vals[np.isfinite(vals)]
    assert len(finite) > 0.8 * vals.size and ((finite > 0) & (finite < 2)).all()
    assert np.isfinite(vals[:, 0]).all()  # head classes are in every batch
    assert not np.allclose(finite, 1.0)  # the weighting is doing something


def test_composition_with_gradient_methods_and_rejections():
    for m in ["rl", "ga", "neggrad_plus", "salun", "scrub"]:
        if m in METHODS:
            Plan.make(m, "falw")  # accepted
    with pytest.raises(uk.UnlearnkitError, match="falw"):
        Plan.make("ft", "falw")  # ft has no forget loss to weight


@pytest.mark.parametrize("method", ["salun", "scrub"])
def test_falw_runs_with_later_methods(method, digits, lt_split, trained):
    if method not in METHODS:
        pytest.skip(f"{method} not registered")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = uk.unlearn(
            trained, digits, lt_split, method, "falw", options={"epochs": 1}, device="cpu", stop="none", seed=0
        )
    assert res.param_change > 0
    assert any("falw_mean_w_head" in h for h in res.history)
