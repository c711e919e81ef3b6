"""Influence machinery: per-sample gradients, exact Hessians, influence vs exact leave-one-out,
and the `if` method vs retraining on a convex model."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from scipy.stats import pearsonr

import unlearnkit as uk
from unlearnkit.data import ArrayDataset, Split
from unlearnkit.objectives import CORRECTION_TARGETS, target_value_and_grad
from unlearnkit.influence import (
    LinearInfluence,
    flatten_grads,
    linear_head_grads,
    linear_head_hessian,
    per_sample_grads,
)
from unlearnkit.influence.per_sample import residuals
from unlearnkit.models import LogReg


def make_data(n=300, d=5, C=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.randn(C, d, generator=g, dtype=torch.float64) * 1.5
    y = torch.multinomial(torch.softmax(x @ w.T, 1), 1, generator=g)[:, 0]
    return x, y


def fit_softmax(phi, y, C, lam, theta0=None, smoothing=0.0):
    """Exact minimiser of Σ CE(softmax(Θφ)) + λ/2‖Θ‖² (float64 L-BFGS, tight tolerance); with label ``smoothing``
    the CE's target is (1 − s)·onehot + s/C (torch's label_smoothing)."""
    phi_np, d = phi.numpy(), phi.shape[1]
    Y = (1 - smoothing) * np.eye(C)[y.numpy()] + smoothing / C

    def fg(t):
        T = t.reshape(C, d)
        z = phi_np @ T.T
        z = z - z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        P = np.exp(z - lse[:, None])
        loss = (lse - (z * Y).sum(1)).sum() + lam / 2 * t @ t
        return loss, ((P - Y).T @ phi_np).ravel() + lam * t

    x0 = np.zeros(C * d) if theta0 is None else theta0.numpy().ravel()
    r = minimize(fg, x0, jac=True, method="L-BFGS-B", options=dict(maxiter=10000, gtol=1e-11, ftol=1e-15))
    return torch.tensor(r.x.reshape(C, d))


def test_per_sample_grads_vmap_match_closed_form():
    x, y = make_data(n=40, d=4, C=3)
    model = LogReg((4,), 3, bias=True).double()
    gv = flatten_grads(per_sample_grads(model, x, y))  # [n, C*d + C] (weight then bias)
    phi = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    probs = torch.softmax(model(x), 1).detach()
    gc = linear_head_grads(phi, probs, y)  # [n, C, d+1]
    assert torch.allclose(gv[:, :12], gc[:, :, :4].reshape(40, 12), atol=1e-12)
    assert torch.allclose(gv[:, 12:], gc[:, :, 4], atol=1e-12)


@pytest.mark.parametrize("C", [2, 3])
def test_linear_head_hessian_is_exact(C):
    x, y = make_data(n=50, d=3, C=C)
    phi = torch.cat([x, torch.ones(50, 1, dtype=x.dtype)], 1)
    theta = torch.randn(C, 4, dtype=torch.float64)
    lam = 0.7

    def objective(t):
        return torch.nn.functional.cross_entropy(phi @ t.reshape(C, 4).T, y, reduction="sum") + lam / 2 * t @ t

    H_auto = torch.autograd.functional.hessian(objective, theta.reshape(-1))
    H = linear_head_hessian(phi, torch.softmax(phi @ theta.T, 1), lam)
    assert torch.allclose(H, H_auto, atol=1e-10)


def test_influence_matches_exact_leave_one_out():
    """Predicted Δf for removing i (= +I_f(i)) vs refitting without i, f = DP surrogate on validation."""
    x, y = make_data(n=300, d=5, C=2, seed=1)
    xv, yv = make_data(n=200, d=5, C=2, seed=2)
    gv = (xv[:, 0] > 0).long()
    lam = 1.0
    theta = fit_softmax(x, y, 2, lam)
    inf = LinearInfluence(x, y, theta, lam)
    target = CORRECTION_TARGETS.get("dp")()
    f0, grad_f = target_value_and_grad(target, xv, yv, gv, theta)
    predicted = inf.influence(grad_f)  # Δf(ε_i = −1) ≈ +I_f(i)
    removed = np.random.default_rng(0).choice(300, 100, replace=False)
    actual = []
    for i in removed:
        keep = np.setdiff1d(np.arange(300), [i])
        th = fit_softmax(x[keep], y[keep], 2, lam, theta0=theta)
        actual.append(float(target.surrogate(xv @ th.T, yv, gv)) - f0)
    r = pearsonr(predicted[removed].numpy(), np.array(actual))[0]
    assert r >= 0.95, r
    # and the Newton step for one removal is close to the refit parameters
    i = int(removed[0])
    eps = torch.zeros(300, dtype=torch.float64)
    eps[i] = -1
    th_refit = fit_softmax(x[np.setdiff1d(np.arange(300), [i])], y[np.setdiff1d(np.arange(300), [i])], 2, lam, theta)
    err = (theta + inf.newton_step(eps) - th_refit).norm() / (theta - th_refit).norm()
    assert err < 0.1


def test_influence_under_label_smoothing_follows_the_smoothed_objective():
    """θ̂ minimises the label-smoothed objective (s = 0.2): the residuals are its logit gradients (torch's
    label-smoothed CE by autograd), and the Newton step for removing 10 samples lands near the smoothed refit —
    much nearer than the step that reads θ̂ as a plain-CE minimiser."""
    x, y = make_data(n=300, d=5, C=3, seed=1)
    z = torch.randn(300, 3, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(z, y, reduction="sum", label_smoothing=0.2).backward()
    assert torch.allclose(residuals(torch.softmax(z.detach(), 1), y, 0.2), z.grad, atol=1e-12)
    lam, s = 1.0, 0.2
    theta = fit_softmax(x, y, 3, lam, smoothing=s)
    gone = np.random.default_rng(0).choice(300, 10, replace=False)
    keep = np.setdiff1d(np.arange(300), gone)
    refit = fit_softmax(x[keep], y[keep], 3, lam, theta, smoothing=s)
    eps = torch.zeros(300, dtype=torch.float64)
    eps[gone] = -1

    def err(inf):
        return float((theta + inf.newton_step(eps) - refit).norm() / (theta - refit).norm())

    on, off = err(LinearInfluence(x, y, theta, lam, s)), err(LinearInfluence(x, y, theta, lam))
    assert on < 0.1 and off > 3 * on, (on, off)


def _dataset(x, y, n_train):
    n = len(y)
    return ArrayDataset(
        "gen",
        x.float(),
        y,
        int(y.max()) + 1,
        pool=np.arange(n_train),
        test=np.arange(n_train, n),
        group=(x[:, 0] > 0).long(),
    )


@pytest.mark.parametrize("C", [2, 3])
def test_if_step_with_hard_weights_approximates_retraining(C):
    x, y = make_data(n=500, d=6, C=C, seed=3)
    ds = _dataset(x, y, 400)
    train = np.arange(400)
    forget = np.random.default_rng(1).choice(train, 20, replace=False)
    split = Split(train, np.arange(400, 500), np.empty(0, dtype=np.int64), forget)
    lam = 2.0
    phi = ds.x.double()
    theta_o = fit_softmax(phi[train], ds.y[train], C, lam)
    theta_r = fit_softmax(phi[split.retain], ds.y[split.retain], C, lam, theta_o)
    model = LogReg((6,), C, bias=False)
    with torch.no_grad():
        model.fc.weight.copy_(theta_o.float())
    res = uk.unlearn(model, ds, split, "if", options={"lam": lam}, device="cpu", stop="none")  # the step itself
    theta_u = res.model.fc.weight.detach().double()
    d_u, d_o = float((theta_u - theta_r).norm()), float((theta_o - theta_r).norm())
    assert d_o > 0.01  # removing D_f does move the optimum
    assert d_u < 0.15 * d_o, (d_u, d_o)
    assert torch.equal(model.fc.weight, theta_o.float())  # θ_o untouched


def test_if_head_only_for_networks():
    x, y = make_data(n=200, d=6, C=2, seed=4)
    ds = _dataset(x, y, 160)
    split = uk.make_split(ds, "random", fraction=0.1, unseen_fraction=0.0)
    model = uk.build_model("mlp", (6,), 2, hidden=[8])
    uk.train_model(model, ds, split.train, uk.TrainConfig(epochs=3, lr=0.05), torch.device("cpu"))
    out = uk.unlearn(model, ds, split, "if", device="cpu", stop="none").model
    assert all(torch.equal(a, b) for a, b in zip(out.body.parameters(), model.body.parameters()))
    assert not torch.equal(out.head.weight, model.head.weight)


def test_if_step_follows_the_train_configs_label_smoothing():
    """θ_o minimises the label-smoothed objective (s = 0.2): the `if` step told so by the train config lands near
    the smoothed refit; read as a plain-CE minimiser it misses by far more."""
    x, y = make_data(n=500, d=6, C=3, seed=3)
    ds = _dataset(x, y, 400)
    train = np.arange(400)
    split = Split(
        train,
        np.arange(400, 500),
        np.empty(0, dtype=np.int64),
        np.random.default_rng(1).choice(train, 20, replace=False),
    )
    lam, s = 2.0, 0.2
    phi = ds.x.double()
    theta_o = fit_softmax(phi[train], ds.y[train], 3, lam, smoothing=s)
    theta_r = fit_softmax(phi[split.retain], ds.y[split.retain], 3, lam, theta_o, smoothing=s)
    model = LogReg((6,), 3, bias=False)
    with torch.no_grad():
        model.fc.weight.copy_(theta_o.float())

    def miss(**train_config):
        res = uk.unlearn(model, ds, split, "if", options={"lam": lam}, device="cpu", stop="none", **train_config)
        return float((res.model.fc.weight.detach().double() - theta_r).norm())

    d_o = float((theta_o - theta_r).norm())
    on, off = miss(train_config={"label_smoothing": s}), miss()
    assert on < 0.15 * d_o and off > 3 * on, (on, off, d_o)


def test_if_rejects_weightings_without_influence_weights():
    with pytest.raises(uk.UnlearnkitError, match="cannot use weighting"):
        uk.unlearn(LogReg((6,), 2), None, None, "if", "falw")


def test_if_on_a_users_sequential_is_the_builtin_mlps_step():
    """A user's ``nn.Sequential`` ending in an ``nn.Linear`` gets last-layer influence like the built-in mlp (whose
    ``features`` and ``head`` it copies): the same head after the step, the rest untouched; one ending elsewhere is
    refused with what to do."""
    import copy

    from unlearnkit.models.head import penultimate

    x, y = make_data(n=200, d=6, C=3, seed=5)
    ds = _dataset(x, y, 160)
    split = uk.make_split(ds, "random", fraction=0.1, unseen_fraction=0.0)
    mlp = uk.build_model("mlp", (6,), 3, hidden=[8])
    uk.train_model(mlp, ds, split.train, uk.TrainConfig(epochs=3, lr=0.05), torch.device("cpu"))
    seq = torch.nn.Sequential(*copy.deepcopy(list(mlp.body)), copy.deepcopy(mlp.head))
    features, head = penultimate(seq)
    with torch.no_grad():
        assert torch.equal(head(features(ds.x)), seq(ds.x)) and torch.equal(seq(ds.x), mlp(ds.x))
    a = uk.unlearn(mlp, ds, split, "if", device="cpu", stop="none").model
    b = uk.unlearn(seq, ds, split, "if", device="cpu", stop="none").model
    assert not torch.equal(a.head.weight, mlp.head.weight)
    assert torch.allclose(b[-1].weight, a.head.weight, atol=1e-6) and torch.allclose(b[-1].bias, a.head.bias, atol=1e-6)
    assert all(torch.equal(p, q) for p, q in zip(b[:-1].parameters(), seq[:-1].parameters()))
    assert penultimate(torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.ReLU())) is None
    with pytest.raises(uk.UnlearnkitError, match="Sequential whose last module is an nn.Linear"):
        uk.unlearn(
            torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3), torch.nn.Tanh()),
            ds,
            split,
            "if",
            device="cpu",
            stop="none",
        )


def test_cholesky_adds_jitter_to_a_numerically_indefinite_hessian_and_refuses_an_indefinite_one():
    """A PSD matrix with an eigenvalue of −1e-12 (rounding) gets the first jitter of the ladder, scale × 1e-10 with
    scale the mean |diagonal| (trace 3 over 4: 0.75, so 7.5e-11, which covers −1e-12), and a warning naming it; one
    with an eigenvalue of −1 (not a rounding error) is refused with the fix after the ladder (up to scale × 1e-6)."""
    import warnings

    from unlearnkit.influence.hessian import cho_solve, cholesky

    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    almost = q @ torch.diag(torch.tensor([1.0, 1.0, 1.0, -1e-12], dtype=torch.float64)) @ q.T
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        L = cholesky(almost)
    assert [str(w.message) for w in caught] == ["Hessian not positive definite; added jitter 7.50e-11 to the diagonal"]
    assert torch.allclose(L @ L.T, almost + 7.5e-11 * torch.eye(4, dtype=torch.float64), atol=1e-12)
    v = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    ok = torch.diag(torch.tensor([2.0, 4.0, 8.0, 16.0], dtype=torch.float64))
    assert torch.allclose(cho_solve(cholesky(ok), v), torch.tensor([0.5, 0.5, 0.375, 0.25], dtype=torch.float64))
    bad = q @ torch.diag(torch.tensor([1.0, 1.0, 1.0, -1.0], dtype=torch.float64)) @ q.T
    with pytest.raises(uk.UnlearnkitError, match=r"not positive definite even with jitter; raise the L2 strength"):
        cholesky(bad)
