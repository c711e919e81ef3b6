"""NeurIPS 2023 challenge score: ε per attack, per example, bins and F on hand-made FPR/FNR cases."""
import numpy as np
import pytest
import torch

import unlearnkit as uk
from helpers import ListSource
from unlearnkit.errors import UnlearnkitError
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.eval.challenge import (challenge_F, epsilon_per_attack, epsilon_per_example, forgetting_quality,
                                       logistic_cv_rates, threshold_rates)

D = 0.01


def test_epsilon_formula_by_hand():
    eps = epsilon_per_attack([0.1, 0.3], [0.2, 0.3], D)
    e1 = max(np.log(1 - D - 0.1) - np.log(0.2), np.log(1 - D - 0.2) - np.log(0.1))
    assert eps[0] == pytest.approx(e1)  # = log(0.79/0.1) ≈ 2.067
    assert eps[0] == pytest.approx(np.log(0.79 / 0.1))
    assert eps[1] == pytest.approx(np.log(0.69 / 0.3))


def test_epsilon_edge_cases():
    eps = epsilon_per_attack([0.0, 0.0, 0.2, 0.995], [0.0, 0.3, 0.0, 0.995], D)
    assert eps[0] == np.inf           # both zero → perfect attack
    assert np.isnan(eps[1]) and np.isnan(eps[2])  # exactly one zero → dropped
    assert np.isnan(eps[3])           # 1 − δ − rate ≤ 0 on both sides → useless attack
    # ε_s = max over attacks, never below 0; only-dropped attacks → 0
    assert epsilon_per_example([[0.0, 0.1]], [[0.3, 0.2]], D)[0] == pytest.approx(np.log(0.79 / 0.1))
    assert epsilon_per_example([[0.0]], [[0.3]], D)[0] == 0.0
    assert epsilon_per_example([[0.6]], [[0.6]], D)[0] == 0.0  # log(0.39/0.6) < 0 → 0


def test_bins_and_F():
    # ε: 0 → bin 1 → 1; 0.7 → bin 2 → 1/2; 2.067 → bin 5 → 1/16; ∞ → bin 13 → 2/8192
    eps = np.array([0.0, 0.7, np.log(0.79 / 0.1), np.inf])
    assert forgetting_quality(eps) == pytest.approx(np.mean([1, 0.5, 1 / 16, 2 / 2 ** 13]))
    assert forgetting_quality(np.array([0.5, 6.0, 5.99])) == pytest.approx(np.mean([0.5, 2 / 2 ** 13, 2 / 2 ** 12]))


def test_threshold_rates_by_hand():
    u = np.array([[1.0, 2.0]])
    r = np.array([[0.0, 1.5]])
    fpr, fnr = threshold_rates(u, r)
    # t = 1.0 with "unlearned if ≥ t": FNR = 0 (both u ≥ 1), FPR = 1/2 (1.5 ≥ 1)
    pairs = set(zip(fpr[0].round(3), fnr[0].round(3)))
    assert (0.5, 0.0) in pairs and (0.0, 0.5) in pairs  # t = 2.0: FPR 0, FNR 1/2
    assert epsilon_per_example(fpr, fnr, D)[0] == 0.0  # best attacks have exactly one zero → dropped


def test_F_is_high_for_same_distribution_and_low_for_separated_runs():
    rng = np.random.default_rng(0)
    same_u, same_r = rng.normal(size=(400, 64)), rng.normal(size=(400, 64))
    assert challenge_F(same_u, same_r, ("logistic_cv",)) > 0.55
    assert challenge_F(same_u + 12, same_r, ("logistic_cv",)) < 0.001
    assert challenge_F(same_u + 12, same_r, ("threshold",)) == pytest.approx(2 / 2 ** 13)
    # shift 1σ: error Φ(−½) ≈ 0.31 → ε = log(0.68/0.31) ≈ 0.79 → bin 2 → 1/2 (sampling noise spreads it)
    assert 0.35 < challenge_F(same_u + 1, same_r, ("logistic_cv",)) < 0.6
    # shift 3σ: error ≈ 0.067 → ε ≈ 2.6 → bin 6 → 1/32
    assert challenge_F(same_u + 3, same_r, ("logistic_cv",)) < 0.1
    fpr, fnr = logistic_cv_rates(same_u + 12, same_r)
    assert np.all(fpr == 0) and np.all(fnr == 0)


def test_challenge_metric_needs_a_model_source_and_scores_retrain_as_one():
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    metric = METRICS.get("challenge_score")(METRICS.get("challenge_score").Options(N=2))
    with pytest.raises(UnlearnkitError, match="unlearn"):
        metric.compute(torch.nn.Linear(64, 10), Evaluation(ds, split, torch.device("cpu")))
    cfg, dev = uk.TrainConfig(epochs=4, lr=0.05), torch.device("cpu")

    def fit(idx, seed):
        torch.manual_seed(seed)
        return uk.train_model(uk.build_model("mlp", ds.input_shape, 10, hidden=[32]), ds, idx, cfg, dev, seed=seed)

    retrained = [fit(split.retain, s) for s in range(2)]
    original = fit(split.train, 0)
    def source(unlearn):
        return ListSource(retrained, unlearn)

    ev = Evaluation(ds, split, dev, original=original, retrained=retrained[0],
                    models=source(lambda m, sp, seed: fit(sp.retain, seed)))  # "retrain" as the method
    assert metric.compute(retrained[0], ev)["challenge_score"] == pytest.approx(1.0)
    ev_o = Evaluation(ds, split, dev, original=original, retrained=retrained[0],
                      models=source(lambda m, sp, seed: original))
    assert metric.compute(original, ev_o)["challenge_score"] < 0.05  # θ_o kept class 3: losses far apart
