"""Contract tests over every registered component (in the spirit of scikit-learn's test_common): a new
method, weighting, target, metric, scenario or dataset loader is checked here without being named."""

from __future__ import annotations

import copy
import dataclasses
import math
import re

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import unlearnkit as uk
from unlearnkit.cli import app
from unlearnkit.context import UnlearnContext
from unlearnkit.data import DATASETS, SCENARIOS, ArrayDataset
from unlearnkit.errors import CompositionError, UnlearnkitError
from unlearnkit.eval import METRICS, Evaluation, Need
from unlearnkit.methods import METHODS
from unlearnkit.methods.base import GradientMethod
from unlearnkit.models import MODELS
from unlearnkit.options import build
from unlearnkit.sources import SequentialSource
from unlearnkit.targets import TARGETS
from unlearnkit.targets.base import TabulatedTarget
from unlearnkit.unlearn import Plan
from unlearnkit.weighting import WEIGHTINGS

CPU = torch.device("cpu")
TRAIN = uk.TrainConfig(epochs=4, lr=0.05)


def _fit(ds, idx, seed):
    torch.manual_seed(seed)
    model = uk.build_model("mlp", ds.input_shape, ds.num_classes, hidden=[32])
    return uk.train_model(model, ds, idx, TRAIN, CPU, seed=seed)


def group_data(n=600, seed=0) -> ArrayDataset:
    """A binary task with a sensitive group (for components that need one)."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, 2, (n,), generator=g)
    z = torch.randn(n, 4, generator=g)
    y = (torch.rand(n, generator=g) < torch.sigmoid(1.5 * z[:, 0] + (s.float() - 0.5) * 2.4)).long()
    idx = np.arange(n)
    ds = ArrayDataset("group", torch.cat([z, s.float()[:, None]], 1), y, 2, pool=idx[:400], test=idx[500:], group=s)
    ds.extra["unseen"] = idx[400:500]
    return ds


@pytest.fixture(scope="module")
def setups(digits):
    """(dataset, split, θ_o, θ_r) for a random, a class and a group (correction) scenario."""
    out = {}
    for name, ds, split in [
        ("random", digits, uk.make_split(digits, "random", seed=0, fraction=0.1)),
        ("class", digits, uk.make_split(digits, "class", seed=0, classes=[3])),
        ("group", group_data(), None),
    ]:
        split = split or uk.make_split(ds, "correction", seed=0, fraction=0.1)
        out[name] = (ds, split, _fit(ds, split.train, 0), _fit(ds, split.retain, 0))
    return out


def _quick(cls) -> dict:
    fields = cls.Options.model_fields
    return {k: v for k, v in {"epochs": 1, "msteps": 1}.items() if k in fields}


def _setup_for(needs_group: bool, needs_class: bool, setups):
    return setups["group" if needs_group else "class" if needs_class else "random"]


# --- methods -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", METHODS.names())
def test_method_runs_one_short_step_and_moves_or_says_why_not(name, setups):
    ds, split, original, retrained = setups["random"]
    cls = METHODS.get(name)
    before = copy.deepcopy(original)
    res = uk.unlearn(
        original,
        ds,
        split,
        name,
        options=_quick(cls),
        device="cpu",
        seed=0,
        stop="none",
        train_config=TRAIN,
        new_model=lambda: uk.build_model("mlp", ds.input_shape, 10, hidden=[32]),
        retrained=lambda: (copy.deepcopy(retrained), 1.0),
    )
    assert all(torch.equal(a, b) for a, b in zip(original.state_dict().values(), before.state_dict().values())), (
        "θ_o must never change"
    )
    if cls.moves_model:  # a method that may leave θ_o as it is declares moves_model = False (and says why)
        assert res.moved, f"{name} did not change the model in one short step"
    assert all(torch.isfinite(v).all() for v in res.model.state_dict().values() if v.is_floating_point())


@pytest.mark.parametrize("name", METHODS.names())
def test_method_declarations_are_consistent(name):
    cls = METHODS.get(name)
    fields = cls.Options.model_fields
    assert cls.name == name
    assert set(cls.search_space) <= {"lr", "epochs", "forget_weight"} | set(fields)
    assert cls.default_target in TARGETS
    if cls.damage_option is not None:  # auto lowers it by multiples: a numeric option of a gradient method
        assert issubclass(cls, GradientMethod) and cls.damage_option in fields
        assert isinstance(getattr(cls.Options(), cls.damage_option), float)
    if cls.strength_option is not None:
        assert cls.strength_option in fields
    if cls.accepts_target is False:
        with pytest.raises(CompositionError, match=name):
            Plan.make(name, "uniform", "uniform")


# --- weightings ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_weighting_with_weights_forced_to_one_reproduces_uniform(name, setups, monkeypatch):
    cls = WEIGHTINGS.get(name)
    ds, split, original, _ = setups["group" if name == "soft" else "random"]
    methods = [
        m
        for m in METHODS.names()
        if cls.terms & METHODS.get(m).weightable_terms and METHODS.get(m).uses_retain and METHODS.get(m).uses_forget
    ]
    if not methods:
        pytest.skip(f"no method weights the {sorted(cls.terms)} terms with a forget and a retain loss")
    method = "neggrad_plus" if "neggrad_plus" in methods else methods[0]
    opts = {"epochs": 1}
    plain = uk.unlearn(original, ds, split, method, options=opts, device="cpu", seed=0, train_config=TRAIN, stop="none")
    monkeypatch.setattr(cls, "weights", lambda self, ctx, batch, logits, step, term: torch.ones(len(batch.idx)))
    monkeypatch.setattr(cls, "driving_split", lambda self, ctx: ctx.split)
    forced = uk.unlearn(
        original, ds, split, method, name, options=opts, device="cpu", seed=0, train_config=TRAIN, stop="none"
    )
    for (k, a), b in zip(plain.model.state_dict().items(), forced.model.state_dict().values()):
        assert torch.allclose(a, b, rtol=0, atol=1e-6), f"{name}: {k} differs from uniform"


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_weighting_declarations(name):
    cls = WEIGHTINGS.get(name)
    assert cls.name == name and cls.terms and cls.terms <= {"forget", "retain", "influence"}
    w = cls()
    assert isinstance(w.label, str) and w.label
    assert all(isinstance(k, str) for k in cls.step_diagnostics)


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_weighting_unmet_names_exactly_its_declared_needs(name, setups):
    """``unmet`` says something exactly where a declared need is missing (held-out data, a binary group), names
    the weighting and the fix, and ``unlearn`` refuses with that message before any work."""
    cls = WEIGHTINGS.get(name)
    gds, gsplit, goriginal, _ = setups["group"]  # binary, with a group and an unseen split: every need met
    assert cls.unmet(gds, gsplit) is None
    no_unseen = dataclasses.replace(gsplit, unseen=np.array([], dtype=np.int64))
    lacks = {
        "requires_unseen": cls.unmet(gds, no_unseen),
        "requires_binary_group": cls.unmet(*setups["random"][:2]),  # digits: 10 classes, no group
    }
    for need, msg in lacks.items():
        assert (msg is not None) == getattr(cls, need), f"{name}.{need}: {msg}"
        if msg:
            assert repr(name) in msg and ("unseen_fraction" in msg or "adult" in msg)
    if lacks["requires_unseen"]:
        with pytest.raises(UnlearnkitError, match=re.escape(lacks["requires_unseen"])):
            uk.unlearn(goriginal, gds, no_unseen, "rl", name, options={"epochs": 1}, device="cpu", stop="none")


@pytest.mark.parametrize("name", TARGETS.names())
def test_target_unmet_names_exactly_its_declared_needs(name, setups):
    cls = TARGETS.get(name)
    assert cls.unmet(*setups["class"][:2]) is None
    msg = cls.unmet(*setups["random"][:2])
    assert (msg is not None) == cls.requires_class_scenario
    if msg:
        assert repr(name) in msg and "'class'" in msg
        ds, split, original, _ = setups["random"]
        with pytest.raises(UnlearnkitError, match=re.escape(msg)):
            uk.unlearn(original, ds, split, "rl", target=name, options={"epochs": 1}, device="cpu", stop="none")


# --- targets -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TARGETS.names())
def test_target_rows_are_distributions_that_zero_the_forgotten_class(name, setups):
    ds, split, original, _ = setups["class"]
    target = build(TARGETS, name)
    ctx = UnlearnContext(
        model=copy.deepcopy(original),
        original=original,
        dataset=ds,
        split=split,
        num_classes=10,
        device=CPU,
        seed=0,
        options=METHODS.get("rl").Options(),
        weighting=build(WEIGHTINGS, "uniform"),
        target=target,
    )
    target.prepare(ctx)
    idx = torch.as_tensor(split.forget)
    try:
        q = target.distribution(ctx, ctx.batch(idx))
    except NotImplementedError:
        assert name == "none", f"target {name!r} gives no distribution"
        return
    assert q.shape == (len(idx), 10)
    assert torch.all(q >= 0)
    assert torch.allclose(q.sum(1), torch.ones(len(idx)), atol=1e-5)
    assert torch.all(q[:, 3] == 0), f"target {name!r} leaves mass on the forgotten class"
    if isinstance(target, TabulatedTarget):  # a retain sample has no row: an error, not another sample's row
        mixed = torch.cat([idx[:2], torch.as_tensor(split.retain[:1])])
        with pytest.raises(RuntimeError, match="outside the forget set"):
            target.distribution(ctx, ctx.batch(mixed))


# --- metrics -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", METRICS.names())
def test_metric_returns_exactly_its_declared_columns(name, setups):
    cls = METRICS.get(name)
    ds, split, original, retrained = _setup_for(
        Need.BINARY_GROUP in cls.needs, Need.CLASS_FORGETTING in cls.needs, setups
    )
    plan = Plan.make("ft", "uniform", "none", {"epochs": 1})

    def unlearn_fn(model, sp, seed):
        return uk.unlearn(model, ds, sp, "ft", options={"epochs": 1}, device="cpu", seed=seed, stop="none").model

    source = SequentialSource(
        split,
        0,
        lambda: uk.build_model("mlp", ds.input_shape, ds.num_classes, hidden=[32]),
        lambda m, idx, s: uk.train_model(m, ds, idx, TRAIN, CPU, seed=s),
        unlearn_fn,
        retrained0=retrained,
    )
    model = unlearn_fn(original, split, 0)
    ev = Evaluation(ds, split, CPU, 0, original, retrained, plan.weighting, source)
    out = build(METRICS, name, cls.quick_options).evaluate(model, ev)
    assert list(out) == list(cls.column_names())
    for c in cls.columns:
        v = out[c.name]
        if c.kind == "number":
            assert isinstance(v, (int, float)) and math.isfinite(v), f"{name}.{c.name} = {v!r}"
        else:
            assert isinstance(v, str), f"{name}.{c.name} must be a {c.kind} string"


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_declarations(name):
    cls = METRICS.get(name)
    assert cls.name == name and cls.columns
    names = cls.column_names()
    assert len(set(names)) == len(names)
    for c in cls.columns:
        assert c.definition and not c.definition.endswith(" ")
        assert not (c.in_gap and c.goal != "match_retrain"), "a gap column is judged by closeness to retrain"
        assert not (c.per_epoch and c.kind != "number")
    build(METRICS, name, cls.quick_options)  # its quick options are valid options


def test_metric_missing_a_need_fails_before_computing(digits):
    split = uk.make_split(digits, "class", seed=0, classes=[3])
    ev = Evaluation(digits, split, CPU)
    for name, cls in METRICS.items():
        missing = cls.needs - ev.available()
        if missing:
            with pytest.raises(UnlearnkitError, match=re.escape(sorted(n.value for n in missing)[0])):
                build(METRICS, name, cls.quick_options).evaluate(torch.nn.Linear(64, 10), ev)


# --- scenarios and datasets ----------------------------------------------------------------------
@pytest.mark.parametrize("name", SCENARIOS.names())
def test_scenario_defaults_give_a_seeded_split_or_a_clear_error(name, digits):
    try:
        a = uk.make_split(digits, name, seed=3)
    except UnlearnkitError as e:
        assert str(e) and name in str(e) or "needs" in str(e) or "indices" in str(e)
        return
    b = uk.make_split(digits, name, seed=3)
    assert np.array_equal(a.forget, b.forget) and np.isin(a.forget, a.train).all()
    assert sum(a.info["forget_counts"]) == len(a.forget)
    assert not np.intersect1d(a.train, a.test).size and not np.intersect1d(a.train, a.unseen).size


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_loader_loads_a_valid_dataset_or_says_how_to_get_it(name, tmp_path):
    try:
        ds = uk.load_dataset(name, data_dir=tmp_path)
    except UnlearnkitError as e:
        assert len(str(e)) > 20
        return
    labels = ds.labels
    assert len(ds.x) == len(labels) and labels.min() >= 0 and labels.max() < ds.num_classes
    assert not np.intersect1d(ds.pool, ds.test).size


# --- every registered name documents itself --------------------------------------------------------
def test_every_registered_name_has_a_docstring_shown_by_list():
    res = CliRunner().invoke(app, ["list"])
    assert res.exit_code == 0, res.output
    for reg in (DATASETS, SCENARIOS, MODELS, METHODS, WEIGHTINGS, TARGETS, METRICS):
        for name, obj in reg.items():
            doc = (obj.__doc__ or "").strip()
            assert doc, f"{reg.kind} {name!r} has no docstring"
            assert name in res.output
    for cls in METRICS._items.values():  # every declared column is listed with its metric
        for c in cls.columns:
            assert c.name in res.output, f"column {c.name} of {cls.name} not shown by list"


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_round_trips_through_the_model_cache(name, tmp_path):
    """Every registered model can be cached (safetensors: no two state-dict names sharing memory unhandled)
    and loads back bit for bit into a fresh instance."""
    from unlearnkit.cache import ModelCache

    shape = (3, 16, 16)
    torch.manual_seed(0)
    model = uk.build_model(name, shape, 5)
    cache = ModelCache(tmp_path)
    cache.save("k", model, {"what": name})
    torch.manual_seed(1)
    fresh = uk.build_model(name, shape, 5)
    assert cache.load("k", fresh) == {"what": name}
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), k


def test_history_tensors_become_numbers_once_at_the_end():
    """ctx.record may take device tensors (per-step diagnostics without a host sync); ``materialise`` turns them
    into the numbers / lists they hold, exactly, and leaves everything else alone."""
    from unlearnkit.context import materialise

    half = torch.tensor(0.1, dtype=torch.float32)  # not exactly 0.1: the float32 value must survive
    hist = [
        {"step": 1, "a": half, "b": torch.tensor([1.5, float("nan")]), "name": "x"},
        {"step": 2, "c": torch.arange(6).reshape(2, 3), "d": 2.5},
    ]
    out = materialise(hist)
    assert out is hist
    assert hist[0]["a"] == float(half) and type(hist[0]["a"]) is float
    assert hist[0]["b"][0] == 1.5 and math.isnan(hist[0]["b"][1])
    assert hist[1]["c"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert (hist[0]["step"], hist[0]["name"], hist[1]["d"]) == (1, "x", 2.5)


def test_falw_records_its_per_step_group_means_as_numbers(digits, random_split, theta_o):
    res = uk.unlearn(theta_o, digits, random_split, "rl", "falw", options={"epochs": 1}, device="cpu", stop="none")
    diag = [h for h in res.history if "falw_mean_w_head" in h]
    assert diag and all(isinstance(h[f"falw_mean_w_{g}"], float) for h in diag for g in ("head", "mid", "tail"))
