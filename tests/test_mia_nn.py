"""MIA-NN: the divergence protocol (JS by hand, the floor on a constructed ensemble, AUC), neighbour
choice and the SVM attack on synthetic inputs, and both protocols on digits."""

import math

import numpy as np
import pytest
import torch

import unlearnkit as uk
from helpers import ListSource
from unlearnkit.errors import UnlearnkitError
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.eval.mia_nn import (
    divergence_summary,
    drop_classes,
    js_divergence,
    leave_one_out_means,
    mann_whitney_auc,
    neighbour_classes,
    svm_attack_accuracy,
)
from unlearnkit.options import build


def js2(p, q):
    """JS of two 2-class distributions (p, 1 − p) and (q, 1 − q), written out."""
    m = (p + q) / 2
    kl = lambda a: a * math.log(a / m) + (1 - a) * math.log((1 - a) / (1 - m))  # noqa: E731
    return 0.5 * kl(p) + 0.5 * kl(q)


def test_js_divergence_by_hand():
    # m = (0.7, 0.3): ½[0.5 ln(0.5/0.7) + 0.5 ln(0.5/0.3)] + ½[0.9 ln(0.9/0.7) + 0.1 ln(0.1/0.3)] = 0.101749…
    assert js_divergence([0.5, 0.5], [0.9, 0.1]) == pytest.approx(0.1017491, abs=1e-6)
    assert js_divergence([0.9, 0.1], [0.5, 0.5]) == pytest.approx(0.1017491, abs=1e-6)  # symmetric
    assert js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2), abs=1e-9)  # disjoint: ln 2
    assert js_divergence([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    rows = js_divergence(np.array([[0.5, 0.5], [0.2, 0.8]]), np.array([[0.9, 0.1], [0.6, 0.4]]))
    assert rows == pytest.approx([js2(0.5, 0.9), js2(0.2, 0.6)], abs=1e-12)


def test_floor_of_a_retrained_model_against_the_others():
    # K = 3 retrained models on one sample: p¹ = (.8, .2), p² = (.6, .4), p³ = (.4, .6)
    # Q₋₁ = (.5, .5), Q₋₂ = (.6, .4), Q₋₃ = (.7, .3); floor_j = 100·JS(pʲ ‖ Q₋ⱼ)
    ens = np.array([[[0.8, 0.2]], [[0.6, 0.4]], [[0.4, 0.6]]])
    assert leave_one_out_means(ens)[:, 0, 0] == pytest.approx([0.5, 0.6, 0.7])
    floors = [100 * js2(0.8, 0.5), 0.0, 100 * js2(0.4, 0.7)]
    m = np.array([[0.5, 0.5]])  # a model M
    divs = [0.0, 100 * js2(0.5, 0.6), 100 * js2(0.5, 0.7)]
    out = divergence_summary(m, ens)
    assert out["floor"] == pytest.approx(np.mean(floors), abs=1e-9)
    assert out["floor_max"] == pytest.approx(max(floors), abs=1e-9)
    assert out["div"] == pytest.approx(np.mean(divs), abs=1e-9)
    assert out["excess"] == pytest.approx(np.mean(divs) - np.mean(floors), abs=1e-9)
    # M = θ_r^1 exactly: div_1 is floor_1
    same = divergence_summary(ens[0], ens)
    assert same["div"] == pytest.approx(np.mean([floors[0], 100 * js2(0.8, 0.6), 100 * js2(0.8, 0.7)]), abs=1e-9)
    with pytest.raises(UnlearnkitError, match="K ≥ 3"):
        divergence_summary(m, ens[:2])


def test_mann_whitney_auc_and_drop_classes():
    assert mann_whitney_auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 100.0
    assert mann_whitney_auc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 0.0
    assert mann_whitney_auc(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 50.0
    assert mann_whitney_auc(np.array([2.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(50.0)  # (1 + ½)/3
    assert drop_classes(np.array([[0.5, 0.25, 0.25], [0.2, 0.2, 0.6]]), [0]) == pytest.approx(
        np.array([[0.5, 0.5], [0.25, 0.75]])
    )


def test_divergence_needs_three_models():
    with pytest.raises(UnlearnkitError, match="R: Input should be greater than or equal to 3"):
        build(METRICS, "mia_nn", {"R": 2})
    assert build(METRICS, "mia_nn_svm", {"R": 2}).options.R == 2


def test_neighbour_is_where_retrained_models_send_the_forget_class():
    # 3 retrained models on 4 forget samples of class 0 (5 classes). Model-averaged mass: class 2 wins
    # although one model prefers class 3 and class 0 itself (the forget class) is never chosen.
    p = np.zeros((3, 4, 5))
    p[0, :, :] = [0.5, 0.05, 0.35, 0.05, 0.05]
    p[1, :, :] = [0.5, 0.05, 0.30, 0.10, 0.05]
    p[2, :, :] = [0.5, 0.05, 0.10, 0.30, 0.05]
    labels = np.zeros(4, dtype=int)
    assert neighbour_classes(p, labels, [0], top_k=1) == [2]
    assert neighbour_classes(p, labels, [0], top_k=2) == [2, 3]


def test_neighbours_of_two_forget_classes_are_the_union_excluding_forget_classes():
    p = np.array(
        [
            [0.1, 0.6, 0.2, 0.1, 0.0],  # class 0 sample: 1 is forgotten too → neighbour 2
            [0.1, 0.6, 0.3, 0.0, 0.0],
            [0.0, 0.1, 0.1, 0.1, 0.7],
        ]
    )  # class 1 sample → neighbour 4
    assert neighbour_classes(p, np.array([0, 0, 1]), [0, 1], top_k=1) == [2, 4]


def test_svm_attack_is_chance_on_identical_and_perfect_on_separable_logits():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 10)), rng.normal(size=(300, 10))
    same = svm_attack_accuracy(a, b, folds=5, seed=0)
    assert 40 <= same <= 60
    shifted = b + np.r_[6.0, np.zeros(9)]
    assert svm_attack_accuracy(a, shifted, folds=5, seed=0) >= 99
    half = b + np.r_[1.0, np.zeros(9)]  # Bayes accuracy Φ(0.5) ≈ 69%
    assert 60 <= svm_attack_accuracy(a, half, folds=5, seed=0) <= 75
    # the held-out-set variant reads the same
    c, d = rng.normal(size=(200, 10)), rng.normal(size=(200, 10)) + np.r_[6.0, np.zeros(9)]
    assert svm_attack_accuracy(a, shifted, pos_test=c, neg_test=d) >= 99


def test_mia_nn_needs_retrained_models():
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    ev = Evaluation(ds, split, torch.device("cpu"))
    metric = METRICS.get("mia_nn")()
    with pytest.raises(UnlearnkitError, match="retrained on D_r"):
        metric.compute(uk.build_model("mlp", ds.input_shape, 10), ev)


@pytest.fixture(scope="module")
def digits_models():
    torch.manual_seed(0)
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    cfg = uk.TrainConfig(epochs=8, lr=0.05)
    dev = torch.device("cpu")
    retrained = [
        uk.train_model(uk.build_model("mlp", ds.input_shape, 10), ds, split.retain, cfg, dev, seed=s) for s in range(4)
    ]
    original = uk.train_model(uk.build_model("mlp", ds.input_shape, 10), ds, split.train, cfg, dev)
    ev = Evaluation(ds, split, dev, original=original, retrained=retrained[0], models=ListSource(retrained))
    return ev, original, retrained


def test_mia_nn_svm_separates_forget_from_neighbour_and_reports_gap(digits_models):
    ev, original, _ = digits_models
    metric = build(METRICS, "mia_nn_svm", {"R": 2})
    out = metric.compute(original, ev)
    assert list(out) == list(metric.column_names())
    # θ_o still predicts class 3 on D_f: trivially told apart from the neighbour class
    assert out["MIA_NN"] > 97
    assert 50 < out["MIA_NN_retrain"] <= 100
    assert out["MIA_NN_gap"] == pytest.approx(abs(out["MIA_NN"] - out["MIA_NN_retrain"]))


def test_mia_nn_divergence_flags_the_original_and_passes_a_fresh_retrain(digits_models):
    ev, original, retrained = digits_models
    metric = build(METRICS, "mia_nn", {"R": 3})
    o = metric.compute(original, ev)
    assert list(o) == list(metric.column_names())
    # θ_o keeps class 3: far beyond the retrained models' own spread, on D_f and on class-3 test inputs
    assert o["MIA_NN_indist"] == 0.0 and o["MIA_NN_div"] > 5 * o["MIA_NN_floor_max"]
    assert o["MIA_NN_div_test"] > 5 * o["MIA_NN_floor_max_test"]
    assert o["MIA_NN_auc"] > 95
    assert o["MIA_NN_excess"] == pytest.approx(o["MIA_NN_div"] - o["MIA_NN_floor"])
    # the reference θ_r (model 0; the ensemble is models 1..3) reads like retraining
    r = metric.compute(retrained[0], ev)
    assert r["MIA_NN_div"] < o["MIA_NN_div"] / 5 and r["MIA_NN_div_rem"] < o["MIA_NN_div_rem"]
    assert 20 < r["MIA_NN_auc"] < 80
    assert r["MIA_NN_floor"] == o["MIA_NN_floor"]  # the floor depends on the retrained models only
