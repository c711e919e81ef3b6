"""Soft weights: the closed-form QP and its ablations, the fairness/robustness surrogates, the
`soft` weighting end to end (IF and FT), and the `fairness` metric."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

import unlearnkit as uk
from unlearnkit.data import ArrayDataset
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.objectives import CORRECTION_TARGETS, dp_gap, eop_gap, reflect, target_value_and_grad
from unlearnkit.influence import bounded_weights, hard_weights, only_target_weights, qp_weights
from unlearnkit.unlearn import Plan


@pytest.mark.parametrize("f0", [0.3, -0.2])
def test_qp_closed_form_constraints_and_minimum_norm(f0):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=15), rng.normal(size=15)
    eps = qp_weights(a, b, f0)
    assert abs(a @ eps - f0) < 1e-8 and abs(b @ eps) < 1e-8  # signed f0: aᵀε = f0 even when negative
    cons = [{"type": "eq", "fun": lambda e: a @ e - f0}, {"type": "eq", "fun": lambda e: b @ e}]
    generic = minimize(
        lambda e: e @ e,
        np.zeros(15),
        jac=lambda e: 2 * e,
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    ).x
    assert abs(eps @ eps - generic @ generic) < 1e-7
    assert np.allclose(eps, generic, atol=1e-5)
    assert np.allclose(eps, np.linalg.lstsq(np.stack([a, b]), [f0, 0.0], rcond=None)[0], atol=1e-12)


def test_qp_collinear_falls_back_to_only_target():
    a = np.array([1.0, 2.0, -1.0])
    with pytest.warns(RuntimeWarning, match="collinear"):
        eps = qp_weights(a, 3 * a, 0.5)
    assert np.allclose(eps, only_target_weights(a, None, 0.5))
    assert abs(a @ eps - 0.5) < 1e-12


def test_hard_and_bounded_schemes():
    a = np.array([0.5, -2.0, 0.1, -0.3, 1.0, -1.0, 0.0, 0.2, 0.3, -0.1])
    assert np.array_equal(np.flatnonzero(hard_weights(a, None, 1.0, k=0.2)), [1, 5])  # two most negative
    assert np.array_equal(np.flatnonzero(hard_weights(a, None, -1.0, k=0.2)), [0, 4])  # negative gap: sign-aware
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=200), rng.normal(size=200)
    wide = bounded_weights(a, b, 2.0, lower=-100, upper=100)
    assert np.allclose(wide, qp_weights(a, b, 2.0), atol=1e-6)  # inactive box = the QP
    tight = bounded_weights(a, b, 8.0, lower=-1, upper=0.5)
    assert tight.min() >= -1 - 1e-12 and tight.max() <= 0.5 + 1e-12
    assert abs(a @ tight - 8.0) < 1e-4 * 8 and abs(b @ tight) < 1e-4 * 8
    with pytest.raises(uk.UnlearnkitError, match="cannot meet"):
        bounded_weights(a, b, 1e4, lower=-1, upper=0.5)


@pytest.mark.parametrize("name", ["dp", "eop", "robust"])
def test_surrogate_gradients_match_finite_differences(name):
    g = torch.Generator().manual_seed(0)
    n, d = 60, 4
    phi = torch.cat([torch.randn(n, d - 1, generator=g, dtype=torch.float64), torch.ones(n, 1, dtype=torch.float64)], 1)
    y, s = torch.randint(0, 2, (n,), generator=g), torch.randint(0, 2, (n,), generator=g)
    theta = torch.randn(2, d, generator=g, dtype=torch.float64)
    target = CORRECTION_TARGETS.get(name)()
    if target.adversarial:
        phi = reflect(phi, theta, bias=True)
    f, grad = target_value_and_grad(target, phi, y, s, theta)
    fd = torch.zeros_like(theta)
    h = 1e-6
    for idx in np.ndindex(*theta.shape):
        e = torch.zeros_like(theta)
        e[idx] = h
        fd[idx] = (
            float(target.surrogate(phi @ (theta + e).T, y, s)) - float(target.surrogate(phi @ (theta - e).T, y, s))
        ) / (2 * h)
    assert torch.allclose(grad, fd, atol=1e-6, rtol=1e-5)
    # the spec's closed forms for the binary logit w = Θ₁ − Θ₀ (gradient w.r.t. Θ₁ = ∂f/∂w)
    p = torch.sigmoid(phi @ (theta[1] - theta[0]))
    if name == "dp":
        spec = (p * (1 - p))[:, None] * phi
        spec = spec[s == 1].mean(0) - spec[s == 0].mean(0)
        assert abs(f - float(p[s == 1].mean() - p[s == 0].mean())) < 1e-12
    elif name == "eop":
        r = (p - y)[:, None] * phi
        spec = r[(s == 0) & (y == 1)].mean(0) - r[(s == 1) & (y == 1)].mean(0)
    else:
        spec = ((p - y)[:, None] * phi).sum(0)
    assert torch.allclose(grad[1], spec, atol=1e-10)


def test_reflection_flips_every_prediction_and_label_gaps():
    g = torch.Generator().manual_seed(1)
    phi = torch.cat([torch.randn(50, 3, generator=g, dtype=torch.float64), torch.ones(50, 1, dtype=torch.float64)], 1)
    theta = torch.randn(2, 4, generator=g, dtype=torch.float64)
    adv = reflect(phi, theta, bias=True)
    assert torch.all((phi @ theta.T).argmax(1) != (adv @ theta.T).argmax(1))
    assert torch.all(adv[:, -1] == 1)
    y, s = torch.tensor([1, 0, 1, 1, 1, 0]), torch.tensor([1, 1, 1, 0, 0, 0])
    pred = torch.tensor([1, 1, 0, 0, 1, 0])  # rates 2/3 vs 1/3; TPR 1/2 vs 1/2
    assert dp_gap(pred, s) == pytest.approx(1 / 3) and eop_gap(pred, y, s) == pytest.approx(0.0)
    pred = torch.tensor([1, 1, 0, 1, 1, 0])  # rates 2/3 vs 2/3; TPR 1/2 vs 1
    assert dp_gap(pred, s) == pytest.approx(0.0) and eop_gap(pred, y, s) == pytest.approx(0.5)


def biased_data(n=1500, seed=0):
    """Binary task where the label depends on the group (s shifts the score): a DP gap to correct."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, 2, (n,), generator=g)
    z = torch.randn(n, 4, generator=g)
    logit = 1.5 * z[:, 0] + z[:, 1] + 1.2 * (s.float() - 0.5) * 2
    y = (torch.rand(n, generator=g) < torch.sigmoid(logit)).long()
    x = torch.cat([z, s.float()[:, None] * 2 - 1], 1)
    idx = np.arange(n)
    ds = ArrayDataset("biased", x, y, 2, pool=idx[:900], test=idx[1200:], group=s)
    ds.extra["unseen"] = idx[900:1200]
    return ds


@pytest.fixture(scope="module")
def trained():
    ds = biased_data()
    split = uk.make_split(ds, "correction", seed=0)
    torch.manual_seed(0)
    model = uk.build_model("logreg", ds.input_shape, 2, bias=True)
    tc = uk.TrainConfig(optimizer="adam", lr=0.05, epochs=30, batch_size=128, weight_decay=1e-3)
    uk.train_model(model, ds, split.train, tc, torch.device("cpu"))
    return ds, split, model, tc


def _fairness(ds, split, model, result, method, wo):
    ev = Evaluation(
        ds, split, torch.device("cpu"), 0, model, None, Plan.make(method, "soft", weighting_options=wo).weighting
    )
    return METRICS.get("fairness")().compute(result.model, ev)


def test_soft_if_drives_dp_to_zero_without_overshoot(trained):
    ds, split, model, tc = trained
    assert split.purpose == "correction" and np.array_equal(split.unseen, ds.extra["unseen"])
    rows = {}
    for scheme in ("qp", "hard"):
        wo = {"target": "dp", "scheme": scheme}
        res = uk.unlearn(model, ds, split, "if", "soft", weighting_options=wo, train_config=tc, device="cpu")
        rows[scheme] = (_fairness(ds, split, model, res, "if", wo), res.history[0])
    row, hist = rows["qp"]
    assert hist["soft_predicted_delta"] == pytest.approx(-hist["soft_f0"], rel=1e-8)
    assert abs(hist["soft_predicted_utility"]) < 1e-8 * max(1.0, abs(hist["soft_f0"]))
    assert row["correction_target"] == "dp" and row["scheme"] == "qp"
    assert row["val_target_before"] > 0.2
    assert row["val_target_after"] < 0.35 * row["val_target_before"]
    assert row["acc_after"] > row["acc_before"] - 8
    # the hard scheme removes k·n samples (ε = −1) and its predicted change differs from −f0
    assert rows["hard"][1]["soft_n_zero_weight"] == int(np.ceil(0.2 * len(split.train)))


def test_soft_weights_drive_ft_through_the_driving_split(trained):
    ds, split, model, tc = trained
    wo = {"target": "dp", "scheme": "qp"}
    plan = Plan.make("ft", "soft", weighting_options=wo)
    from unlearnkit.context import UnlearnContext

    ctx = UnlearnContext(
        model=model,
        original=model,
        dataset=ds,
        split=split,
        num_classes=2,
        device=torch.device("cpu"),
        seed=0,
        options=plan.options,
        weighting=plan.weighting,
        target=plan.target,
        train_config=tc,
    )
    plan.weighting.prepare(ctx)
    eps = plan.weighting.eps_train
    batch = ctx.batch(torch.as_tensor(split.train[:50]))
    w = plan.weighting.weights(ctx, batch, None, 0, "retain")
    assert torch.allclose(w.double(), torch.as_tensor(np.maximum(1 + eps[:50], 0)), atol=1e-6)
    wf = plan.weighting.weights(ctx, batch, None, 0, "forget")
    assert torch.allclose(wf.double(), torch.as_tensor(np.maximum(-eps[:50], 0)), atol=1e-6)
    # the driving split's D_f = the zero-weight samples, so ft's D_r covers every positively weighted sample;
    # the request's own split is never rewritten
    drive = plan.weighting.driving_split(ctx)
    assert ctx.split is split
    assert set(drive.retain) == set(split.train[1 + eps > 0]) or len(drive.forget) == 1
    res = uk.unlearn(
        model,
        ds,
        split,
        "ft",
        "soft",
        weighting_options=wo,
        train_config=tc,
        device="cpu",
        options={"epochs": 3, "lr": 0.01},
    )
    row = _fairness(ds, split, model, res, "ft", wo)
    assert row["val_target_after"] < 0.7 * row["val_target_before"]


def test_soft_keeps_a_requested_deletion(trained):
    ds, _, model, tc = trained
    split = uk.make_split(ds, "random", fraction=0.05, seed=1)
    wo = {"target": "eop", "scheme": "qp"}
    plan = Plan.make("if", "soft", weighting_options=wo)
    from unlearnkit.context import UnlearnContext

    ctx = UnlearnContext(
        model=model,
        original=model,
        dataset=ds,
        split=split,
        num_classes=2,
        device=torch.device("cpu"),
        seed=0,
        options=plan.options,
        weighting=plan.weighting,
        target=plan.target,
        train_config=tc,
    )
    plan.weighting.prepare(ctx)
    eps = plan.weighting.eps_train
    assert np.all(eps[np.isin(split.train, split.forget)] == -1)
    assert ctx.history[0]["soft_predicted_delta"] == pytest.approx(-ctx.history[0]["soft_f0"], rel=1e-6)
    assert set(split.forget) <= set(ctx.split.forget)


def test_soft_rejects_data_without_group():
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "random", fraction=0.1)
    model = uk.build_model("mlp", ds.input_shape, 10, hidden=[8])
    with pytest.raises(uk.UnlearnkitError, match="sensitive group"):
        uk.unlearn(model, ds, split, "if", "soft", device="cpu")
