import numpy as np
import pytest

import unlearnkit as uk
from unlearnkit.data import long_tail_counts


SCENARIOS = [
    ("random", {"fraction": 0.1}),
    ("class", {"classes": [3, 5]}),
    ("subclass", {"classes": 2, "fraction": 0.3}),
    ("long_tail", {"fraction": 0.1, "profile": "exp", "ratio": 10}),
    ("long_tail", {"fraction": 0.2, "profile": "power", "gamma": 1.0}),
]


@pytest.mark.parametrize("kind,opts", SCENARIOS)
def test_index_sets_disjoint_and_seeded(digits, kind, opts):
    a = uk.make_split(digits, kind, seed=1, **opts)
    b = uk.make_split(digits, kind, seed=1, **opts)
    c = uk.make_split(digits, kind, seed=2, **opts)
    assert np.array_equal(a.forget, b.forget) and np.array_equal(a.unseen, b.unseen)
    assert not np.array_equal(a.unseen, c.unseen)
    if kind != "class":  # a whole class is the same set whatever the seed, up to the unseen carve-out
        assert not np.array_equal(a.forget, c.forget)
    for x, y in [(a.train, a.test), (a.train, a.unseen), (a.test, a.unseen), (a.forget, a.retain)]:
        assert len(np.intersect1d(x, y)) == 0
    assert np.isin(a.forget, a.train).all()
    assert len(a.forget) + len(a.retain) == len(a.train)
    assert len(a.unseen) == pytest.approx(0.1 * len(digits.pool), abs=1)
    assert sum(a.info["forget_counts"]) == len(a.forget)


def test_class_scenario_takes_whole_class(digits):
    s = uk.make_split(digits, "class", seed=0, classes=[3])
    assert (digits.labels[s.forget] == 3).all()
    assert not (digits.labels[s.retain] == 3).any()


def test_long_tail_exp_profile_follows_ratio(digits):
    s = uk.make_split(digits, "long_tail", seed=0, fraction=0.15, profile="exp", ratio=10)
    counts = np.array(s.info["forget_counts"])
    order = s.info["class_order"]
    ranked = counts[order]
    assert (np.diff(ranked) <= 0).all(), "counts must fall from head to tail"
    assert ranked[0] / ranked[-1] == pytest.approx(10, rel=0.2)
    assert counts.sum() == pytest.approx(0.15 * len(s.train), rel=0.05)
    # a different seed permutes which class is the head
    s2 = uk.make_split(digits, "long_tail", seed=3, fraction=0.15, profile="exp", ratio=10)
    assert s2.info["class_order"] != order


def test_long_tail_exp_counts_by_hand():
    sizes = np.full(10, 10_000)
    counts = long_tail_counts(sizes, np.arange(10), 0.1, "exp", ratio=10)
    assert counts[0] / counts[-1] == pytest.approx(10, rel=0.01)  # n_max / n_min = ratio
    steps = counts[:-1] / counts[1:]
    assert steps == pytest.approx(np.full(9, 10 ** (1 / 9)), rel=0.01)  # geometric from head to tail
    assert counts.sum() == pytest.approx(10_000, rel=0.01)  # fraction × N


def test_long_tail_power_profile():
    sizes = np.full(10, 100)
    order = np.arange(10)
    balanced = long_tail_counts(sizes, order, 0.2, "power", gamma=0.0)
    assert (balanced == 20).all()
    skewed = long_tail_counts(sizes, order, 0.2, "power", gamma=2.0)
    # r_k ∝ (1 − k/C)^γ: head/second = 1/0.81
    assert skewed[0] / skewed[1] == pytest.approx(1 / 0.81, rel=0.05)
    assert skewed.sum() == pytest.approx(200, abs=10)


@pytest.mark.parametrize(
    "opts,needle",
    [
        (dict(fraction=0.6, profile="exp", ratio=50), "lower the fraction"),
        (dict(fraction=0.1, profile="exp", ratio=0.5), "ratio must be ≥ 1"),
        (dict(fraction=0.1, profile="power", gamma=-1), "gamma must be ≥ 0"),
        (dict(fraction=0.1, profile="zipf"), "unknown long_tail profile"),
    ],
)
def test_long_tail_rejects_infeasible(digits, opts, needle):
    with pytest.raises(uk.UnlearnkitError, match=needle):
        uk.make_split(digits, "long_tail", seed=0, **opts)


def test_scenario_errors(digits):
    with pytest.raises(uk.UnlearnkitError, match="not in the training data"):
        uk.make_split(digits, "class", classes=[12])
    with pytest.raises(uk.UnlearnkitError, match="selects nothing"):
        uk.make_split(digits, "random", fraction=0.0001)
    with pytest.raises(uk.UnlearnkitError, match="unknown scenario 'randm'.*random"):
        uk.make_split(digits, "randm")
    with pytest.raises(uk.UnlearnkitError, match="bad options"):
        uk.make_split(digits, "random", fractoin=0.1)


def test_explicit_deletion_request_keeps_every_index(digits, tmp_path):
    wanted = digits.pool[:40]
    s = uk.make_split(digits, "indices", seed=0, indices=wanted.tolist())
    assert np.array_equal(s.forget, np.sort(wanted))  # none lost to the unseen carve-out
    assert len(np.intersect1d(s.unseen, wanted)) == 0 and len(s.unseen) > 0
    f = tmp_path / "forget.txt"
    f.write_text("\n".join(map(str, wanted[:5])))
    assert np.array_equal(uk.make_split(digits, "indices", file=str(f)).forget, np.sort(wanted[:5]))
    with pytest.raises(uk.UnlearnkitError, match="not in the training pool"):
        uk.make_split(digits, "indices", indices=[int(digits.test[0])])
    with pytest.raises(uk.UnlearnkitError, match="exactly one of"):
        uk.make_split(digits, "indices")


def _dataset(labels, name="t"):
    import torch

    y = torch.as_tensor(labels)
    return uk.ArrayDataset(name, torch.randn(len(y), 3), y, int(y.max()) + 1, pool=np.arange(len(y)), test=np.arange(0))


def test_unseen_split_is_sklearns_stratified_split_where_that_works(digits):
    from sklearn.model_selection import train_test_split

    s = uk.make_split(digits, "random", seed=3, fraction=0.1)
    train, unseen = train_test_split(digits.pool, test_size=0.1, stratify=digits.labels[digits.pool], random_state=3)
    assert np.array_equal(s.unseen, np.sort(unseen)) and np.array_equal(s.train, np.sort(train))


def test_unseen_split_with_a_one_sample_class(recwarn):
    # scikit-learn refuses to stratify a class with one member; such samples stay in training
    labels = np.r_[np.repeat(np.arange(4), 30), 4, 5]  # classes 4 and 5: one sample each
    d = _dataset(labels)
    s = uk.make_split(d, "random", seed=0, fraction=0.1, unseen_fraction=0.2)
    assert not [w for w in recwarn if "stratified" in str(w.message)]
    assert sorted(np.r_[s.train, s.unseen].tolist()) == list(range(len(labels)))
    assert np.bincount(labels[s.unseen], minlength=6).tolist() == [6, 6, 6, 6, 0, 0]  # 20 % of 30 a class
    assert {120, 121} <= set(s.train.tolist())
    assert np.array_equal(s.unseen, uk.make_split(d, "random", seed=0, fraction=0.1, unseen_fraction=0.2).unseen)


def test_unseen_split_too_small_to_stratify_is_drawn_at_random_with_a_warning():
    labels = np.repeat(np.arange(10), 6)  # 60 samples, 10 classes: a 10 % unseen split has 6 places
    with pytest.warns(UserWarning, match=r"the unseen split could not be stratified by class \(60 samples in 10"):
        s = uk.make_split(_dataset(labels), "random", seed=0, fraction=0.1)
    assert len(s.unseen) == 6 and len(np.intersect1d(s.unseen, s.train)) == 0 and len(s.train) == 54


def test_stratified_subset_keeps_a_one_sample_class_and_its_size():
    from unlearnkit.data.registry import stratified_subset

    labels = np.r_[np.repeat(np.arange(3), 20), 3]
    keep = stratified_subset(labels, np.arange(len(labels)), 31, seed=0)
    assert len(keep) == 31 and 60 in keep
    assert np.bincount(labels[keep], minlength=4).tolist() == [10, 10, 10, 1]


def test_a_request_with_repeated_ids_forgets_each_sample_once_and_says_so(digits):
    from unlearnkit.checkpoint import deletion_split

    ids = digits.pool[[3, 3, 5, 7, 7, 7]]
    with pytest.warns(
        UserWarning, match=r"indices: 3 repeated id\(s\) \(first: \d+\); 3 distinct samples are forgotten"
    ):
        s = uk.make_split(digits, "indices", seed=0, indices=ids.tolist())
    assert s.forget.tolist() == sorted(set(ids.tolist()))
    with pytest.warns(UserWarning, match=r"the forget request: 3 repeated id\(s\)"):
        r = deletion_split(digits, ids)
    assert r.forget.tolist() == sorted(set(ids.tolist()))
