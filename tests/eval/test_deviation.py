"""Deviation metrics (methods/falw.md "Setting"): head/mid/tail thirds, ΔFA, heterogeneity, skew."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import unlearnkit as uk
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.eval.accuracy import per_class_accuracy
from unlearnkit.eval.deviation import class_thirds, deviation_summary

CPU = torch.device("cpu")


def test_class_thirds_rank_by_forget_count():
    counts = [50, 0, 5, 20, 1, 10, 3, 8, 2, 30]
    # present classes ranked: 0(50) 9(30) 3(20) | 5(10) 7(8) 2(5) | 6(3) 8(2) 4(1); class 1 has none
    expected = {0: 0, 9: 0, 3: 0, 5: 1, 7: 1, 2: 1, 6: 2, 8: 2, 4: 2, 1: -1}
    assert class_thirds(counts).tolist() == [expected[c] for c in range(10)]


def test_class_thirds_ties_remainder_and_too_few():
    assert class_thirds([5, 5, 5, 5]).tolist() == [0, 0, 1, 2]  # ties by class index; head takes the remainder
    # ranked 9(10) 3(9) 7(8) 4(7) | 8(6) 5(5) 6(4) | 0(3) 2(2) 1(1): 10 classes → 4 / 3 / 3
    assert class_thirds([3, 1, 2, 9, 7, 5, 4, 8, 6, 10]).tolist() == [2, 2, 2, 0, 0, 1, 1, 0, 1, 0]
    assert class_thirds([7, 0, 3]).tolist() == [-1, -1, -1]  # fewer than 3 classes in D_f


def test_deviation_summary_hand_table():
    counts = [40, 30, 20, 10, 5, 0]  # head {0, 1}, mid {2, 3}, tail {4}; class 5 not in D_f
    fa_u = [90.0, 100.0, 80.0, 60.0, 20.0, None]
    fa_r = [95.0, 96.0, 70.0, 70.0, 60.0, None]
    out = deviation_summary(fa_u, fa_r, counts)  # ΔFA = [-5, 4, 10, -10, -40]
    assert out["dFA_per_class"] == [-5.0, 4.0, 10.0, -10.0, -40.0, None]
    assert out["dFA_head"] == pytest.approx(-0.5)
    assert out["dFA_mid"] == pytest.approx(0.0)
    assert out["dFA_tail"] == pytest.approx(-40.0)
    # mean −8.2; squared deviations 10.24 + 148.84 + 331.24 + 3.24 + 1011.24 = 1504.8; / 5 = 300.96
    assert out["heterogeneity"] == pytest.approx(math.sqrt(300.96))
    assert out["skew"] == pytest.approx(40.0 / 4.5)  # mean tail |ΔFA| / mean head |ΔFA|


def test_deviation_summary_undefined_cases():
    same = deviation_summary([50.0, 80.0, 90.0], [50.0, 80.0, 70.0], [30, 20, 10])
    assert same["dFA_head"] == 0.0 and same["dFA_tail"] == 20.0
    assert math.isnan(same["skew"])  # head |ΔFA| = 0: ratio undefined
    two = deviation_summary([50.0, 80.0, None], [40.0, 70.0, None], [30, 20, 0])
    assert all(math.isnan(two[c]) for c in ("dFA_head", "dFA_mid", "dFA_tail", "heterogeneity", "skew"))
    assert two["dFA_per_class"] == [10.0, 10.0, None]
    with pytest.raises(ValueError, match="length"):
        deviation_summary([1.0, 2.0], [1.0], [1, 1])


@pytest.fixture(scope="module")
def setup():
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "long_tail", seed=1, fraction=0.2, profile="exp", ratio=20)
    cfg = uk.TrainConfig(epochs=3, lr=0.05)
    torch.manual_seed(0)
    original = uk.train_model(uk.build_model("mlp", ds.input_shape, 10, hidden=[32]), ds, split.train, cfg, CPU, seed=0)
    torch.manual_seed(0)
    retrained = uk.train_model(
        uk.build_model("mlp", ds.input_shape, 10, hidden=[32]), ds, split.retain, cfg, CPU, seed=0
    )
    return ds, split, original, retrained


def test_metric_wrapper_matches_pure_functions(setup):
    ds, split, original, retrained = setup
    ev = Evaluation(ds, split, CPU, 0, original, retrained)
    metric = METRICS.get("deviation")()
    out = metric.compute(original, ev)
    assert list(out) == list(metric.column_names())
    labels = ev.labels("forget")
    fa_u = per_class_accuracy(ev.logits(original, "forget"), labels, 10)
    fa_r = per_class_accuracy(ev.logits(retrained, "forget"), labels, 10)
    delta = np.array(fa_u, dtype=float) - np.array(fa_r, dtype=float)
    assert json.loads(out["dFA_per_class"]) == pytest.approx(delta.tolist())
    groups = class_thirds(split.info["forget_counts"])
    assert out["dFA_tail"] == pytest.approx(delta[groups == 2].mean())
    assert out["heterogeneity"] == pytest.approx(delta.std())
    assert out["heterogeneity"] > 0  # θ_o and θ_r differ on D_f
    own = metric.compute(retrained, ev)  # θ_r against itself: no deviation anywhere
    assert own["dFA_head"] == own["dFA_tail"] == own["heterogeneity"] == 0.0 and math.isnan(own["skew"])


def test_metric_nan_for_single_class_forget_set(setup):
    ds, _, original, retrained = setup
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    out = METRICS.get("deviation")().compute(original, Evaluation(ds, split, CPU, 0, original, retrained))
    assert all(math.isnan(out[c]) for c in ("dFA_head", "dFA_mid", "dFA_tail", "heterogeneity", "skew"))
