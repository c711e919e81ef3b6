"""The retrain-free proxy: pure functions by hand, and hand-made splits with known values."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

import unlearnkit as uk
from helpers import Smoothed
from unlearnkit.eval import METRICS, Evaluation
from unlearnkit.eval.mia import fit_attack, mia_efficacy_score
from unlearnkit.predict import predict_logits
from unlearnkit.eval.proxy import ProxyOptions, ProxyReference
from unlearnkit.eval.proxy.attack import svc_threshold, threshold_attack
from unlearnkit.eval.proxy.labels import clearly_clean, label_share
from unlearnkit.eval.proxy.prior import drop_renormalise, kept_fraction, prior_correct, smoothing_eps
from unlearnkit.eval.proxy.strata import empirical_prior, gone_classes, target_weights
from unlearnkit.eval.proxy.terms import capped_quantiles, paired_damage, quantile_w1, total_variation


def test_gone_classes_are_forget_classes_without_retain_samples():
    assert gone_classes(np.array([1, 1, 3, 4]), np.array([0, 1, 2, 4])).tolist() == [3]
    assert gone_classes(np.array([1, 2]), np.array([1, 2, 0])).tolist() == []


def test_target_weights_by_hand():
    unseen = np.array([0, 0, 1, 1, 1, 1])
    forget = np.array([0, 0, 0, 1])  # π = (3/4, 1/4)
    w = target_weights(unseen, forget, 3, prior=0.0)  # purely per class: 3/4 over 2 samples, 1/4 over 4
    assert np.allclose(w, [3 / 8, 3 / 8, 1 / 16, 1 / 16, 1 / 16, 1 / 16])
    # prior 3, median n_u over D_f's classes = 3 → β = ½: half per class, half pooled (1/6 each)
    w = target_weights(unseen, forget, 3, prior=3.0)
    assert np.allclose(w, 0.5 * np.array([3 / 8, 3 / 8, 1 / 16, 1 / 16, 1 / 16, 1 / 16]) + 0.5 / 6)
    assert w.sum() == pytest.approx(1.0)


def test_empirical_prior_by_hand():
    labels = np.array([0] * 4 + [1] * 4)
    right = np.array([1, 1, 1, 1, 1, 0, 1, 0])  # rates 1 and ½, pooled ¾
    # v = ¾·¼ = 3/16; mean (p_c − p)² = 1/16; mean σ_c² = v/4 = 3/64 → τ² = 1/64 → prior = v/τ² = 12
    assert empirical_prior(labels, right) == pytest.approx(12.0)
    assert empirical_prior(labels, np.array([1, 1, 1, 0, 1, 1, 1, 0])) == np.inf  # same rates: pool
    assert empirical_prior(labels, np.ones(8)) == np.inf  # every sample right: nothing to estimate
    assert empirical_prior(np.array([0, 0, 0, 1]), np.array([1, 0, 1, 1])) == np.inf  # one class with ≥ 2
    # an infinite prior pools every class: uniform weights over the held-out samples
    assert np.allclose(target_weights(np.array([0, 0, 1, 1, 1]), np.array([0]), 2, np.inf), 0.2)


def test_prior_auto_is_estimated_from_the_held_out_data(digits, random_split, theta_o):
    ref = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(prior="auto"))
    lg = ref.forward(theta_o)
    labels = digits.labels
    ratio = kept_fraction(labels[random_split.train], labels[random_split.retain], digits.num_classes)
    right = (prior_correct(torch.softmax(lg["unseen"].double(), 1), ratio).argmax(1) == ref.y_unseen).numpy()
    assert ref.prior == empirical_prior(digits.labels[ref.unseen], right)
    assert ProxyReference.build(theta_o, digits, random_split).prior == ref.prior  # 'auto' is the default
    fixed = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(prior=10.0))
    assert fixed.prior == 10.0  # a number is used as given


def test_quantile_w1_uncapped_by_hand_and_against_scipy():
    """Without a cap (θ_o's D_f confidences all 1) the target is the held-out distribution itself, and
    quantile_w1 is the plain Wasserstein-1 distance: by hand, and scipy.stats.wasserstein_distance on random
    weighted samples."""
    from scipy.stats import wasserstein_distance

    def w1(a, b, wb=None):
        return quantile_w1(a, capped_quantiles(np.ones(len(a)), np.asarray(b, float), wb))

    assert w1([0.0], [1.0]) == pytest.approx(1.0)
    assert w1([0.2, 0.4], [0.4, 0.2]) == pytest.approx(0.0)
    assert w1([0.0], [0.0, 1.0], [3.0, 1.0]) == pytest.approx(0.25)  # b = 0 w.p. ¾, 1 w.p. ¼
    rng = np.random.default_rng(0)
    for n, m in ((1, 5), (7, 3), (40, 113)):
        a, b, w = rng.random(n), rng.random(m), rng.random(m)
        assert w1(a, b, w) == pytest.approx(wasserstein_distance(a, b, None, w), abs=1e-12)


def test_capped_quantiles_by_hand():
    # cap quantiles 0.2 | 1.0 and b's 0.5 | 0.9 on u ∈ (0, ½] | (½, 1]: the target is 0.2 | 0.9
    grid = capped_quantiles(np.array([1.0, 0.2]), np.array([0.9, 0.5]))
    assert quantile_w1([0.9, 0.2], grid) == pytest.approx(0.0)
    assert quantile_w1([0.5, 0.9], grid) == pytest.approx(0.5 * 0.3)
    # weighted b (0.5 w.p. ¾): target 0.2 on (0, ½], 0.5 on (½, ¾], 0.9 on (¾, 1]
    grid = capped_quantiles(np.array([0.2, 1.0]), np.array([0.5, 0.9]), np.array([3.0, 1.0]))
    assert quantile_w1([0.2, 0.9], grid) == pytest.approx(0.25 * 0.4)


def test_a_sample_theta_o_misclassifies_is_not_pushed_toward_held_out_accuracy(digits, theta_o):
    """θ_r does not fit D_f better than θ_o, which trained on it: a deletion request for one training sample θ_o
    gets wrong has FA target 0 and θ_o scores 0 on D_f's terms (the held-out targets alone, cap_at_original off,
    read FA ~97 and call θ_o ~97 points from retraining, so auto once moved scrub to classify the sample — and
    cost 3 RA points)."""
    split0 = uk.make_split(digits, "random", seed=0, fraction=0.1)
    right = predict_logits(theta_o, digits, split0.train, device="cpu").argmax(1).numpy() == digits.labels[split0.train]
    wrong = int(split0.train[np.flatnonzero(~right)[0]])
    split = uk.Split(split0.train, split0.test, split0.unseen, [wrong])
    ref = ProxyReference.build(theta_o, digits, split)
    assert ref.target_fa == 0.0 and ref.held_out_fa > 90 and ref.target_mia >= ref.held_out_mia
    v = ref.values_o
    assert v["proxy_fa"] == 0.0 and v["proxy_mia"] == 0.0
    assert v["proxy_dist"] < 1  # only the prior shift's correction of θ_o's confidence (one sample fewer)
    off = ProxyReference.build(theta_o, digits, split, ProxyOptions(cap_at_original=False))
    assert off.target_fa == ref.held_out_fa and off.values_o["proxy_fa"] > 90 and off.values_o["proxy_dist"] > 30
    with pytest.warns(RuntimeWarning, match=r"kept θ_o .* θ_o fits D_f less well .* \(FA target 0\.0 % against"):
        res = uk.unlearn(theta_o, digits, split, "scrub", device="cpu")  # the method auto once moved
    assert not res.moved


def test_threshold_attack_separates_and_prefers_balanced_accuracy():
    assert threshold_attack([0.9, 0.95, 1.0], [0.1, 0.5, 0.8]) == pytest.approx(0.9)
    # overlap: τ = 0.6 gets members 2/3 and non-members 3/3 right — the best balanced accuracy
    assert threshold_attack([0.5, 0.6, 1.0], [0.1, 0.2, 0.55]) == pytest.approx(0.6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_svc_threshold_is_avg_gaps_own_attack(seed):
    """τ read off SalUn's SVC calls exactly the confidences the SVC itself calls non-member (Avg.Gap's
    ``mia_efficacy_score`` on the same members / non-members / seed), on a spread-out case and on a
    saturated one, where the balanced-accuracy τ sits above 0.999 and calls a slight loss of confidence
    non-member while the SVC does not."""
    rng = np.random.default_rng(seed)
    probes = np.concatenate([np.linspace(0, 1, 401), rng.uniform(0.9, 1, 200)])
    spread = (rng.beta(8, 1, 300), rng.beta(2, 2, 200))
    saturated = (1 - rng.uniform(0, 1e-5, 300), np.concatenate([1 - rng.uniform(0, 1e-3, 180), rng.uniform(0, 1, 20)]))
    for member, nonmember in (spread, saturated):
        tau = svc_threshold(member, nonmember, seed)
        near = tau + np.linspace(-1e-3, 1e-3, 41)  # the boundary itself, to 1e-5
        called = np.concatenate([probes, near])
        called = called[np.abs(called - tau) > 1e-5][:, None]
        svc_says = fit_attack(member[:, None], nonmember[:, None], seed).predict(called) == 0
        assert ((called[:, 0] < tau) == svc_says).all()
        assert mia_efficacy_score(member[:, None], nonmember[:, None], called, seed) == pytest.approx(
            100 * svc_says.mean()
        )
    member, nonmember = saturated
    assert threshold_attack(member, nonmember) > 0.999 > svc_threshold(member, nonmember, seed) > 0.05


def test_svc_threshold_reads_the_low_confidence_end_when_the_svc_is_not_monotone():
    """Members in the middle, non-members at both ends: the SVC calls both ends non-member; the proxy's
    monotone attack keeps the low end (τ at the SVC's first member region) and never calls 0.99 out."""
    rng = np.random.default_rng(0)
    member = rng.uniform(0.4, 0.6, 200)
    nonmember = np.concatenate([rng.uniform(0, 0.1, 100), rng.uniform(0.9, 1, 100)])
    tau = svc_threshold(member, nonmember)
    clf = fit_attack(member[:, None], nonmember[:, None], 0)
    assert clf.predict([[0.05], [0.5], [0.99]]).tolist() == [0, 1, 0]
    assert 0.1 < tau < 0.4
    assert clf.predict([[tau - 1e-6]])[0] == 0 and clf.predict([[tau + 1e-6]])[0] == 1


def test_svc_threshold_on_degenerate_inputs():
    """One member and one non-member: the SVC's boundary is their midpoint, a point of the scan grid
    (where the decision is 0 up to rounding); identical confidences on both sides: no error."""
    assert svc_threshold(np.array([1.0]), np.array([0.0])) == pytest.approx(0.5)
    assert 0.0 <= svc_threshold(np.ones(10), np.ones(10)) <= np.nextafter(1.0, 2.0)


def test_drop_renormalise_and_total_variation():
    p = torch.tensor([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]], dtype=torch.float64)
    q = drop_renormalise(p, np.array([0]))
    assert torch.allclose(q, torch.tensor([[0.0, 0.5, 0.5], [0.0, 0.5, 0.5]], dtype=torch.float64))
    # TV between p and its drop-renormalised q is exactly p's mass on the dropped classes
    assert torch.allclose(total_variation(p, q), torch.tensor([0.5, 1.0], dtype=torch.float64))


def test_kept_fraction_and_prior_correct_by_hand():
    # class 0: 1 of 2 kept, class 1: 2 of 4 kept... class 2: gone, class 3: no training sample
    assert kept_fraction(np.array([0, 0, 1, 1, 1, 1, 2]), np.array([0, 1, 1]), 4).tolist() == [0.5, 0.5, 0.0, 1.0]
    p = torch.tensor([[0.5, 0.5, 0.0], [0.8, 0.1, 0.1], [0.0, 0.0, 1.0]], dtype=torch.float64)
    q = prior_correct(p, np.array([1.0, 0.5, 0.0]))
    expected = [[2 / 3, 1 / 3, 0.0], [0.8 / 0.85, 0.05 / 0.85, 0.0], [0.5, 0.5, 0.0]]  # last row: uniform on r > 0
    assert torch.allclose(q, torch.tensor(expected, dtype=torch.float64))
    # an equal fraction kept of every class changes nothing; 0/1 ratios are drop-and-renormalise
    assert torch.allclose(prior_correct(p[:2], np.full(3, 0.3)), p[:2])
    assert torch.equal(prior_correct(p, np.array([1.0, 1.0, 0.0])), drop_renormalise(p, np.array([2])))


def test_smoothing_eps_by_hand():
    # label smoothing's optimum on samples it classifies right: p = (1 − ε)·onehot + ε/K, so accuracy 1 and mean
    # confidence 1 − ε + ε/K; with z = 0, ε = (1 − c̄) / (1 − 1/K) recovers ε = 0.2 exactly
    k, eps = 10, 0.2
    y = torch.arange(40) % k
    p = (1 - eps) * torch.nn.functional.one_hot(y, k).double() + eps / k
    assert smoothing_eps(p, y, 0.0) == pytest.approx(0.2, abs=1e-12)
    # every difference 1[right] − p(y|x) is the same: no spread, so z standard errors cost nothing
    assert smoothing_eps(p, y, 2.0) == pytest.approx(0.2, abs=1e-12)
    # half of the samples wrong at confidence 0.1, the rest right at 0.9: acc 0.5, c̄ 0.5 — calibrated, ε = 0
    p2 = torch.full((4, 2), 0.1, dtype=torch.float64)
    p2[0, 0] = p2[1, 0] = 0.9  # right (y = 0)
    p2[2, 1] = p2[3, 1] = 0.9  # wrong (y = 0, predicted 1)
    p2[2, 0] = p2[3, 0] = 0.1
    assert smoothing_eps(p2, torch.zeros(4, dtype=torch.long), 0.0) == 0.0
    # over-confident (right 80 %, confidence 0.99): left as it is
    p3 = torch.tensor([[0.99, 0.01]] * 4 + [[0.01, 0.99]], dtype=torch.float64)
    assert smoothing_eps(p3, torch.zeros(5, dtype=torch.long), 0.0) == 0.0
    # a small held-out set: the standard errors take a modest shortfall back to 0
    y4 = torch.tensor([0, 0, 1])
    p4 = torch.tensor([[0.7, 0.3], [0.6, 0.4], [0.45, 0.55]], dtype=torch.float64)  # acc 1, c̄ 0.6167
    assert smoothing_eps(p4, y4, 0.0) == pytest.approx((1 - 1.85 / 3) / 0.5)
    assert smoothing_eps(p4, y4, 20.0) == 0.0


def test_prior_correct_reads_label_smoothed_probabilities_through_eps():
    # θ_o trained with label smoothing 0.2 on 10 classes puts 0.82 on a clear sample's class and 0.02 on each
    # other: the calibrated probability behind it is 1, which half a class's prior does not move; read as it is,
    # the correction moves it to 0.41 / (0.41 + 0.18)
    k, eps = 10, 0.2
    p = torch.full((1, k), eps / k, dtype=torch.float64)
    p[0, 5] = 1 - eps + eps / k
    r = np.ones(k)
    r[5] = 0.5
    assert prior_correct(p, r)[0, 5].item() == pytest.approx(0.41 / 0.59)
    assert torch.allclose(prior_correct(p, r, eps), p)
    # a gone class: its calibrated mass goes, the smoothing floor ε/K stays (a retrained model smooths over it too)
    gone = np.ones(k)
    gone[5] = 0.0
    q = prior_correct(p, gone, eps)
    assert q[0, 5].item() == pytest.approx(eps / k) and q.sum().item() == pytest.approx(1.0)
    assert torch.allclose(q[0, :5], torch.full((5,), (1 - eps) / 9 + eps / k, dtype=torch.float64))


def test_an_under_confident_theta_o_has_its_prior_shift_read_through_the_smoothing(digits, random_split, theta_o):
    """Half of class 5 forgotten. The plain θ_o is not under-confident (ε = 0: the targets of
    test_prior_shift_moves_the_targets_of_a_partly_removed_class); the same model compressed as label smoothing 0.3
    is, and its class-5 targets drop by far less than the raw correction asks (which would read the compression as
    uncertainty the prior can move)."""
    train = random_split.train
    fives = train[digits.labels[train] == 5]
    split = uk.Split(train, random_split.test, random_split.unseen, fives[: len(fives) // 2])
    assert ProxyReference.build(theta_o, digits, split).smoothing == 0.0
    smooth = Smoothed(theta_o, 0.3).eval()
    on = ProxyReference.build(smooth, digits, split)
    raw = ProxyReference.build(smooth, digits, split, ProxyOptions(smoothing_z=None))
    off = ProxyReference.build(smooth, digits, split, ProxyOptions(prior_shift=False))
    assert 0.2 < on.smoothing < 0.35 and raw.smoothing == 0.0 == off.smoothing
    is5 = (on.y_unseen == 5).numpy()
    drop_on = np.mean(off.ref_conf[is5] - on.ref_conf[is5])
    drop_raw = np.mean(off.ref_conf[is5] - raw.ref_conf[is5])
    assert 0 < drop_on < drop_raw / 3
    # the same ε, by hand, on the held-out samples
    p = torch.softmax(on.forward(smooth)["unseen"].double(), 1)
    assert on.smoothing == pytest.approx(smoothing_eps(p, on.y_unseen, 2.0))


def test_paired_damage_by_hand():
    # d = ref − θ = [0, 0, 1, 1]: 50 points lost; se = 100·sd(d, ddof 1)/√4 = 100·0.57735/2
    damage, se = paired_damage(np.array([1, 1, 1, 1]), np.array([1, 1, 0, 0]))
    assert damage == 50.0 and se == pytest.approx(100 * np.sqrt(1 / 3) / 2)
    # a model that gains accuracy loses nothing, though its differences still have a spread
    damage, se = paired_damage(np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]))
    assert damage == 0.0 and se > 0
    assert paired_damage(np.array([1, 0, 1]), np.array([1, 0, 1])) == (0.0, 0.0)  # agreeing: no noise
    assert paired_damage(np.array([], bool), np.array([], bool)) == (0.0, 0.0)


def test_prior_shift_moves_the_targets_of_a_partly_removed_class(digits, random_split, theta_o):
    """Half of class 5 forgotten: a model retrained on D_r sees class 5 half as often, so its targets are
    θ_o's held-out outputs with class 5's probability halved and renormalised (computed here by hand)."""
    train = random_split.train
    fives = train[digits.labels[train] == 5]
    split = uk.Split(train, random_split.test, random_split.unseen, fives[: len(fives) // 2])
    on = ProxyReference.build(theta_o, digits, split)
    off = ProxyReference.build(theta_o, digits, split, ProxyOptions(prior_shift=False))
    assert np.array_equal(on.unseen, off.unseen) and np.allclose(on.ref_w, off.ref_w)
    p = torch.softmax(on.forward(theta_o)["unseen"].double(), 1)
    r = np.ones(10)
    r[5] = (len(fives) - len(fives) // 2) / len(fives)
    q = p * torch.as_tensor(r)
    q = q / q.sum(1, keepdim=True)
    y = on.y_unseen
    assert on.target_fa == pytest.approx(100 * float(np.sum(on.ref_w * (q.argmax(1) == y).numpy())))
    assert np.allclose(on.ref_conf, q.gather(1, y.view(-1, 1))[:, 0].numpy())
    assert off.target_fa == pytest.approx(100 * float(np.sum(off.ref_w * (p.argmax(1) == y).numpy())))
    is5 = (y == 5).numpy()
    assert (on.ref_conf[is5] < off.ref_conf[is5]).all()  # class 5's own confidence drops
    assert (on.ref_conf[~is5] >= off.ref_conf[~is5]).all()  # the others gain its mass


@pytest.fixture(scope="module")
def unseen_like(digits, random_split, theta_o):
    """A split whose D_f is data θ_o never saw: forget = unseen = the held-out samples."""
    u = random_split.unseen
    split = uk.Split(np.union1d(random_split.train, u), random_split.test, u, u)
    return split


def test_theta_o_on_an_unseen_forget_set_scores_exactly_zero(digits, theta_o, unseen_like):
    # prior_shift off: this split pretends θ_o was trained on train ∪ unseen, so the class-prior change
    # "removing" the unseen samples would make is not one θ_o's training saw
    ev = Evaluation(digits, unseen_like, torch.device("cpu"), original=theta_o)
    out = METRICS.get("proxy")(ProxyOptions(prior_shift=False)).compute(theta_o, ev)
    assert list(out) == list(METRICS.get("proxy").column_names())
    for k, v in out.items():
        assert v == pytest.approx(0.0, abs=1e-9), k


def test_theta_o_on_its_training_data_is_not_zero_and_damage_counts(digits, random_split, theta_o):
    ref = ProxyReference.build(theta_o, digits, random_split)
    out = ref.evaluate(theta_o)
    assert out["proxy_damage"] == 0.0  # θ_o against itself loses nothing
    assert out["proxy_mass"] == 0.0  # no class is gone
    # θ_o fits D_f like D_r: FA term = 100·(FA_o − target) where target is θ_o's accuracy on unseen data
    fa_o = 100.0 * float((ref.forward(theta_o)["forget"].argmax(1) == ref.y_forget).double().mean())
    assert out["proxy_fa"] == pytest.approx(abs(fa_o - ref.target_fa))
    assert out["proxy_fa"] > 0
    w = ProxyOptions()
    assert out["proxy_gap"] == pytest.approx((out["proxy_fa"] + out["proxy_mia"] + out["proxy_dist"]) / 4)

    broken = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))  # a model that knows nothing
    torch.nn.init.zeros_(broken[1].weight), torch.nn.init.zeros_(broken[1].bias)
    bad = ref.evaluate(broken)  # argmax of equal logits = class 0
    assert bad["proxy_damage"] > 100  # RA and UA both collapse to ~10%
    assert w.w_damage == 1.0


class DropClass(torch.nn.Module):
    """θ_o with the logits of some classes pushed to −∞: the drop-and-renormalise model."""

    def __init__(self, base, classes):
        super().__init__()
        self.base, self.classes = base, list(classes)

    def forward(self, x):
        z = self.base(x).clone()
        z[:, self.classes] = -1e4
        return z


def test_class_forgetting_by_hand(digits, class_split, theta_o):
    ref = ProxyReference.build(theta_o, digits, class_split)
    assert ref.gone.tolist() == [3] and ref.is_gone.all()
    assert not np.isin(digits.labels[ref.unseen], [3]).any()  # held-out samples of the gone class are excluded
    out = ref.evaluate(theta_o)
    p = torch.softmax(ref.forward(theta_o)["forget"].double(), 1)
    assert out["proxy_mass"] == pytest.approx(100 * float(p[:, 3].mean()))  # TV = mass on the gone class
    assert out["proxy_dist"] == pytest.approx(0.1 * out["proxy_mass"])  # mass_weight's default
    full = ProxyReference.build(theta_o, digits, class_split, ProxyOptions(mass_weight=1.0)).evaluate(theta_o)
    assert full["proxy_dist"] == pytest.approx(out["proxy_mass"])
    assert full["proxy_gap"] - out["proxy_gap"] == pytest.approx(0.9 * out["proxy_mass"] / 4)
    fa_o = 100 * float((p.argmax(1) == 3).double().mean())
    assert out["proxy_fa"] == pytest.approx(fa_o)
    dropped = ref.evaluate(DropClass(theta_o, [3]).eval())
    assert dropped["proxy_fa"] == 0 and dropped["proxy_mia"] == 0
    assert dropped["proxy_dist"] < 1e-6 and dropped["proxy_gap"] < 0.5 < 20 < out["proxy_gap"]


def test_gone_part_has_an_attack_where_theta_o_tells_no_member_apart(digits):
    """A θ_o trained too briefly to tell its training data from held-out data: its own attack calls every
    confidence a member (τ = 0), so the gone part's MIA term read 100 for every model, a removal included. The
    gone part's attack is refitted with the gone class's share of the held-out data at confidence 0 (as a
    retrained model's test set holds it): the drop-and-renormalise model now scores MIA 0 on it, θ_o more."""
    split = uk.make_split(digits, "class", seed=0, classes=[7])
    torch.manual_seed(0)
    weak = uk.train_model(
        uk.build_model("mlp", digits.input_shape, 10),
        digits,
        split.train,
        uk.TrainConfig(epochs=2, lr=0.01),
        torch.device("cpu"),
    ).eval()
    ref = ProxyReference.build(weak, digits, split)
    assert ref.tau == 0.0 and ref.tau_gone > 0.0  # the precondition, and the refit
    n_gone = int((digits.labels[split.train] == 7).sum())
    extra = round(len(ref.unseen) * n_gone / (len(split.train) - n_gone))
    lg = ref.forward(weak)
    order = np.argsort(ref.retain)  # the D_r sample in the (sorted) order the attack was fitted in
    member = torch.softmax(lg["retain"][order].double(), 1).gather(1, ref.y_retain[order].view(-1, 1))[:, 0].numpy()
    held = torch.softmax(lg["unseen"].double(), 1).gather(1, ref.y_unseen.view(-1, 1))[:, 0].numpy()
    assert ref.tau_gone == svc_threshold(member, np.concatenate([held, np.zeros(extra)]), 0, 500)
    dropped = ref.evaluate(DropClass(weak, [7]).eval())
    assert dropped["proxy_fa"] == 0 and dropped["proxy_mia"] == 0
    assert ref.evaluate(weak)["proxy_mia"] > 50


def test_a_theta_o_that_tells_members_apart_keeps_its_attack_for_the_gone_part(digits, class_split, theta_o):
    ref = ProxyReference.build(theta_o, digits, class_split)
    assert ref.tau > 0 and ref.tau_gone == ref.tau


def test_gone_mass_is_compared_in_aggregate(digits, class_split, theta_o):
    """Class forgetting: where the forgotten class's inputs put their mass is compared as a distribution
    over D_f (mean probabilities), not sample by sample: outputs equal to the target's with the rows
    shuffled among D_f score 0, though every row moved."""
    ref = ProxyReference.build(theta_o, digits, class_split)
    lg = ref.forward(theta_o)
    perm = torch.as_tensor(np.random.default_rng(0).permutation(len(ref.forget)))
    shuffled = {**lg, "forget": torch.log(ref.q_gone[perm].clamp_min(1e-300))}
    out = ref.evaluate_logits(shuffled)
    assert out["proxy_dist"] == pytest.approx(0.0, abs=1e-9)
    assert out["proxy_fa"] == 0 and out["proxy_mia"] == 0 and out["proxy_damage"] == 0
    assert float(total_variation(ref.q_gone[perm], ref.q_gone).mean()) > 0.1  # per sample they differ


def test_proxy_is_deterministic_and_reads_no_test_or_retrained(digits, random_split, theta_o):
    ev = Evaluation(digits, random_split, torch.device("cpu"), original=theta_o, retrained=None)
    m = METRICS.get("proxy")()
    assert m.compute(theta_o, ev) == m.compute(theta_o, ev)
    ref = ProxyReference.build(theta_o, digits, random_split)
    assert not np.isin(np.concatenate([ref.forget, ref.retain, ref.unseen]), random_split.test).any()


def test_proxy_errors(digits, random_split, theta_o):
    with pytest.raises(uk.UnlearnkitError, match="needs θ_o"):
        METRICS.get("proxy")().compute(theta_o, Evaluation(digits, random_split, torch.device("cpu")))
    no_unseen = uk.Split(random_split.train, random_split.test, [], random_split.forget)
    with pytest.raises(uk.UnlearnkitError, match="unseen_fraction"):
        ProxyReference.build(theta_o, digits, no_unseen)


def test_prior_shift_ranks_the_retrained_model_first_where_nothing_is_memorised(overlap_logreg):
    """Two overlapping Gaussians and a logistic regression (it cannot memorise: θ_o's accuracy on D_f is
    its held-out accuracy); D_f = 40 % of class 1. θ_r, trained on D_r, sees class 1 less often and
    classifies D_f worse (FA 68 against θ_o's 78). The prior-corrected target lands on θ_r's FA and the
    proxy ranks θ_r above θ_o; θ_o's own outputs (prior_shift off) aim at 79 and rank θ_o first."""
    ds, split, theta_o, theta_r = overlap_logreg
    y = ds.labels
    forget_logits = predict_logits(theta_r, ds, split.forget, device="cpu")
    fa_r = 100 * float((forget_logits.argmax(1) == torch.as_tensor(y[split.forget])).double().mean())
    on = ProxyReference.build(theta_o, ds, split)
    off = ProxyReference.build(theta_o, ds, split, ProxyOptions(prior_shift=False))
    assert abs(on.target_fa - fa_r) < 3 < 7 < abs(off.target_fa - fa_r)
    assert on.evaluate(theta_r)["proxy_gap"] < on.evaluate(theta_o)["proxy_gap"]
    assert off.evaluate(theta_r)["proxy_gap"] > off.evaluate(theta_o)["proxy_gap"]


def test_reference_scores_theta_o_with_the_pass_that_built_it(digits, random_split, theta_o):
    """``values_o`` (the auto search's starting point, no second pass) is exactly θ_o's evaluation."""
    ref = ProxyReference.build(theta_o, digits, random_split)
    assert ref.values_o == ref.evaluate(theta_o)


def test_the_attack_option_picks_how_tau_is_fitted(digits, random_split, theta_o):
    """``attack``: 'svc' (default) reads τ off the SVC, 'balanced' is the balanced-accuracy optimum, both on
    θ_o's D_r sample vs held-out confidences."""
    ref = ProxyReference.build(theta_o, digits, random_split)
    lg = ref.forward(theta_o)
    conf = {
        k: torch.softmax(lg[k].double(), 1).gather(1, y.view(-1, 1))[:, 0].numpy()
        for k, y in (("retain", ref.y_retain), ("unseen", ref.y_unseen))
    }
    members = conf["retain"][np.argsort(ref.retain)]  # the attack reads the D_r sample in index order
    assert ref.tau == svc_threshold(members, conf["unseen"], 0, ProxyOptions().attack_samples)
    balanced = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(attack="balanced"))
    assert balanced.tau == threshold_attack(members, conf["unseen"]) != ref.tau


class Tempered(torch.nn.Module):
    """A model whose every logit is divided by ``t``: the same predictions, every confidence lower."""

    def __init__(self, model: torch.nn.Module, t: float):
        super().__init__()
        self.model, self.t = model, t

    def forward(self, x):
        return self.model(x) / self.t


def test_attack_refit_refits_tau_on_the_scored_model_where_theta_os_attack_has_power(digits, random_split, theta_o):
    """``attack_refit``: θ_o's attack's balanced accuracy (D_r sample vs held-out, by hand) gates it — digits' MLP
    reads about 0.52, under the default 0.6, so τ stays θ_o's; with the gate at 0.5 the threshold is the same SVC fit
    on the scored model's own confidences (in the order θ_o's was fitted in, so θ_o gets exactly its τ and its score
    is unchanged), and a tempered θ_o — every confidence lower, the same predictions — gets a lower τ and a smaller
    MIA term than θ_o's fixed τ gives it."""
    conf = lambda lg, ref, k: torch.softmax(lg[k].double(), 1).gather(1, ref_y(ref, k).view(-1, 1))[:, 0].numpy()  # noqa: E731
    ref_y = lambda ref, k: ref.y_retain if k == "retain" else ref.y_unseen  # noqa: E731
    fixed = ProxyReference.build(theta_o, digits, random_split)
    lg = fixed.forward(theta_o)
    members, held = conf(lg, fixed, "retain")[np.argsort(fixed.retain)], conf(lg, fixed, "unseen")
    ba = 0.5 * (np.mean(members >= fixed.tau) + np.mean(held < fixed.tau))
    assert fixed.attack_acc == pytest.approx(ba) and 0.5 < ba < 0.6 and not fixed.refit
    refit = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(attack_refit=0.5))
    assert refit.refit and refit.tau == fixed.tau and refit.values_o == fixed.values_o
    assert refit.attack_threshold(refit.forward(theta_o)) == fixed.tau
    assert refit.evaluate(theta_o) == fixed.evaluate(theta_o)
    cool = Tempered(theta_o, 3.0)
    lg_c = refit.forward(cool)
    tau_c = svc_threshold(conf(lg_c, refit, "retain")[np.argsort(refit.retain)], conf(lg_c, refit, "unseen"), 0, 500)
    assert refit.attack_threshold(lg_c) == tau_c < fixed.tau
    assert fixed.attack_threshold(lg_c) == fixed.tau
    a, b = refit.evaluate(cool), fixed.evaluate(cool)
    assert a["proxy_mia"] < b["proxy_mia"] and a["proxy_fa"] == b["proxy_fa"] and a["proxy_dist"] == b["proxy_dist"]
    off = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(attack_refit=None))
    assert not off.refit and off.evaluate(cool) == b


def test_the_d_r_sample_is_in_random_order_so_a_screening_head_covers_every_class(digits):
    """Data stored class by class (index order = class order): the D_r sample's head, which screening
    evaluations score, is a random subsample of it (every class, in proportion), not the lowest classes;
    the divergence guard compares a state with θ_o on the same head; the proxy's values do not depend on
    the order."""
    import dataclasses

    order = np.argsort(digits.labels, kind="stable")  # a class-sorted copy of digits
    inv = np.argsort(order)
    ds = dataclasses.replace(
        digits, x=digits.x[order], y=digits.y[order], pool=np.sort(inv[digits.pool]), test=np.sort(inv[digits.test])
    )
    split = uk.make_split(ds, "random", seed=0, fraction=0.1)
    torch.manual_seed(0)
    theta = uk.train_model(
        uk.build_model("mlp", ds.input_shape, ds.num_classes), ds, split.train, uk.TrainConfig(epochs=5), "cpu"
    )
    ref = ProxyReference.build(theta, ds, split)
    head = ref.retain[:300]
    labels = np.asarray(ds.labels)
    counts = np.bincount(labels[head], minlength=10)
    expected = 300 * np.bincount(labels[ref.retain], minlength=10) / len(ref.retain)
    assert (np.abs(counts - expected) < 15).all()  # sorted order would give classes 0–1 only
    norms = predict_logits(theta, ds, head, device="cpu").double().norm(dim=1)
    assert ref.retain_logit_norm(300) == pytest.approx(float(norms.mean()), rel=1e-6)
    assert sorted(ref.retain) == sorted(split.retain)  # all of D_r (digits' is under max_retain)
    lg = ref.forward(theta)
    assert ref.evaluate_logits(lg) == pytest.approx(ref.values_o, rel=1e-9, abs=1e-9)


def test_label_share_by_hand():
    clean = np.ones(40)
    assert label_share(clean, np.ones(30), np.ones(30), 0.2) is None  # agrees as often as held-out data
    f = np.r_[np.ones(10), np.zeros(30)]  # 10 of 40 agree: a_f = 0.25 against a_u = 1
    assert label_share(f, np.ones(30), np.ones(30), 0.2) == pytest.approx(0.25)
    assert label_share(f[[0, 10, 11, 12]], np.ones(30), np.ones(30), 0.2) is None  # 4 samples: within 4 SE
    assert label_share(np.full(40, 0.85), np.ones(30), np.ones(30), 0.2) is None  # a 0.15 shortfall: under the gap
    # held-out weights: class mix of D_f (agreement 0.5 on the weighted half only)
    assert label_share(
        np.full(40, 0.1), np.r_[np.full(10, 0.5), np.ones(10)], np.r_[np.ones(10), np.zeros(10)], 0.2
    ) == (pytest.approx(0.2))


def test_a_screened_subsample_rules_out_a_shortfall_only_by_four_standard_errors():
    """clearly_clean: the subsample's shortfall plus 4 SE below the gap; by hand (SE² = var/n + Σw²(a−ā)²)."""
    u, w = np.ones(30), np.ones(30)
    assert clearly_clean(np.ones(40), u, w, 0.2)  # no shortfall, SE 0
    f = np.r_[np.full(20, 0.9), np.full(20, 1.0)]  # shortfall 0.05, SE = sqrt(0.05²·40/39/40) = 0.0080
    assert clearly_clean(f, u, w, 0.2) and not clearly_clean(f, u, w, 0.05 + 4 * 0.0080)
    assert clearly_clean(f, u, w, 0.05 + 4 * 0.0081)
    assert clearly_clean(np.full(40, 0.85), u, w, 0.2)  # a 0.15 shortfall, SE 0: under the gap
    assert not clearly_clean(np.full(40, 0.7), u, w, 0.2)  # a 0.3 shortfall: search everything
    assert not clearly_clean(np.ones(1), u, w, 0.2)  # one sample tells nothing


@pytest.fixture(scope="module")
def poisoned(digits):
    """digits with a random 10 % of the training set relabelled to another class before training (a poisoned
    batch); θ_o trained long enough to memorise it, θ_r on the clean rest."""
    import dataclasses

    split = uk.make_split(digits, "random", seed=0, fraction=0.1)
    y = digits.y.clone()
    f = torch.as_tensor(split.forget)
    y[f] = (y[f] + torch.as_tensor(np.random.default_rng(0).integers(1, 10, len(f)))) % 10
    ds = dataclasses.replace(digits, y=y)
    cfg = uk.TrainConfig(epochs=80, lr=0.1, batch_size=64)

    def train(idx):
        torch.manual_seed(0)
        return uk.train_model(uk.build_model("mlp", ds.input_shape, 10), ds, idx, cfg, "cpu", seed=0)

    return ds, split, train(split.train), train(split.retain)


def test_a_poisoned_forget_set_is_expected_to_be_misclassified_after_retraining(
    poisoned, digits, random_split, theta_o
):
    """θ_o memorised the wrong labels (FA 100 % on them); held-out data of those (wrong) classes says a retrained
    model should get ~96 % of them "right", so without the check the proxy ranks θ_o far above θ_r. D_f's labels
    agree with their nearest D_r samples' (θ_o's features) about 10 % of the time against ~96 % for held-out data:
    the targets then expect θ_r to misclassify ~90 % of D_f, and θ_r ranks first. A clean forget set does not
    trigger it."""
    ds, split, theta_p, theta_r = poisoned
    fa_o = (predict_logits(theta_p, ds, split.forget, device="cpu").argmax(1).numpy() == ds.labels[split.forget]).mean()
    assert fa_o > 0.95  # memorised: the cap at θ_o cannot help here
    ref = ProxyReference.build(theta_p, ds, split)
    assert ref.agree_forget < 0.2 < 0.9 < ref.agree_held_out and ref.label_share < 0.2
    assert ref.target_fa < 20 < 80 < ref.target_mia and ref.held_out_fa > 90
    assert ref.evaluate(theta_r)["proxy_gap"] < 10 < 40 < ref.values_o["proxy_gap"]
    off = ProxyReference.build(theta_p, ds, split, ProxyOptions(label_check=False))
    assert off.label_share is None and off.evaluate(theta_r)["proxy_gap"] > 40 > 10 > off.values_o["proxy_gap"]
    clean = ProxyReference.build(theta_o, digits, random_split)
    assert clean.label_share is None and clean.agree_forget > clean.agree_held_out - 0.05
    # mislabelled samples lie far from their label's class: the shift check's reading says so, but the label check
    # explains it, so the summary does not call the held-out data shifted (and no shift warning)
    assert ref.shift.shifted and ref.shift.ratio > 1.25 and not clean.shift.shifted
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = uk.unlearn(theta_p, ds, split, "ft", device="cpu")
    said = [str(w.message) for w in rec]
    assert any("treated D_f as mislabelled, poisoned or atypical" in m for m in said)
    assert not any("drawn alike" in m for m in said)
    assert not next(h["auto_stop"] for h in res.history if "auto_stop" in h)["shifted"]
    fa = (predict_logits(res.model, ds, split.forget, device="cpu").argmax(1).numpy() == ds.labels[split.forget]).mean()
    assert fa < 0.3  # the poison is gone (θ_r: 0)


def test_the_label_check_searches_everything_only_where_its_screen_cannot_rule_out_a_shortfall(
    poisoned, digits, random_split, theta_o, monkeypatch
):
    """With a 60-sample screen: a clean D_f searches 60 + 60 queries a space and gets the unscreened decision
    (None); the poisoned one falls through to the full search in each space and gets exactly the unscreened
    share and targets."""
    from unlearnkit.eval.proxy import labels as proxy_mod

    searched = []
    real = proxy_mod.neighbour_agreement

    def spy(ref_x, ref_y, x, y, k):
        searched.append(len(x))
        return real(ref_x, ref_y, x, y, k)

    monkeypatch.setattr(proxy_mod, "neighbour_agreement", spy)
    full = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(label_screen=None))
    n_queries = len(full.forget) + len(full.unseen)
    assert searched == [n_queries, n_queries] and n_queries > 200
    searched.clear()
    clean = ProxyReference.build(theta_o, digits, random_split, ProxyOptions(label_screen=60))
    assert searched == [60, 60, 60, 60] and clean.label_share is full.label_share is None
    assert clean.target_fa == full.target_fa and clean.values_o == full.values_o
    assert abs(clean.agree_forget - full.agree_forget) < 0.1  # the subsample's estimate
    ds, split, theta_p, _ = poisoned
    searched.clear()
    screened = ProxyReference.build(theta_p, ds, split, ProxyOptions(label_screen=60))
    assert searched == [60, 60, n_queries, 60, 60, n_queries]  # both spaces see the shortfall
    exact = ProxyReference.build(theta_p, ds, split, ProxyOptions(label_screen=None))
    assert screened.label_share == exact.label_share < 0.2
    assert (screened.agree_forget, screened.agree_held_out) == (exact.agree_forget, exact.agree_held_out)
    assert screened.values_o == exact.values_o and screened.target_mia == exact.target_mia


def test_neighbours_are_sought_in_the_inputs_and_in_the_features_where_the_model_has_them(digits, theta_o):
    """The label check looks in the flattened inputs (which no training moves) and in the penultimate features
    (``model.features``, or the modules before an ``nn.Sequential``'s final ``nn.Linear``); a model without learnt
    features gets the inputs alone."""
    from unlearnkit.eval.proxy.labels import embeddings

    idx = np.arange(5)
    spaces = embeddings(theta_o, digits, idx, torch.device("cpu"))
    assert len(spaces) == 2
    assert np.array_equal(spaces[0], digits.inputs(idx).flatten(1).numpy())
    with torch.no_grad():
        assert np.allclose(spaces[1], theta_o.features(digits.inputs(idx)).numpy())
    plain = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    only = embeddings(plain, digits, idx, torch.device("cpu"))
    assert len(only) == 1 and np.array_equal(only[0], spaces[0])
    torch.manual_seed(0)
    mine = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    two = embeddings(mine, digits, idx, torch.device("cpu"))
    assert len(two) == 2 and np.array_equal(two[0], spaces[0])
    with torch.no_grad():
        assert np.array_equal(two[1], mine[:-1](digits.inputs(idx)).numpy())
    custom = torch.nn.ModuleDict({"a": torch.nn.Linear(64, 10)})  # no features, no head, not a Sequential
    custom.forward = lambda x: custom["a"](x.flatten(1))  # type: ignore[method-assign]
    assert len(embeddings(custom, digits, idx, torch.device("cpu"))) == 1


def test_neighbour_agreement_matches_scikit_learn_and_a_hand_case():
    from sklearn.neighbors import NearestNeighbors

    from unlearnkit.eval.proxy.labels import neighbour_agreement

    # by hand, on a line: reference 0, 1, 2 (labels a a b), 10, 11 (b b); a query at 0.4 labelled a, k = 3
    ref = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    lab = np.array([0, 0, 1, 1, 1])
    assert neighbour_agreement(ref, lab, np.array([[0.4], [10.6]]), np.array([0, 0]), 3) == pytest.approx([2 / 3, 0])
    # scikit-learn's exact brute-force neighbours on continuous data (no ties): the same agreements
    rng = np.random.default_rng(0)
    for d in (8, 784):
        r, q = rng.normal(size=(600, d)), rng.normal(size=(150, d))
        ry, qy = rng.integers(0, 3, 600), rng.integers(0, 3, 150)
        nb = NearestNeighbors(n_neighbors=10, algorithm="brute").fit(r).kneighbors(q)[1]
        assert np.array_equal(neighbour_agreement(r, ry, q, qy, 10), (ry[nb] == qy[:, None]).mean(1))
    assert neighbour_agreement(r, ry, q[:0], qy[:0], 10).shape == (0,)


def test_cached_inputs_give_the_same_reference_and_scores_bit_for_bit(digits):
    """The reference keeps its samples' model-ready inputs (``input_cache_mb``): on uint8 28×28 images, where
    inference runs in batches of 128 (several per pass), the reference built and every score read from the cache
    equal those read from the data set, bit for bit — screened heads, the rest of the D_r sample and the label
    check's two spaces included; over the budget nothing is kept."""
    from unlearnkit.data import ArrayDataset

    img = np.kron(digits.x.numpy().reshape(-1, 8, 8), np.ones((3, 3)))  # 24×24, values 0…16
    img = np.pad(img * 15, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)[:, None]
    ds = ArrayDataset("digits28", torch.from_numpy(img), digits.y, 10, digits.pool, digits.test, mean=0.1, std=0.3)
    base = uk.make_split(ds, "class", seed=0, classes=[3])  # all of class 3 and 40 samples of class 5:
    fives = np.setdiff1d(base.train, base.forget)[ds.labels[np.setdiff1d(base.train, base.forget)] == 5][:40]
    split = dataclasses.replace(base, forget=np.union1d(base.forget, fives))  # a gone part and a partial one
    for name in ("mlp", "cnn"):
        torch.manual_seed(0)
        model = uk.build_model(name, ds.input_shape, 10).eval()
        cached = ProxyReference.build(model, ds, split, ProxyOptions(label_screen=60))
        plain = ProxyReference.build(model, ds, split, ProxyOptions(label_screen=60, input_cache_mb=0))
        assert cached.inputs is not None and plain.inputs is None and cached.is_gone.any() and not cached.is_gone.all()
        assert len(cached.forget) + len(cached.retain) + len(cached.unseen) > 3 * 128
        assert cached.values_o == plain.values_o and cached.agree_forget == plain.agree_forget
        assert np.array_equal(cached.retain, plain.retain) and np.array_equal(cached.ref_conf, plain.ref_conf)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01 * torch.randn_like(p))
        for part in (slice(None), slice(0, 100)):
            a, b = cached.forward(model, part), plain.forward(model, part)
            assert all(torch.equal(a[k], b[k]) for k in a)
        assert torch.equal(cached.retain_logits(model, slice(100, None)), plain.retain_logits(model, slice(100, None)))
        assert cached.evaluate(model) == plain.evaluate(model)
    small = ProxyReference.build(
        model, ds, split, ProxyOptions(input_cache_mb=0.5)
    )  # about 1 600 × 784 × 4 B = 5 MiB > 0.5 MiB
    assert small.inputs is None


def test_the_targets_match_d_fs_groups_where_the_data_set_has_a_group(digits, theta_o, random_split):
    """A group attribute (half the digits, at random) whose held-out rows of group 1 are mislabelled, so θ_o is right
    on about none of them: a request from group 0 alone is read off held-out rows of group 0 (match_group), not off
    the pooled held-out rows; without a group nothing changes."""
    import dataclasses

    rng = np.random.default_rng(0)
    group = torch.as_tensor(rng.integers(0, 2, len(digits.y)))
    y = digits.y.clone()
    bad = np.asarray(random_split.unseen)[group.numpy()[random_split.unseen] == 1]
    y[torch.as_tensor(bad)] = (y[torch.as_tensor(bad)] + 1) % 10
    ds = dataclasses.replace(digits, y=y, group=group)
    train = np.asarray(random_split.train)
    ids = np.sort(rng.choice(train[group.numpy()[train] == 0], 100, replace=False))
    split = uk.Split(random_split.train, random_split.test, random_split.unseen, ids, {})  # θ_o's own training set
    matched = ProxyReference.build(theta_o, ds, split)
    pooled = ProxyReference.build(theta_o, ds, split, ProxyOptions(match_group=False))
    g1 = group.numpy()[matched.unseen] == 1
    assert matched.held_out_fa > 85 and pooled.held_out_fa < 70  # 91.1 and 50.7
    # group 1's rows keep only the prior's shrinkage toward the pool (β = prior / (prior + median count), small where
    # the strata's rates differ this much), against about half the weight pooled
    assert matched.ref_w[g1].sum() < 0.1 < 0.4 < pooled.ref_w[g1].sum()
    plain = ProxyReference.build(theta_o, digits, split)  # no group: the class mix alone, as before
    same = ProxyReference.build(theta_o, digits, split, ProxyOptions(match_group=False))
    assert np.array_equal(plain.ref_w, same.ref_w) and plain.target_fa == same.target_fa
