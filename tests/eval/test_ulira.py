"""U-LiRA: the Gaussian likelihood-ratio math on synthetic confidences, balanced shadow halves,
and the metric end to end with hand-made providers."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

import unlearnkit as uk
from unlearnkit.sources import SequentialSource
from unlearnkit.errors import UnlearnkitError
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.eval.ulira import attack_summary, balanced_membership, fit_gaussians, lira_score, logit_confidence


def test_logit_confidence_is_log_odds_of_true_class():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    p = torch.softmax(logits.double(), 1)
    py = p[[0, 1], [0, 2]].numpy()
    expect = np.log(py / (1 - py))
    assert np.allclose(logit_confidence(logits, [0, 2]), expect)
    assert np.isfinite(logit_confidence(torch.tensor([[80.0, 0.0]]), [0])).all()  # p_y = 1 in float


def test_balanced_membership_puts_each_sample_in_half_the_shadows():
    m = balanced_membership(1000, 6, np.random.default_rng(0))
    assert m.shape == (6, 1000)
    assert np.all(m.sum(0) == 3)
    assert np.all(np.abs(m.sum(1) - 500) < 60)
    with pytest.raises(UnlearnkitError, match="even"):
        balanced_membership(10, 3, np.random.default_rng(0))


def test_fit_gaussians_per_example_and_pooled():
    obs = np.array([[1.0, 10.0], [3.0, 14.0], [5.0, 0.0]])
    mask = np.array([[True, True], [True, True], [True, False]])
    mu, sd = fit_gaussians(obs, mask, "per_example")
    assert np.allclose(mu, [3.0, 12.0]) and np.allclose(sd, [2.0, np.sqrt(8.0)])
    _, sdg = fit_gaussians(obs, mask, "global")
    assert np.allclose(sdg, np.sqrt((8.0 + 8.0) / 3))  # pooled: Σ squares / Σ (n−1)


@pytest.mark.parametrize("sep, expected", [(0.0, 50.0), (1.0, 100 * norm.cdf(0.5)), (4.0, 100 * norm.cdf(2.0))])
def test_lira_on_synthetic_gaussians_matches_bayes_accuracy(sep, expected):
    rng = np.random.default_rng(1)
    n, k = 4000, 64
    base = rng.normal(0, 3, n)  # per-example difficulty
    mu_in, mu_out = base + sep, base
    shadows_in = mu_in + rng.normal(size=(k, n))
    shadows_out = mu_out + rng.normal(size=(k, n))
    mask = np.ones((k, n), dtype=bool)
    m_in, s_in = fit_gaussians(shadows_in, mask, "per_example")
    m_out, s_out = fit_gaussians(shadows_out, mask, "per_example")
    target_u = mu_in + rng.normal(size=n)  # "unlearned" target model: still looks like in
    target_r = mu_out + rng.normal(size=n)  # retrained target model
    acc, auc = attack_summary(
        lira_score(target_u, m_in, s_in, m_out, s_out), lira_score(target_r, m_in, s_in, m_out, s_out)
    )
    assert acc == pytest.approx(expected, abs=2.5)
    if sep == 0:
        assert auc == pytest.approx(50, abs=3)
    else:
        assert auc > acc


def test_ulira_needs_unlearn_function():
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    with pytest.raises(UnlearnkitError, match="unlearn"):
        METRICS.get("ulira")().compute(torch.nn.Linear(64, 10), Evaluation(ds, split, torch.device("cpu")))


def test_ulira_end_to_end_flags_the_original_and_not_a_retrained_model():
    """A method that does nothing (``original``): θ_u = θ_o and the in-shadows keep their class-3
    samples, so U-LiRA must flag it (≈ 100); a retrained model reads ≈ chance. Shadows go through the
    source's mapper (counted)."""
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    cfg = uk.TrainConfig(epochs=6, lr=0.05)
    dev = torch.device("cpu")

    def new_model():
        return uk.build_model("mlp", ds.input_shape, 10, hidden=[32])

    def train(model, idx, seed):
        return uk.train_model(model, ds, idx, cfg, dev, seed=seed)

    torch.manual_seed(0)
    retrained = [train(new_model(), split.retain, s) for s in range(3)]
    original = train(new_model(), split.train, 0)
    mapped = []

    def mapper(fn, items):
        mapped.extend(items)
        return [fn(x) for x in items]

    def unlearn(model, sp, seed):
        return uk.unlearn(model, ds, sp, "original", device="cpu", seed=seed).model

    source = SequentialSource(split, 0, new_model, train, unlearn, mapper=mapper)
    source._models.update({(source._key(split.retain), s): m for s, m in enumerate(retrained)})
    ev = Evaluation(ds, split, dev, original=original, retrained=retrained[0], models=source)
    metric = METRICS.get("ulira")(METRICS.get("ulira").Options(K=2, max_targets=60))
    out = metric.compute(original, ev)
    assert len(mapped) == 4  # K in-models + K out-models
    assert out["ULiRA_acc"] > 90 and out["ULiRA_auc"] > 95
    assert 20 <= out["ULiRA_retrain_acc"] <= 80
    r = metric.compute(retrained[2], ev)
    assert r["ULiRA_auc"] < 80
