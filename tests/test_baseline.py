"""A chain of deletion requests: damage counted against the model before the first (unlearnkit.baseline)."""

import warnings

import numpy as np
import pytest
import torch

import unlearnkit as uk
from unlearnkit.baseline import Baseline
from unlearnkit.eval.proxy import ProxyReference
from unlearnkit.eval.proxy.chain import against_first, removed_since


def test_a_baseline_round_trips_through_json_as_runs():
    b = Baseline(np.array([5, 1, 2, 3, 9, 10, 2]), np.array([2, 10]))
    assert b.covered.tolist() == [1, 2, 3, 5, 9, 10]  # sorted, distinct
    d = b.to_dict()
    assert d == {"covered": [[1, 4], [5, 6], [9, 11]], "wrong": [2, 10]}
    back = Baseline.from_dict(d)
    assert back.covered.tolist() == b.covered.tolist() and back.wrong.tolist() == b.wrong.tolist()
    right, covered = b.right(np.array([1, 2, 4, 10]))
    assert right.tolist() == [True, False, True, False] and covered.tolist() == [True, True, False, True]
    counted = Baseline([0, 1, 2], [], np.array([4, 0, 10]))
    assert Baseline.from_dict(counted.to_dict()).train_counts.tolist() == [4, 0, 10]
    # today's D_r: 1 of class 0's 4, none of class 1 (it had none), 10 of class 2's 10
    assert counted.kept(np.array([0] + [2] * 10), 3).tolist() == [0.25, 1.0, 1.0]
    assert b.kept(np.array([0, 1]), 3) is None
    left = counted.without([1, 2])  # samples since forgotten: no per-sample trace, the class counts stay
    assert left.covered.tolist() == [0] and left.wrong.tolist() == [] and left.train_counts.tolist() == [4, 0, 10]
    assert b.without([2, 5]).to_dict() == {"covered": [[1, 2], [3, 4], [9, 11]], "wrong": [10]}


def test_bad_baselines_are_refused(digits, random_split, theta_o):
    with pytest.raises(uk.UnlearnkitError, match="'wrong' holds indices outside 'covered'"):
        Baseline([1, 2], [3])
    with pytest.raises(uk.UnlearnkitError, match=r"expected \{'covered'"):
        Baseline.from_dict({"covered": 3})
    with pytest.raises(uk.UnlearnkitError, match="must be a flat list of sample indices"):
        Baseline(np.array([0.5, 1.0]), [])
    far = Baseline([len(digits) + 3], [])
    with pytest.raises(uk.UnlearnkitError, match="measured on other data"):
        uk.unlearn(theta_o, digits, random_split, "rl", baseline=far, device="cpu")
    first = Baseline.measure(theta_o, digits, random_split.train)
    with pytest.raises(uk.UnlearnkitError, match=r"baseline is read by the proxy of stop='auto' only .* stop='none'"):
        uk.unlearn(theta_o, digits, random_split, "rl", baseline=first, stop="none", device="cpu")
    with pytest.raises(uk.UnlearnkitError, match=r"baseline must be an unlearnkit.Baseline, got MLP"):
        uk.unlearn(theta_o, digits, random_split, "rl", baseline=theta_o, device="cpu")


def test_against_first_hand_worked():
    """Six samples, all of label 0. θ_o right on 0, 1, 4, 5 (raw); its own reference (chosen) excuses sample 1 (the
    class-prior correction) and credits sample 2. The first model was right on 0, 1, 2 and covers all but 5."""
    y = torch.zeros(6, dtype=torch.long)
    raw = np.array([1, 1, 0, 0, 1, 1], bool)
    p = torch.tensor([[0.9, 0.1] if r else [0.1, 0.9] for r in raw])
    chosen = np.array([1, 0, 1, 0, 1, 1], bool)
    first = Baseline(np.arange(5), np.array([3, 4]))
    got = against_first(first, np.arange(6), p, y, chosen)
    # 0: right first; 1: excused; 2: right first (and credited); 3: wrong both; 4: wrong first — losing it is no
    # damage; 5: not covered, θ_o's own
    assert got.tolist() == [True, False, True, False, False, True]
    assert against_first(Baseline(np.arange(6), np.flatnonzero(~raw)), np.arange(6), p, y, chosen).tolist() == (
        chosen.tolist()
    )  # the first model = θ_o: its own reference exactly


@pytest.mark.parametrize("which", ["random_split", "class_split"])
def test_a_baseline_of_theta_o_itself_changes_nothing(digits, theta_o, which, request):
    split = request.getfixturevalue(which)
    first = Baseline.measure(theta_o, digits, split.train, split.unseen)
    plain, chained = (
        ProxyReference.build(theta_o, digits, split),
        ProxyReference.build(theta_o, digits, split, baseline=first),
    )
    assert chained.values_o == plain.values_o
    assert np.array_equal(chained.retain_right_ref, plain.retain_right_ref)
    assert np.array_equal(chained.unseen_right_ref, plain.unseen_right_ref)
    assert chained.first_covered == len(plain.retain) + len(plain.unseen) and plain.first_covered is None
    opts = dict(epochs=1, stopping=dict(lr_factors=(1.0,), lr_lower=(), lr_refine=0, epoch_refine=0, step_refine=0))
    a = uk.unlearn(theta_o, digits, split, "rl", options=opts, device="cpu")
    b = uk.unlearn(theta_o, digits, split, "rl", options=opts, device="cpu", baseline=first)
    assert all(torch.equal(u, v) for u, v in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    summary = next(h["auto_stop"] for h in b.history if "auto_stop" in h)
    assert summary["baseline_covered"] == chained.first_covered and summary["drift_ra"] == 0.0


def test_damage_counts_from_the_first_model(digits, random_split, theta_o):
    """A first model that was right on every sample: θ_o's own errors on the proxy's D_r sample and held-out samples
    are damage already (drift), exactly its error rates there, and enter its proxy gap."""
    first = Baseline(np.concatenate([random_split.train, random_split.unseen]), [])
    ref = ProxyReference.build(theta_o, digits, random_split, baseline=first)
    plain = ProxyReference.build(theta_o, digits, random_split)
    lg = ref.forward(theta_o)
    wrong_r = 100.0 * float((lg["retain"].argmax(1) != ref.y_retain).double().mean())
    wrong_u = 100.0 * float((lg["unseen"].argmax(1) != ref.y_unseen).double().mean())
    assert wrong_u > 0  # the test means something: θ_o misclassifies some held-out digits
    assert ref.values_o["proxy_ra_loss"] == pytest.approx(wrong_r)
    assert ref.values_o["proxy_damage"] == pytest.approx(wrong_r + wrong_u)
    assert plain.values_o["proxy_damage"] == 0.0
    w = ref.options.weights
    assert ref.values_o["proxy_gap"] - plain.values_o["proxy_gap"] == pytest.approx(w[3] * (wrong_r + wrong_u) / sum(w))


def test_a_chain_past_the_damage_bound_warns(digits, random_split, theta_o):
    """A first model that was right everywhere and a max_damage below θ_o's own error rate on the D_r sample: the
    call says the chain has lost more than the bound allows (and what restores it)."""
    first = Baseline(np.concatenate([random_split.train, random_split.unseen]), [])
    ref = ProxyReference.build(theta_o, digits, random_split, baseline=first)
    drift = ref.values_o["proxy_ra_loss"]
    assert drift > 0
    opts = dict(epochs=1, stopping=dict(lr_factors=(1.0,), lr_lower=(), lr_refine=0, max_damage=drift / 2))
    with pytest.warns(RuntimeWarning, match=r"had already lost .* since the model before the first request") as rec:
        uk.unlearn(theta_o, digits, random_split, "rl", options=opts, device="cpu", baseline=first)
    assert any("retraining on D_r restores what the chain lost" in str(w.message) for w in rec)
    within = {**opts, "stopping": {**opts["stopping"], "max_damage": 5.0}}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        uk.unlearn(theta_o, digits, random_split, "rl", options=within, device="cpu", baseline=first)
    assert not any("since the model before the first request" in str(w.message) for w in rec)  # within the bound


def test_removed_since_reads_the_class_counts():
    first = Baseline([0], [], np.array([100, 100, 100, 0]))
    retain = np.array([0] * 20 + [1] * 90)  # class 0 kept 20 %, class 1 90 %, class 2 gone, class 3 never there
    assert removed_since(first, retain, 4, 0.25).tolist() == [True, False, True, False]
    assert removed_since(first, retain, 4, None).tolist() == [False, False, True, False]
    assert removed_since(Baseline([0], []), retain, 4, 0.25).tolist() == [False, False, True, True]  # no counts


def test_a_class_removed_by_an_earlier_request_is_no_damage(digits, class_split, theta_o):
    """The second request of a chain whose first removed class 3: the model it starts from misclassifies class 3's
    held-out samples by design, and that is not drift; θ_o's other answers are counted as before."""
    import copy

    first = Baseline.measure(theta_o, digits, class_split.train, class_split.unseen)
    after = copy.deepcopy(theta_o)
    with torch.no_grad():
        after.head.bias[3] = -1e4  # the first request's result, in effect: class 3 never predicted
    train = class_split.retain
    labels = digits.labels
    second = uk.Split(
        train=train,
        test=class_split.test,
        unseen=class_split.unseen,
        forget=np.sort(train[labels[train] == 7]),
    )
    ref = ProxyReference.build(after, digits, second, baseline=first)
    plain = ProxyReference.build(after, digits, second)
    assert (labels[ref.unseen] == 3).sum() > 5  # class 3's held-out samples are in the reference
    assert ref.values_o["proxy_damage"] == plain.values_o["proxy_damage"] == 0.0
    assert ref.first_covered == int((labels[np.concatenate([ref.retain, ref.unseen])] != 3).sum())
