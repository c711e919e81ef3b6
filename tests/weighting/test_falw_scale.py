"""FaLW at scale: the seeded per-class subsample of the unseen split (``unseen_per_class``) and the
paper setting (whole split, refresh every step) it must reproduce exactly when the cap covers V."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import unlearnkit as uk
from unlearnkit.context import UnlearnContext
from unlearnkit.options import build
from unlearnkit.weighting import WEIGHTINGS
from unlearnkit.weighting.falw import PAPER, REFRESH_EVERY, UNSEEN_PER_CLASS, subsample_per_class

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def lt_split(digits):
    return uk.make_split(digits, "long_tail", seed=0, fraction=0.2, profile="exp", ratio=20)


@pytest.fixture(scope="module")
def trained(digits, lt_split):
    torch.manual_seed(0)
    model = uk.build_model("mlp", digits.input_shape, 10, hidden=[32])
    return uk.train_model(model, digits, lt_split.train, uk.TrainConfig(epochs=8, lr=0.05), CPU, seed=0)


def test_subsample_hand_case():
    idx = np.array([10, 11, 12, 13, 14, 15, 16, 17])
    lab = np.array([0, 1, 0, 0, 1, 2, 0, 1])  # class 0: 4 (10, 12, 13, 16), class 1: 3, class 2: 1
    assert subsample_per_class(idx, lab, None, 0) is idx
    assert subsample_per_class(idx, lab, 4, 0) is idx  # no class above the cap: unchanged, same order
    sub = subsample_per_class(idx, lab, 2, 0)
    assert np.bincount(lab[np.isin(idx, sub)], minlength=3).tolist() == [2, 2, 1]
    assert set(sub) <= set(idx) and 15 in sub  # the singleton class is kept
    assert list(sub) == sorted(sub, key=lambda i: list(idx).index(i))  # original order
    assert np.array_equal(sub, subsample_per_class(idx, lab, 2, 0))  # seeded
    draws = {tuple(subsample_per_class(idx, lab, 2, s)) for s in range(20)}
    assert len(draws) > 1  # another seed, another draw


def make_ctx(model, ds, split, weighting, seed=0):
    return UnlearnContext(
        model=model,
        original=model,
        dataset=ds,
        split=split,
        num_classes=ds.num_classes,
        weighting=weighting,
        target=None,
        options=None,
        device=CPU,
        seed=seed,
    )


def reference_labels(w, ds, split, seed=0, model=None):
    ctx = make_ctx(model, ds, split, w, seed)
    w.prepare(ctx)
    return w._unseen_y


def test_cap_sets_the_reference_size_per_class(digits, lt_split, trained):
    full = np.bincount(digits.labels[lt_split.unseen], minlength=10)
    y = reference_labels(build(WEIGHTINGS, "falw", {"unseen_per_class": 5}), digits, lt_split, model=trained)
    assert np.bincount(y.numpy(), minlength=10).tolist() == np.minimum(full, 5).tolist()
    y_paper = reference_labels(build(WEIGHTINGS, "falw", PAPER), digits, lt_split, model=trained)
    assert np.bincount(y_paper.numpy(), minlength=10).tolist() == full.tolist()


def test_paper_setting_is_the_whole_split_every_step():
    o = build(WEIGHTINGS, "falw", PAPER).options
    assert o.unseen_per_class is None and o.refresh_every == 1
    default = build(WEIGHTINGS, "falw", {}).options
    assert default.unseen_per_class == UNSEEN_PER_CLASS and default.refresh_every == REFRESH_EVERY
    with pytest.raises(uk.UnlearnkitError, match="unseen_per_class"):
        build(WEIGHTINGS, "falw", {"unseen_per_class": 1})  # one sample has no spread


@pytest.mark.parametrize("method", ["rl", "ga"])
def test_cap_covering_the_split_is_bit_identical_to_the_paper_setting(method, digits, lt_split, trained):
    cover = int(np.bincount(digits.labels[lt_split.unseen]).max())
    opts = {"epochs": 1, "lr": 0.01}
    runs = [
        uk.unlearn(
            trained,
            digits,
            lt_split,
            method,
            "falw",
            options=opts,
            weighting_options=wo,
            device="cpu",
            stop="none",
            seed=2,
        )
        for wo in (
            PAPER,
            {"unseen_per_class": cover, "refresh_every": 1},
            {"unseen_per_class": cover + 50, "refresh_every": 1},
        )
    ]
    s0 = runs[0].model.state_dict()
    assert runs[0].param_change > 0
    for r in runs[1:]:
        s = r.model.state_dict()
        assert all(torch.equal(s0[k], s[k]) for k in s0)
    assert [h.get("falw_mean_w_head") for h in runs[0].history] == [h.get("falw_mean_w_head") for h in runs[1].history]
    # a cap below the class counts estimates from fewer samples: a different trajectory
    small = uk.unlearn(
        trained,
        digits,
        lt_split,
        method,
        "falw",
        options=opts,
        weighting_options={"unseen_per_class": 3, "refresh_every": 1},
        device="cpu",
        stop="none",
        seed=2,
    )
    assert not torch.equal(small.model.head.weight, runs[0].model.head.weight)


def test_refresh_every_k_reestimates_on_steps_0_k_2k(digits, lt_split, trained, monkeypatch):
    from unlearnkit.weighting import falw as falw_mod

    calls = []
    real = falw_mod.FaLW.refresh
    monkeypatch.setattr(falw_mod.FaLW, "refresh", lambda self, ctx: (calls.append(1), real(self, ctx)))

    res = uk.unlearn(
        trained,
        digits,
        lt_split,
        "rl",
        "falw",
        options={"epochs": 1, "lr": 0.01},
        weighting_options={"refresh_every": 4},
        device="cpu",
        stop="none",
        seed=0,
    )
    steps = [h["step"] for h in res.history if "falw_mean_w_head" in h]
    assert len(calls) == len(range(0, len(steps), 4))
