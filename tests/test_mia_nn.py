"""MIA-NN: neighbour choice on a hand-made confusion pattern, the SVM attack on synthetic logits,
and the provider error outside the bench."""
import numpy as np
import pytest
import torch

import unlearnkit as uk
from helpers import ListSource
from unlearnkit.errors import UnlearnkitError
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.eval.mia_nn import neighbour_classes, svm_attack_accuracy


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
    p = np.array([[0.1, 0.6, 0.2, 0.1, 0.0],   # class 0 sample: 1 is forgotten too → neighbour 2
                  [0.1, 0.6, 0.3, 0.0, 0.0],
                  [0.0, 0.1, 0.1, 0.1, 0.7]])  # class 1 sample → neighbour 4
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


def test_mia_nn_on_digits_separates_forget_from_neighbour_and_reports_gap():
    torch.manual_seed(0)
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    cfg = uk.TrainConfig(epochs=8, lr=0.05)
    dev = torch.device("cpu")
    retrained = [uk.train_model(uk.build_model("mlp", ds.input_shape, 10), ds, split.retain, cfg, dev, seed=s)
                 for s in range(2)]
    original = uk.train_model(uk.build_model("mlp", ds.input_shape, 10), ds, split.train, cfg, dev)
    ev = Evaluation(ds, split, dev, original=original, retrained=retrained[0],
                    models=ListSource(retrained))
    out = METRICS.get("mia_nn")(METRICS.get("mia_nn").Options(R=2)).compute(original, ev)
    # θ_o still predicts class 3 on D_f: trivially told apart from the neighbour class
    assert out["MIA_NN"] > 97
    assert 50 < out["MIA_NN_retrain"] <= 100
    assert out["MIA_NN_gap"] == pytest.approx(abs(out["MIA_NN"] - out["MIA_NN_retrain"]))
