import copy
import math

import pytest
import torch
import torch.nn.functional as F

import unlearnkit as uk
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.weighting import WEIGHTINGS, Weighting


def fa_ra_ta(model, ds, split):
    ev = Evaluation(ds, split, torch.device("cpu"))
    return METRICS.get("accuracy")().compute(model, ev)


def test_retrain_never_saw_forget_set(digits, random_split, theta_o):
    r = uk.unlearn(
        theta_o,
        digits,
        random_split,
        "retrain",
        device="cpu",
        train_config=dict(epochs=15, lr=0.05),
        new_model=lambda: uk.build_model("mlp", (1, 8, 8), 10),
    )
    m_r, m_o = fa_ra_ta(r.model, digits, random_split), fa_ra_ta(theta_o, digits, random_split)
    assert m_o["FA"] == pytest.approx(m_o["RA"], abs=1.0) and m_o["FA"] > 99  # θ_o memorised D_f like D_r
    assert abs(m_r["FA"] - m_r["TA"]) < 4.0  # θ_r: D_f is just unseen data
    assert m_r["FA"] < m_o["FA"]
    assert r.seconds > 0


@pytest.mark.parametrize("method", ["ga", "rl", "neggrad_plus"])
def test_forgetting_methods_lower_fa_on_class(digits, class_split, theta_o, method):
    # GA is a cliff on a whole class (lr 0.002: 3 epochs → FA 83, 5 epochs → RA 57), so it takes a small step
    opts, fa_max = {
        "ga": (dict(lr=0.002, epochs=3), 90),
        "rl": (dict(lr=0.01, epochs=3), 30),
        "neggrad_plus": (dict(lr=0.01, epochs=1), 30),
    }[method]
    before = fa_ra_ta(theta_o, digits, class_split)
    res = uk.unlearn(theta_o, digits, class_split, method, options=opts, device="cpu")
    after = fa_ra_ta(res.model, digits, class_split)
    assert before["FA"] > 99
    assert after["FA"] < fa_max, after
    assert after["RA"] > 90, after  # the rest is kept
    assert res.moved and res.param_change > 0


def test_ft_keeps_retain_accuracy(digits, class_split, theta_o):
    res = uk.unlearn(theta_o, digits, class_split, "ft", options=dict(lr=0.02, epochs=3), device="cpu", stop="none")
    assert fa_ra_ta(res.model, digits, class_split)["RA"] > 98


def test_original_is_not_changed(digits, class_split, theta_o):
    before = copy.deepcopy(theta_o.state_dict())
    uk.unlearn(theta_o, digits, class_split, "ga", options=dict(lr=0.01, epochs=2), device="cpu")
    assert all(torch.equal(before[k], v) for k, v in theta_o.state_dict().items())


def bare_ga(model, ds, forget, epochs, lr, batch_size, momentum, weight_decay, seed):
    """The same updates as ``ga`` written as a bare PyTorch loop."""
    model = copy.deepcopy(model).train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.as_tensor(forget)
    steps = math.ceil(len(idx) / batch_size) * epochs

    def stream():
        while True:
            perm = idx[torch.randperm(len(idx), generator=gen)]
            yield from perm.split(batch_size)

    it = stream()
    for _ in range(steps):
        b = next(it)
        loss = (-F.cross_entropy(model(ds.inputs(b)), ds.y[b], reduction="none")).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def bare_ft(model, ds, retain, epochs, lr, batch_size, momentum, weight_decay, seed, label_smoothing=0.0):
    model = copy.deepcopy(model).train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.as_tensor(retain)
    for _ in range(epochs):
        for b in idx[torch.randperm(len(idx), generator=gen)].split(batch_size):
            loss = F.cross_entropy(model(ds.inputs(b)), ds.y[b], reduction="none", label_smoothing=label_smoothing)
            loss = loss.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@pytest.mark.parametrize("method,bare,part", [("ga", bare_ga, "forget"), ("ft", bare_ft, "retain")])
def test_uniform_weighting_is_exactly_the_plain_method(digits, random_split, theta_o, method, bare, part):
    o = dict(epochs=2, lr=0.01, momentum=0.9, weight_decay=5e-4)
    bs = {"batch_size": 32} if part == "forget" else {"retain_batch_size": 32}
    res = uk.unlearn(
        theta_o, digits, random_split, method, "uniform", options={**o, **bs}, device="cpu", seed=3, stop="none"
    )
    ref = bare(theta_o, digits, getattr(random_split, part), batch_size=32, seed=3, **o)
    for (k, a), b in zip(res.model.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), k


def test_the_retain_term_trains_on_the_train_configs_label_smoothing(digits, random_split, theta_o):
    """θ_o trained with label smoothing: ft's retain term keeps that objective (a bare loop with torch's
    label_smoothing, bit for bit); without a train config it is plain cross-entropy, which differs."""
    o = dict(epochs=1, lr=0.01, momentum=0.9, weight_decay=5e-4, retain_batch_size=32)
    run = dict(device="cpu", seed=3, stop="none")
    res = uk.unlearn(theta_o, digits, random_split, "ft", options=o, train_config={"label_smoothing": 0.3}, **run)
    ref = bare_ft(theta_o, digits, random_split.retain, 1, 0.01, 32, 0.9, 5e-4, seed=3, label_smoothing=0.3)
    for (k, a), b in zip(res.model.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), k
    plain = uk.unlearn(theta_o, digits, random_split, "ft", options=o, **run).model.state_dict()
    assert not all(torch.equal(a, plain[k]) for k, a in res.model.state_dict().items())


class ClassWeights(Weighting):
    """Test weighting: w = 1 + y (a non-uniform, deterministic weight)."""

    name = "class_weights_test"

    def weights(self, ctx, batch, logits, step, term):
        return 1.0 + batch.y.float()


class Ones(Weighting):
    name = "ones_test"
    terms = frozenset({"forget", "retain"})

    def weights(self, ctx, batch, logits, step, term):
        return torch.ones(len(batch.y))


@pytest.fixture
def test_weightings():
    for cls in (ClassWeights, Ones):
        WEIGHTINGS.add(cls.name, cls)
    yield
    for cls in (ClassWeights, Ones):
        WEIGHTINGS._items.pop(cls.name)


def test_weights_change_result_and_ones_match_uniform(digits, random_split, theta_o, test_weightings):
    o = dict(epochs=2, lr=0.01)
    plain = uk.unlearn(theta_o, digits, random_split, "rl", "uniform", options=o, device="cpu").model
    ones = uk.unlearn(theta_o, digits, random_split, "rl", "ones_test", options=o, device="cpu").model
    weighted = uk.unlearn(theta_o, digits, random_split, "rl", "class_weights_test", options=o, device="cpu").model
    diffs = [float((a - b).abs().max().detach()) for a, b in zip(plain.parameters(), ones.parameters())]
    assert max(diffs) < 1e-6  # Σ1·ℓ/Σ1 is the mean up to float rounding
    assert any(not torch.allclose(a, b, atol=1e-4) for a, b in zip(plain.parameters(), weighted.parameters()))


def test_composition_errors_are_raised_before_work(digits, random_split, theta_o, test_weightings):
    with pytest.raises(uk.UnlearnkitError, match="cannot use weighting 'class_weights_test'"):
        uk.unlearn(theta_o, digits, random_split, "ft", "class_weights_test", device="cpu")
    with pytest.raises(uk.UnlearnkitError, match="target 'uniform' cannot apply"):
        uk.unlearn(theta_o, digits, random_split, "ga", target="uniform", device="cpu")
    with pytest.raises(uk.UnlearnkitError, match="unknown method 'gaa'.*ga"):
        uk.unlearn(theta_o, digits, random_split, "gaa", device="cpu")
    with pytest.raises(uk.UnlearnkitError, match="bad options for method 'ga'.*lr"):
        uk.unlearn(theta_o, digits, random_split, "ga", options={"lr": -1}, device="cpu")


def test_nan_loss_stops_with_step(digits, class_split, theta_o):
    # stop="none": the divergence guard (or the NaN check, whichever comes first) raises with the step
    with pytest.raises(uk.UnlearnkitError, match=r"method 'ga' diverged at step \d+"):
        uk.unlearn(
            theta_o,
            digits,
            class_split,
            "ga",
            options=dict(lr=50.0, epochs=20, momentum=0.0),
            device="cpu",
            stop="none",
        )


def test_unmoved_model_warns(digits, random_split, theta_o):
    with pytest.warns(RuntimeWarning, match="did not change the model"):
        uk.unlearn(
            theta_o,
            digits,
            random_split,
            "ga",
            options=dict(lr=1e-30, epochs=1, momentum=0.0, weight_decay=0.0),
            device="cpu",
        )


def test_user_module_and_dataset(digits):
    """A user's own nn.Module and torch Dataset go through the same API."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 5, generator=g)
    y = (x[:, 0] > 0).long()
    train = torch.utils.data.TensorDataset(x[:240], y[:240])
    test = torch.utils.data.TensorDataset(x[240:], y[240:])
    ds = uk.from_torch_dataset(train, test, num_classes=2)
    split = uk.make_split(ds, "random", seed=0, fraction=0.2)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    uk.train_model(net, ds, split.train, uk.TrainConfig(epochs=10, lr=0.1), torch.device("cpu"))
    res = uk.unlearn(net, ds, split, "neggrad_plus", options=dict(epochs=2, lr=0.01), device="cpu")
    assert res.moved


def _set_options() -> list[tuple[str, str, str]]:
    """(method, option, the set it acts on) for every gradient method and every option that declares one."""
    from unlearnkit.methods import METHODS
    from unlearnkit.methods.base import GradientMethod, option_reads

    out = []
    for name in METHODS.names():
        cls = METHODS.get(name)
        if issubclass(cls, GradientMethod):
            for option in cls.Options.model_fields:
                reads = option_reads(cls.Options, option)
                if reads is not None:
                    out.append((name, option, reads))
    return out


@pytest.mark.parametrize("method, option, reads", _set_options())
def test_an_option_for_a_set_the_method_does_not_read_is_an_error(method, option, reads):
    """ft with forget_weight (or ga with retain_batch_size) would run exactly as without it: refused at config
    time, naming the option; the same option on a method that reads that set is accepted."""
    from unlearnkit.errors import CompositionError
    from unlearnkit.methods import METHODS
    from unlearnkit.unlearn import Plan

    cls = METHODS.get(method)
    value = cls.Options.model_fields[option].default
    assert reads in ("forget", "retain")
    if getattr(cls, f"uses_{reads}"):
        plan = Plan.make(method, options={option: value})
        assert option in plan.options.model_fields_set
    else:
        with pytest.raises(
            CompositionError, match=rf"'{method}' does not read the {reads} set .*'{option}'.*remove it"
        ):
            Plan.make(method, options={option: value})
    assert Plan.make(method).options.model_fields_set == set()  # defaults are never "given"


def test_the_unread_option_error_covers_ft_ga_and_l1_sparse():
    """The cases that were silent no-ops before the check (not a vacuous parametrisation)."""
    cases = {(m, o) for m, o, r in _set_options() if r == "forget" and m in ("ft", "l1_sparse")}
    cases |= {(m, o) for m, o, r in _set_options() if r == "retain" and m == "ga"}
    assert {("ft", "forget_weight"), ("ft", "batch_size"), ("l1_sparse", "forget_batch_norm")} <= cases
    assert {("ga", "retain_batch_size"), ("ga", "retain_weight")} <= cases
    # a field an Options subclass redefines keeps the set it acts on (ga's batch_size, bad_teacher's
    # forget_batch_norm): the declaration is found up the class hierarchy
    assert {("ga", "batch_size", "forget"), ("bad_teacher", "forget_batch_norm", "forget")} <= set(_set_options())
