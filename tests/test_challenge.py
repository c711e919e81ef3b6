"""NeurIPS 2023 challenge score: each rule on hand-worked cases, values produced by the reference
metric.py (google-deepmind/unlearning_evaluation) on fixed inputs, invariances, and the metric."""

import math

import numpy as np
import pytest
import torch

import unlearnkit as uk
from helpers import ListSource
from unlearnkit.errors import UnlearnkitError
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.eval.challenge import (
    EPSILON_CAP,
    bucket_points,
    example_epsilon,
    forget_score,
    legacy_epsilon,
    logistic_cv_rates,
    logit_scaled_confidence,
)


def test_logit_scaled_confidence_by_hand():
    # logits (2, 0, 0), label 0: p_y = e²/(e² + 2), Σ_{c≠y} p_c = 2/(e² + 2) → log ratio = 2 − ln 2
    # label 1: p_y = 1/(e² + 2), rest (e² + 1)/(e² + 2) → −ln(e² + 1)
    c = logit_scaled_confidence(torch.tensor([[2.0, 0.0, 0.0], [2.0, 0.0, 0.0]]), torch.tensor([0, 1]))
    assert c[0] == pytest.approx(2 - math.log(2), abs=1e-12)
    assert c[1] == pytest.approx(-math.log(math.e**2 + 1), abs=1e-12)
    assert c.dtype == np.float64


def test_buckets_follow_N():
    # N = 8: ceil(ln 7) = 2 → buckets [0,½) [½,1) [1,1½) [1½,2) worth 1, ½, ¼, ⅛; ε ≥ 2 scores 0
    assert bucket_points([0.0, 0.49, 0.5, 1.2, 1.99, 2.0, 50.0], 8).tolist() == [1, 1, 0.5, 0.25, 0.125, 0, 0]
    # N = 3: ceil(ln 2) = 1 → two buckets only
    assert bucket_points([0.3, 0.7, 1.0], 3).tolist() == [1, 0.5, 0]
    # N = 512 (the challenge): ceil(ln 511) = 7 → 14 buckets; ε = 6.9 is in the last one
    assert bucket_points([6.9, 7.0], 512).tolist() == [0.5**13, 0]


def test_peaky_side_gets_the_cap():
    # one side constant (range 0 < 1 % of the other's): ε = 50 whatever the rules say
    assert example_epsilon(np.array([2.0, 2.0, 2.0, 2.0]), np.array([0.0, 1.0, 2.0, 3.0])) == EPSILON_CAP
    assert example_epsilon(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0, 1.001])) == EPSILON_CAP
    u = np.array([[2.0, 2.0, 2.0, 2.0]]).T
    assert forget_score(u, np.array([[0.0, 1.0, 2.0, 3.0]]).T) == 0.0


def test_perfect_separation_is_infinite_epsilon_clipped_to_50():
    pos, neg = np.array([5.0, 6.0, 7.0, 8.0]), np.array([0.0, 1.0, 2.0, 3.0])  # equal ranges: not peaky
    assert example_epsilon(pos, neg) == EPSILON_CAP
    assert forget_score(pos[:, None], neg[:, None]) == 0.0


def test_identical_inputs_score_one():
    x = np.array([[0.0, -1.0], [1.0, 0.5], [2.0, 3.0], [3.0, 0.0]])
    assert example_epsilon(x[:, 0], x[:, 0]) == 0.0
    assert forget_score(x, x.copy()) == 1.0
    # the same constant on both sides: no rule survives (the reference asserts there); we give ε = 0
    assert example_epsilon(np.ones(4), np.ones(4)) == 0.0


def test_an_intermediate_case_worked_by_hand():
    # unlearned (larger median) 1 3 4 5, retrained 0 2 2.5 6; ranges 4 and 6: not peaky.
    # single threshold t ∈ (2.5, 3]: TPR 3/4, FPR 1/4 → ε = ln((¾ − δ)/¼) = 1.0986…; no rule has FPR = FNR = 0,
    # none beats it (the interval rule's best, [2.4, 5], has the same rates) → bucket [1, 1½) → ¼ at N = 4
    pos, neg = np.array([1.0, 3.0, 4.0, 5.0]), np.array([0.0, 2.0, 2.5, 6.0])
    assert example_epsilon(pos, neg) == pytest.approx(math.log((0.75 - 1e-5) / 0.25))
    assert forget_score(pos[:, None], neg[:, None]) == 0.25
    assert forget_score(neg[:, None], pos[:, None]) == 0.25  # which side is "unlearned" does not matter


# Values produced by running the reference metric.py (commit ffae0ff) on these inputs (CPU, with .cuda() as the
# identity and its `assert thr_eps` read as `assert len(thr_eps) > 0`): per-example points and F.
REF_CASES = [
    (
        [
            [0.0, 0.75, 0.5, -0.16, 2.38, -0.96],
            [0.02, 1.98, 0.26, 0.35, 3.67, 0.62],
            [0.04, -0.69, 0.77, 2.79, 1.16, -0.34],
            [-0.69, -1.12, -1.21, 1.06, 1.26, 0.52],
        ],
        [
            [-0.85, -0.81, -0.92, -1.59, 1.38, -1.07],
            [-0.02, 1.49, -0.55, -0.22, 0.14, 0.08],
            [-0.68, 0.13, 1.28, -3.04, 1.12, 0.16],
            [-0.36, 3.38, 0.72, -2.36, 0.1, 0.77],
        ],
        [0.25, 0.5, 0.25, 0.0, 0.25, 0.5],
        0.2916666666666667,
    ),
    (
        [
            [0.24, -0.34, 1.03, 0.84, 1.91, 0.14],
            [1.06, 2.23, -1.64, 1.06, 4.22, -0.42],
            [-0.55, 0.24, 3.12, 1.88, 2.38, 0.09],
            [-0.3, 2.84, 0.01, 1.33, 3.67, 0.16],
            [-0.23, -1.38, 0.78, 1.25, 5.2, 0.4],
            [-0.03, 1.47, 0.17, 2.09, 2.99, 0.38],
            [-1.53, 0.96, -2.32, 0.37, 2.43, -0.08],
            [0.19, 3.99, -0.74, 1.15, 3.39, 0.35],
        ],
        [
            [0.04, -1.38, 0.37, -0.7, 1.88, 0.21],
            [0.1, -0.77, -0.17, -1.64, -2.19, 0.4],
            [-2.37, 1.11, -2.48, 0.62, -1.64, 0.85],
            [0.15, -2.01, 1.77, 1.18, -0.13, -0.3],
            [-0.18, -1.28, 1.56, -0.45, -0.1, -0.87],
            [-0.7, -1.68, 1.79, -0.13, 1.87, 0.01],
            [-0.77, -0.43, -0.8, 0.01, -0.73, -0.33],
            [-1.54, -1.06, 2.35, -0.55, -2.04, 0.37],
        ],
        [0.25, 0.125, 0.25, 0.125, 0.0, 0.25],
        0.16666666666666666,
    ),
]


@pytest.mark.parametrize("u, r, points, F", REF_CASES)
def test_agrees_with_values_the_reference_produced(u, r, points, F):
    u, r = np.array(u), np.array(r)
    assert [forget_score(u[:, [s]], r[:, [s]]) for s in range(u.shape[1])] == points
    assert forget_score(u, r) == pytest.approx(F, abs=1e-12)


def test_score_is_invariant_to_the_order_of_runs():
    rng = np.random.default_rng(3)
    for N in (3, 5, 8):
        u = rng.normal(size=(N, 12)) + rng.uniform(0, 2, size=12)
        r = rng.normal(size=(N, 12)) * rng.uniform(0.5, 1.5, size=12)
        f = forget_score(u, r)
        assert forget_score(u[rng.permutation(N)], r[rng.permutation(N)]) == f
        assert forget_score(r, u) == f  # medians differ almost surely, so the roles are symmetric
        cols = rng.permutation(12)
        assert forget_score(u[:, cols], r[:, cols]) == pytest.approx(f)


def test_bad_shapes_are_refused():
    with pytest.raises(UnlearnkitError, match="N ≥ 3"):
        forget_score(np.zeros((2, 4)), np.ones((2, 4)))
    with pytest.raises(UnlearnkitError, match="same shape"):
        forget_score(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(UnlearnkitError, match="non-finite"):
        forget_score(np.full((3, 1), np.nan), np.zeros((3, 1)))


def test_legacy_variant_pieces():
    e = legacy_epsilon([[0.0, 0.1]], [[0.3, 0.2]], 0.01)
    assert e[0] == pytest.approx(math.log(0.79 / 0.1))
    assert legacy_epsilon([[0.0]], [[0.0]], 0.01)[0] == np.inf
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 16)), rng.normal(size=(50, 16))
    fpr, fnr = logistic_cv_rates(a + 12, b)
    assert np.all(fpr == 0) and np.all(fnr == 0)


def test_challenge_metric_needs_a_model_source_and_scores_retrain_as_one():
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    Metric = METRICS.get("challenge_score")
    metric = Metric(Metric.Options(N=3))
    with pytest.raises(UnlearnkitError, match="unlearn"):
        metric.compute(torch.nn.Linear(64, 10), Evaluation(ds, split, torch.device("cpu")))
    with pytest.raises(Exception, match="greater than or equal to 3"):
        Metric.Options(N=2)
    cfg, dev = uk.TrainConfig(epochs=4, lr=0.05), torch.device("cpu")

    def fit(idx, seed):
        torch.manual_seed(seed)
        return uk.train_model(uk.build_model("mlp", ds.input_shape, 10, hidden=[32]), ds, idx, cfg, dev, seed=seed)

    retrained = [fit(split.retain, s) for s in range(3)]
    original = fit(split.train, 0)
    ev = Evaluation(
        ds,
        split,
        dev,
        original=original,
        retrained=retrained[0],
        models=ListSource(retrained, lambda m, sp, seed: fit(sp.retain, seed)),
    )  # "retrain" as the method
    out = metric.compute(retrained[0], ev)
    assert set(out) == set(Metric.column_names())
    assert out == {
        "challenge_score": 1.0,
        "challenge_F": 1.0,
        "challenge_N": 3,
        "challenge_examples": len(split.forget),
    }
    ev_o = Evaluation(
        ds,
        split,
        dev,
        original=original,
        retrained=retrained[0],
        models=ListSource(retrained, lambda m, sp, seed: original),
    )
    # the same θ_o N times: every forget example's confidences are one constant → peaky → ε = 50 → F = 0
    assert metric.compute(original, ev_o)["challenge_F"] == 0.0
    legacy = Metric(Metric.Options(N=3, protocol="legacy_cv")).compute(retrained[0], ev)
    assert set(legacy) == set(Metric.column_names()) and 0 < legacy["challenge_F"] <= 1
