import math
import warnings

import numpy as np
import pytest
import torch

from unlearnkit.eval import avg_gap
from unlearnkit.eval.accuracy import accuracy, per_class_accuracy
from unlearnkit.eval.mia import confidence_features, mia_efficacy_score


def test_accuracy_and_per_class_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert accuracy(logits, labels) == 50.0
    assert per_class_accuracy(logits, labels, 3) == [50.0, 50.0, None]
    assert math.isnan(accuracy(logits[:0], labels[:0]))


def test_confidence_feature_is_true_class_probability():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    f = confidence_features(logits, torch.tensor([0, 1]))
    assert f[:, 0] == pytest.approx([0.7, 0.1])
    ent = confidence_features(logits, torch.tensor([0, 1]), "entropy")[:, 0]
    assert ent[0] == pytest.approx(-(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)))


def test_mia_efficacy_known_cases():
    rng = np.random.default_rng(0)
    member = rng.uniform(0.95, 1.0, size=(200, 1))  # members: confident
    nonmember = rng.uniform(0.2, 0.6, size=(200, 1))  # non-members: not
    looks_member = rng.uniform(0.95, 1.0, size=(50, 1))
    looks_unseen = rng.uniform(0.2, 0.6, size=(50, 1))
    half = np.concatenate([looks_member[:25], looks_unseen[:25]])
    assert mia_efficacy_score(member, nonmember, looks_member) == pytest.approx(0.0, abs=2)
    assert mia_efficacy_score(member, nonmember, looks_unseen) == pytest.approx(100.0, abs=2)
    assert mia_efficacy_score(member, nonmember, half) == pytest.approx(50.0, abs=4)


def test_avg_gap_by_hand():
    u = {"FA": 90.0, "RA": 99.0, "TA": 95.0, "MIA": 20.0}
    r = {"FA": 94.0, "RA": 100.0, "TA": 94.0, "MIA": 30.0}
    assert avg_gap(u, r) == pytest.approx((4 + 1 + 1 + 10) / 4)
    assert avg_gap({"FA": 90.0, "RA": 99.0}, r) == pytest.approx((4 + 1) / 2)
    assert math.isnan(avg_gap({}, r))


def test_evaluation_cache_never_mixes_models(digits, random_split):
    """Two different models must get their own logits even if Python reuses an id."""
    from unlearnkit.eval import Evaluation

    ev = Evaluation(digits, random_split, torch.device("cpu"))
    a = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    first = ev.logits(a, "forget").clone()
    key = (id(a), "forget")
    b = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    ev._cache[(id(b), "forget")] = ev._cache.pop(key)  # simulate b taking a's id after a is freed
    assert not torch.equal(ev.logits(b, "forget"), first)


def test_mia_efficacy_balances_the_sides_when_non_members_outnumber_members():
    """100 members ~ U(0.5, 1) vs 2000 non-members ~ U(0, 0.75): fitted on balanced sides, member-like
    targets are called members (≈ 0 % non-member); an unbalanced fit would call half of them non-members."""
    rng = np.random.default_rng(0)
    member = rng.uniform(0.5, 1.0, size=(100, 1))
    nonmember = rng.uniform(0.0, 0.75, size=(2000, 1))
    target = rng.uniform(0.5, 1.0, size=(400, 1))
    assert mia_efficacy_score(member, nonmember, target) < 25


def test_no_test_set_a_metric_that_reads_it_says_so_and_the_rest_work(digits):
    """from_torch_dataset without a test set: MIA-efficacy (whose non-members are test samples) fails with the
    need and the fix before any work; accuracy reports TA as nan (not 0); unlearning with stop='auto' runs."""
    import unlearnkit as uk
    from unlearnkit.errors import UnlearnkitError
    from unlearnkit.eval import METRICS, Evaluation

    x = torch.as_tensor(digits.x[digits.pool])
    y = torch.as_tensor(digits.labels[digits.pool])
    ds = uk.from_torch_dataset(torch.utils.data.TensorDataset(x, y), num_classes=10)
    assert len(ds.test) == 0 and len(ds.pool) == len(y)
    split = uk.make_split(ds, "random", seed=0, fraction=0.1)
    torch.manual_seed(0)
    net = uk.build_model("mlp", ds.input_shape, 10, hidden=[32])
    uk.train_model(net, ds, split.train, uk.TrainConfig(epochs=3, lr=0.05), torch.device("cpu"))
    ev = Evaluation(ds, split, torch.device("cpu"), original=net)
    with pytest.raises(UnlearnkitError, match=r"needs test samples .*give the dataset a test set"):
        METRICS.get("mia_efficacy")().evaluate(net, ev)
    acc = METRICS.get("accuracy")().evaluate(net, ev)
    assert math.isnan(acc["TA"]) and acc["RA"] > 50
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # auto may keep θ_o on a 3-epoch model; it must run
        res = uk.unlearn(net, ds, split, "ft", options={"epochs": 1})
    assert math.isfinite(METRICS.get("proxy")().evaluate(res.model, ev)["proxy_gap"])


def test_mia_efficacy_fits_average_attacks_on_their_own_subsamples():
    """``fits=k`` is the mean of the single-attack scores at seeds seed … seed+k−1 (each attack on its own
    balanced subsample of the larger side), and ``fits=1`` is the single attack. Members and non-members
    overlap here, so the attacks' operating points differ and the mean is not any one of them."""
    rng = np.random.default_rng(3)
    member = rng.uniform(0.3, 1.0, size=(300, 1))
    nonmember = rng.uniform(0.2, 0.9, size=(60, 1))
    target = rng.uniform(0.2, 1.0, size=(200, 1))
    single = [mia_efficacy_score(member, nonmember, target, seed=5 + k) for k in range(3)]
    assert len(set(single)) > 1  # the subsample moves the operating point
    assert mia_efficacy_score(member, nonmember, target, seed=5, fits=1) == single[0]
    assert mia_efficacy_score(member, nonmember, target, seed=5, fits=3) == pytest.approx(np.mean(single), abs=1e-12)


def test_mia_metric_passes_its_fits_option(digits, random_split):
    from unlearnkit.eval import Evaluation
    from unlearnkit.eval.base import METRICS
    from unlearnkit.options import build

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    ev = Evaluation(digits, random_split, torch.device("cpu"), seed=4)
    feats = {p: confidence_features(ev.logits(model, p), ev.labels(p)) for p in ("retain", "test", "forget")}
    expected = np.mean(
        [mia_efficacy_score(feats["retain"], feats["test"], feats["forget"], seed=4 + k) for k in (0, 1)]
    )
    got = build(METRICS, "mia_efficacy", {"fits": 2}).compute(model, ev)["MIA"]
    assert got == pytest.approx(expected, abs=1e-12)


def test_attack_accuracy_is_100_when_separable_and_exactly_50_when_members_look_like_non_members():
    """The attack's balanced accuracy on members and non-members: separable confidences give 100; members and
    non-members with the same values give exactly 50 whatever boundary the SVC draws (it predicts the same for
    equal inputs, so P(member | member) = P(member | non-member)) — where MIA-efficacy is the boundary's accident."""
    from unlearnkit.eval.mia import attack_accuracy, fit_attacks

    rng = np.random.default_rng(0)
    member, nonmember = rng.uniform(0.95, 1.0, size=(200, 1)), rng.uniform(0.2, 0.6, size=(200, 1))
    assert attack_accuracy(fit_attacks(member, nonmember), member, nonmember) == 100.0
    same = rng.uniform(0.8, 1.0, size=(150, 1))
    attacks = fit_attacks(same, same.copy(), seed=0, fits=3)
    assert attack_accuracy(attacks, same, same.copy()) == 50.0
    # the cost is bounded: at most `samples` predictions a side, the same reading as all where a side is smaller
    big_m, big_n = rng.uniform(0.5, 1.0, size=(3000, 1)), rng.uniform(0.3, 1.0, size=(2500, 1))
    fitted = fit_attacks(big_m, big_n, seed=1, max_shadow=300)
    rows = []
    for clf in fitted:
        real = clf.predict
        clf.predict = lambda x, real=real: rows.append(len(x)) or real(x)
    acc = attack_accuracy(fitted, big_m, big_n, seed=1, samples=400)
    assert rows == [400, 400] and 50.0 < acc < 100.0
    assert attack_accuracy(fitted, big_m, big_n, samples=3000) == attack_accuracy(fitted, big_m, big_n, samples=None)
    # the metric reports it next to MIA, for the model and (reference column) for θ_r
    target = rng.uniform(0.2, 1.0, size=(40, 1))
    assert mia_efficacy_score(member, nonmember, target, seed=2, fits=2) == mia_efficacy_score(
        member, nonmember, target, attacks=fit_attacks(member, nonmember, seed=2, fits=2)
    )


def test_mia_metric_reports_its_attacks_accuracy(digits, random_split):
    from unlearnkit.eval import Evaluation
    from unlearnkit.eval.base import METRICS
    from unlearnkit.eval.mia import attack_accuracy, fit_attacks
    from unlearnkit.options import build

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    ev = Evaluation(digits, random_split, torch.device("cpu"), seed=4)
    feats = {p: confidence_features(ev.logits(model, p), ev.labels(p)) for p in ("retain", "test")}
    metric = build(METRICS, "mia_efficacy", {"fits": 2})
    col = next(c for c in metric.columns if c.name == "MIA_attack_acc")
    assert col.goal == "info" and col.reference and not col.in_gap
    attacks = fit_attacks(feats["retain"], feats["test"], 4, None, 2)
    expected = attack_accuracy(attacks, feats["retain"], feats["test"], 4)
    assert metric.compute(model, ev)["MIA_attack_acc"] == pytest.approx(expected, abs=1e-12)
