"""proxy.thin_below: a class D_r keeps little of is read with a retrained probe, not θ_o's held-out accuracy."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import unlearnkit as uk
from unlearnkit.eval.proxy import ProxyOptions, ProxyReference
from unlearnkit.eval.proxy.thin import probe, probe_features, thin_share
from unlearnkit.predict import predict_logits


@pytest.fixture(scope="module")
def nearly_gone(digits):
    """97 % of digit 7 removed (4 of its training samples left in D_r); θ_o and θ_r trained as the quick preset."""
    split = uk.make_split(digits, "subclass", seed=0, classes=[7], fraction=0.97)
    cfg = uk.TrainConfig(epochs=30, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine")

    def train(idx, seed):
        torch.manual_seed(seed)
        return uk.train_model(uk.build_model("mlp", digits.input_shape, 10), digits, idx, cfg, "cpu", seed=seed)

    return split, train(split.train, 0), train(split.retain, 100)


def fa(model, ds, idx):
    return float((predict_logits(model, ds, idx, device="cpu").argmax(1).numpy() == ds.labels[idx]).mean())


def test_the_probe_is_a_plain_fit_where_every_class_fits_in_its_sample(digits):
    pool = np.asarray(digits.pool)
    scaler, clf = probe(digits, pool, per_class=10_000, seed=0)
    x = digits.x[pool].flatten(1).double().numpy()
    plain = LogisticRegression(max_iter=100).fit(StandardScaler().fit_transform(x), digits.labels[pool])
    test = digits.x[digits.test].flatten(1).double().numpy()
    assert (clf.predict(scaler.transform(test)) == plain.predict(StandardScaler().fit(x).transform(test))).all()


def test_thin_share_reads_only_classes_d_r_keeps_little_of(digits):
    split = uk.make_split(digits, "subclass", seed=0, classes=[7], fraction=0.97)
    t = thin_share(digits, split, split.forget, split.unseen, ProxyOptions())
    kept, on_forget, on_held_out = t.classes[7]
    assert list(t.classes) == [7] and kept == pytest.approx(4 / 129)
    assert 0.2 < on_forget < 0.7 < 0.9 < on_held_out and t.share == pytest.approx(min(1.0, on_forget / on_held_out))
    half = uk.make_split(digits, "subclass", seed=0, classes=[7], fraction=0.5)
    assert thin_share(digits, half, half.forget, half.unseen, ProxyOptions()) is None
    assert thin_share(digits, split, split.forget, split.unseen, ProxyOptions(thin_below=None)) is None
    # a request with one thin class and one barely touched: the other class's samples count as right
    others = np.flatnonzero(digits.labels == 1)
    others = np.intersect1d(others, split.retain)[:20]
    mixed = uk.Split(split.train, split.test, split.unseen, np.union1d(split.forget, others))
    m = thin_share(digits, mixed, mixed.forget, mixed.unseen, ProxyOptions())
    n7 = int(np.sum(digits.labels[mixed.forget] == 7))
    ratio = min(1.0, m.classes[7][1] / m.classes[7][2])
    assert list(m.classes) == [7] and m.share == pytest.approx((20 + ratio * n7) / (20 + n7))


def test_a_nearly_removed_class_is_expected_to_be_mostly_misclassified(digits, nearly_gone, random_split, theta_o):
    """θ_r classifies about a third of the removed digit 7s (it saw 4); θ_o's held-out accuracy says 97 %. With the
    probe the proxy ranks θ_r far ahead of θ_o; without it, the other way round. A request with no thin class builds
    the very same reference with the option on and off."""
    split, theta_7, theta_r = nearly_gone
    assert fa(theta_r, digits, split.forget) < 0.6 < 0.99 < fa(theta_7, digits, split.forget)
    on = ProxyReference.build(theta_7, digits, split)
    off = ProxyReference.build(theta_7, digits, split, ProxyOptions(thin_below=None))
    assert on.target_fa < 60 < 90 < off.target_fa and on.target_mia > off.target_mia
    assert on.evaluate(theta_r)["proxy_gap"] < 0.5 * on.values_o["proxy_gap"]
    assert off.evaluate(theta_r)["proxy_gap"] > 2.0 * off.values_o["proxy_gap"]
    a = ProxyReference.build(theta_o, digits, random_split)
    b = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(thin_below=None))
    assert a.thin is None and (a.target_fa, a.target_mia, a.values_o) == (b.target_fa, b.target_mia, b.values_o)


def test_auto_removes_most_of_a_nearly_removed_class_and_says_why(digits, nearly_gone):
    split, theta_7, theta_r = nearly_gone
    with pytest.warns(RuntimeWarning, match="removes most of a class"):
        res = uk.unlearn(theta_7, digits, split, "rl", device="cpu", seed=0)
    auto = next(h["auto_stop"] for h in res.history if "auto_stop" in h)
    assert auto["thin_share"] < 0.7 and list(auto["thin_classes"]) == ["7"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res_off = uk.unlearn(
            theta_7, digits, split, "rl", device="cpu", seed=0, options={"stopping": {"proxy": {"thin_below": None}}}
        )
    assert fa(res.model, digits, split.forget) < 0.8 < 0.9 < fa(res_off.model, digits, split.forget)


def test_the_probe_says_nothing_about_its_deliberate_iteration_cap(digits, monkeypatch):
    """scikit-learn warns when lbfgs stops at max_iter; the probe's cap is deliberate (PROBE_MAX_ITER), so a user
    whose request removes most of a class sees the proxy's warning, not a ConvergenceWarning."""
    import unlearnkit.eval.proxy.thin as proxy

    monkeypatch.setattr(proxy, "PROBE_MAX_ITER", 2)  # certain not to converge
    split = uk.make_split(digits, "subclass", seed=0, classes=[7], fraction=0.97)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert thin_share(digits, split, split.forget, split.unseen, ProxyOptions()) is not None
    assert caught == []


def test_wide_inputs_reach_the_probe_through_a_fixed_projection(digits, monkeypatch):
    import unlearnkit.eval.proxy.thin as proxy

    idx = np.arange(40)
    assert probe_features(digits, idx).shape == (40, 64)  # 64 features ≤ PROBE_DIMS: as they are
    monkeypatch.setattr(proxy, "PROBE_DIMS", 16)
    a, b = probe_features(digits, idx), probe_features(digits, idx)
    assert a.shape == (40, 16) and np.array_equal(a, b)  # seeded: the same projection every call
    x = digits.x[idx].flatten(1).double().numpy()
    ratio = np.linalg.norm(a[1:] - a[:-1], axis=1) / np.linalg.norm(x[1:] - x[:-1], axis=1)
    assert 0.4 < ratio.mean() < 1.6  # distances kept in scale (Johnson–Lindenstrauss)
