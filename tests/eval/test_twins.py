"""proxy.twin_check: D_f samples with a near-duplicate of the same label left in D_r are expected to stay fitted."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

import unlearnkit as uk
from unlearnkit.eval.proxy import ProxyOptions, ProxyReference
from unlearnkit.eval.proxy.reference import member_targets
from unlearnkit.eval.proxy.twins import class_scales, find_twins, nearest_same_label, scaled_distances, twin_excess
from unlearnkit.predict import predict_logits


def with_copies(ds, request: np.ndarray, noise: float = 0.0, seed: int = 0):
    """``ds`` with a copy of every sample of ``request`` appended to the training pool (plus Gaussian noise of
    ``noise`` × the inputs' std), and the split that asks to forget the originals."""
    x = ds.x[request].clone()
    if noise:
        x = x + noise * ds.x.float().std() * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    n = len(ds.y)
    out = dataclasses.replace(
        ds,
        x=torch.cat([ds.x, x.to(ds.x.dtype)]),
        y=torch.cat([ds.y, ds.y[request]]),
        pool=np.concatenate([ds.pool, n + np.arange(len(request))]),
    )
    return out, uk.make_split(out, "indices", seed=seed, indices=request.tolist()), n + np.arange(len(request))


@pytest.fixture(scope="module")
def copied(digits):
    """A 5 % request on digits whose every sample has an exact copy in the training pool: θ_o and θ_r both train
    on the copies (the ones the split did not carve into the held-out set)."""
    request = np.sort(np.random.default_rng(1000).choice(digits.pool, 71, replace=False))
    ds, split, copies = with_copies(digits, request)
    cfg = uk.TrainConfig(epochs=30, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine")

    def train(idx, seed):
        torch.manual_seed(seed)
        return uk.train_model(uk.build_model("mlp", ds.input_shape, 10), ds, idx, cfg, "cpu", seed=seed)

    return ds, split, copies, train(split.train, 0), train(split.retain, 100)


def test_twin_excess_by_hand():
    # no held-out twin among 144: the 99.9 % upper bound of the rate is 1 − 0.001^(1/144) = 0.0468; three twins
    # of three have probability 0.0468³ = 1.0e-4 under it (fires), two of two 2.2e-3 (does not)
    assert twin_excess(3, 3, 0.0, 144) and not twin_excess(2, 2, 0.0, 144)
    assert not twin_excess(0, 100, 0.0, 144)
    # D_f at held-out data's own rate (COMPAS: half of the rows have an exact copy) does not fire; far above does
    assert not twin_excess(55, 100, 0.54, 500) and twin_excess(90, 100, 0.54, 500)


def test_scaled_distances_by_hand():
    d_ref, y_ref = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 10.0]), np.array([0, 0, 0, 0, 0, 1])
    scales = class_scales(d_ref, y_ref, 3)
    # class 0: its own median 3; class 1 has one reference sample (< 5) and class 2 none: the pooled median 3.5
    assert scales.tolist() == [3.0, 3.5, 3.5]
    out = scaled_distances(np.array([1.5, 3.0, 7.0]), np.array([0, 0, 1]), scales)
    assert out == pytest.approx([0.5, 1.0, 2.0])
    zero = scaled_distances(np.array([0.0, 0.5]), np.array([0, 0]), class_scales(np.zeros(6), np.zeros(6, int), 1))
    assert zero.tolist() == [0.0, np.inf]  # a class whose median is 0: only an exact copy scales to 0


def test_member_targets_by_hand():
    """Twins of class 0 read θ_o on the D_r sample's class 0 (3 samples: 2 right, confidences 0.9, 0.6, 0.3; τ 0.5:
    one called non-member), capped at θ_o's own values on the twins."""
    from types import SimpleNamespace

    q_r = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]], dtype=torch.float64)
    y_r = torch.tensor([0, 0, 0, 1])
    ref = SimpleNamespace(dataset=SimpleNamespace(num_classes=2), prior=0.0, tau=0.5)
    twins = np.array([0, 0])
    fa, mia, grid = member_targets(q_r, y_r, twins, np.array([True, True]), np.array([0.95, 0.99]), ref, cap=False)
    assert (fa, mia) == pytest.approx((200 / 3, 100 / 3))
    lengths, _, q = grid  # T: the three class-0 confidences, a third each (for 2 points: steps at 1/3, 1/2, 2/3)
    assert np.sum(lengths * q) == pytest.approx(0.6)
    # θ_o fits the twins worse than that (one of two wrong, confidences 0.2 and 0.4): the cap at its own values
    fa, mia, grid = member_targets(q_r, y_r, twins, np.array([True, False]), np.array([0.4, 0.2]), ref, cap=True)
    assert (fa, mia) == pytest.approx((50.0, 100.0))
    lengths, _, q = grid
    assert np.sum(lengths * q) == pytest.approx(0.2 * 0.5 + 0.4 * 0.5)  # min(Q_cap, Q_r): 0.2 to u = ½, then 0.4


def test_nearest_same_label_is_the_exact_search_below_the_projection_and_finds_copies_through_it(digits):
    rng = np.random.default_rng(0)
    labels = digits.labels
    retain, queries = np.sort(rng.choice(1797, 600, replace=False)), np.sort(rng.choice(1797, 40, replace=False))
    d, idx = nearest_same_label(digits, retain, queries, dims=32)  # 64 features ≤ 2 × 32: exact
    for i, q in enumerate(queries):
        pool = retain[labels[retain] == labels[q]]
        x = digits.x.flatten(1).numpy()
        dist, at = NearestNeighbors(n_neighbors=1).fit(x[pool]).kneighbors(x[[q]])
        assert d[i] == pytest.approx(dist[0, 0], abs=1e-5) and x[idx[i]] == pytest.approx(x[pool[at[0, 0]]])
    # through a projection to 8 dimensions (64 > 16): every query that is itself in D_r finds itself at 0
    d8, idx8 = nearest_same_label(digits, retain, retain[:30], dims=8)
    assert d8.tolist() == [0.0] * 30 and idx8.tolist() == retain[:30].tolist()
    # the one masked search (small sets) and the class-by-class one (forced with block-sized calls) agree
    import unlearnkit.eval.proxy.twins as proxy

    small = nearest_same_label(digits, retain, queries)
    old, proxy.SMALL_SEARCH = proxy.SMALL_SEARCH, 0
    try:
        by_class = nearest_same_label(digits, retain, queries, block=50)
        # blocks bounded by input elements: 64 features × 64-sample blocks at the least
        old_elements, proxy.BLOCK_ELEMENTS = proxy.BLOCK_ELEMENTS, 1
        bounded = nearest_same_label(digits, retain, queries)
    finally:
        proxy.SMALL_SEARCH = old
        proxy.BLOCK_ELEMENTS = old_elements
    assert small[1].tolist() == by_class[1].tolist() == bounded[1].tolist()
    assert small[0] == pytest.approx(by_class[0], abs=1e-6) and small[0] == pytest.approx(bounded[0], abs=1e-6)
    d_none, i_none = nearest_same_label(digits, retain[labels[retain] != 3], np.flatnonzero(labels == 3)[:2])
    assert d_none.tolist() == [np.inf, np.inf] and i_none.tolist() == [-1, -1]


def test_find_twins_flags_the_copied_samples_and_nothing_on_a_clean_request(digits, copied):
    ds, split, copies, _, _ = copied
    t = find_twins(ds, split.retain, split.forget, split.unseen, ProxyOptions())
    in_retain = np.isin(copies, split.retain)  # a few copies went to the held-out set: those stay unseen-like
    assert t is not None and t.forget.tolist() == in_retain.tolist()
    assert t.nearest[t.forget].tolist() == copies[in_retain].tolist()
    clean = uk.make_split(digits, "random", seed=0, fraction=0.1)
    assert find_twins(digits, clean.retain, clean.forget, clean.unseen, ProxyOptions()) is None
    # a noisy copy (σ = 0.1 × the inputs' std: about 0.3 × the median held-out distance) is a twin too
    request = split.forget
    ds_n, split_n, copies_n = with_copies(digits, request, noise=0.1)
    t_n = find_twins(ds_n, split_n.retain, split_n.forget, split_n.unseen, ProxyOptions())
    assert t_n is not None and t_n.forget.tolist() == np.isin(copies_n, split_n.retain).tolist()


def test_held_out_samples_beyond_the_screen_are_read_against_the_screens_threshold(digits, copied):
    """With a twin screen smaller than the held-out set, the threshold comes from the screened samples, and every
    other held-out sample is flagged exactly where its own scaled distance to D_r is within it — here the ten held-out
    samples beyond the screen that were given an exact copy in D_r, and no other beyond it."""
    from unlearnkit.eval.proxy.twins import class_scales, nearest_distances

    ds0, split0, _, _, _ = copied
    o = ProxyOptions(twin_screen=60)
    screen = nearest_distances(ds0, split0.retain, split0.forget, split0.unseen, o).s_u
    rest = np.setdiff1d(np.arange(len(split0.unseen)), screen)
    held = split0.unseen[rest[:10]]  # ten held-out samples beyond the screen get an exact copy in the training pool
    n = len(ds0.y)
    ds = dataclasses.replace(
        ds0,
        x=torch.cat([ds0.x, ds0.x[held]]),
        y=torch.cat([ds0.y, ds0.y[held]]),
        pool=np.r_[ds0.pool, n + np.arange(10)],
    )
    split = uk.Split(np.r_[split0.train, n + np.arange(10)], split0.test, split0.unseen, split0.forget)
    dist = nearest_distances(ds, split.retain, split.forget, split.unseen, o)
    assert dist.s_u.tolist() == screen.tolist()
    t = find_twins(ds, split.retain, split.forget, split.unseen, o, dist)
    assert t is not None
    labels = np.asarray(ds.labels)
    d_all, _ = nearest_same_label(ds, split.retain, split.unseen)
    scales = class_scales(dist.d_u, labels[split.unseen[dist.s_u]], ds.num_classes)
    assert t.unseen.tolist() == (scaled_distances(d_all, labels[split.unseen], scales) <= t.threshold).tolist()
    assert np.flatnonzero(t.unseen[rest]).tolist() == list(range(10))


def test_no_twin_reading_where_no_held_out_sample_has_a_same_label_d_r_sample(digits):
    """A held-out split of one class that D_r no longer has (and a query class with no D_r sample): no distances,
    so no twin check and no shift reading — rather than a threshold from nothing."""
    from unlearnkit.eval.proxy.twins import nearest_distances

    labels = np.asarray(digits.labels)
    retain = digits.pool[labels[digits.pool] != 3][:300]
    unseen = np.flatnonzero(labels == 3)[:20]
    partial = digits.pool[labels[digits.pool] == 4][:5]
    assert nearest_distances(digits, retain, partial, unseen, ProxyOptions()) is None
    d, i = nearest_same_label(digits, retain, unseen[:3], block=64)
    assert np.isinf(d).all() and (i == -1).all()


def test_a_request_left_in_d_r_as_copies_is_expected_to_stay_fitted(digits, copied, random_split, theta_o):
    """Every copy left in D_r keeps a retrained model fitting its original: θ_r reads FA 100 % on D_f. Without the
    check the proxy expects held-out-like FA and MIA and ranks θ_r below a model that forgets; with it θ_o and θ_r
    score near 0. A clean request builds the very same reference with the check on and off."""
    ds, split, copies, theta_c, theta_r = copied
    on = ProxyReference.build(theta_c, ds, split)
    off = ProxyReference.build(theta_c, ds, split, ProxyOptions(twin_check=False))
    share = float(np.isin(copies, split.retain).mean())
    assert on.twins is not None and on.twins.forget.mean() == pytest.approx(share)
    assert off.twins is None and off.values_o["proxy_gap"] > 1.0
    assert on.values_o["proxy_gap"] < 0.5 * off.values_o["proxy_gap"]
    assert on.evaluate(theta_r)["proxy_gap"] < off.evaluate(theta_r)["proxy_gap"]
    assert on.target_fa > off.target_fa and on.target_mia < off.target_mia
    a = ProxyReference.build(theta_o, digits, random_split)
    b = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(twin_check=False))
    assert a.twins is None
    assert (a.target_fa, a.target_mia, a.values_o) == (b.target_fa, b.target_mia, b.values_o)
    assert all(np.array_equal(x, y) for x, y in zip(a.dist_grid, b.dist_grid))


def test_auto_keeps_a_copied_request_fitted_and_says_where_the_copies_are(copied):
    """ft under auto on the copied request: with the check it keeps D_f fitted as θ_r does (FA 100 %) and warns
    with the D_f ↔ D_r pairs; without it, it moves D_f toward held-out accuracy."""
    ds, split, copies, theta_c, _ = copied

    def fa(model):
        pred = predict_logits(model, ds, split.forget, device="cpu").argmax(1).numpy()
        return float((pred == ds.labels[split.forget]).mean())

    with pytest.warns(RuntimeWarning, match="near-duplicate of the same label left in D_r"):
        res = uk.unlearn(theta_c, ds, split, "ft", device="cpu", seed=0)
    auto = next(h["auto_stop"] for h in res.history if "auto_stop" in h)
    pairs = {f: r for f, r in zip(split.forget.tolist(), copies.tolist())}
    assert auto["twins"] > 50 and all(pairs[f] == r for f, r in auto["twin_pairs"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res_off = uk.unlearn(
            theta_c, ds, split, "ft", device="cpu", seed=0, options={"stopping": {"proxy": {"twin_check": False}}}
        )
    assert fa(res.model) > 0.99 > fa(res_off.model)
