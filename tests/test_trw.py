"""TRW target: the math on a hand-made logit table, and rl + trw end to end on digits."""

import math

import pytest
import torch

import unlearnkit as uk
from unlearnkit.errors import UnlearnkitError
from unlearnkit.eval import predict_logits
from unlearnkit.targets import TARGETS
from unlearnkit.targets.trw import (
    drop_and_renormalise,
    mean_logit_embeddings,
    pca_project,
    similarity_prior,
    tilted_target,
    unseen_prior,
)

# 4 classes; class 0 is forgotten. Class embeddings: class 1 points nearly the same way as class 0,
# class 2 is orthogonal, class 3 opposite.
EMB = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
LOGITS = torch.tensor([[3.0, 0.5, 1.0, 1.5], [2.0, 1.0, 1.0, 0.0], [0.0, -1.0, 2.0, 1.0]])
LABELS = torch.tensor([0, 0, 0])


def test_similarity_prior_is_softmax_of_cosines_over_remaining_classes():
    pi = similarity_prior(EMB, [0], temperature=0.5)
    cos = torch.tensor([0.9 / math.hypot(0.9, 0.1), 0.0, -1.0], dtype=torch.float64)
    expected = torch.softmax(cos / 0.5, 0)
    assert pi[0, 0] == 0
    assert torch.allclose(pi[0, 1:], expected)
    assert torch.all(pi[1:] == 0)


def test_q_sums_to_one_on_remaining_classes_with_zero_forget_mass():
    pi = similarity_prior(EMB, [0], 0.1)
    q = tilted_target(LOGITS, LABELS, pi, [0], beta=10.0)
    assert torch.all(q[:, 0] == 0)
    assert torch.allclose(q.sum(1), torch.ones(3))


def test_beta_zero_is_drop_and_renormalise():
    pi = similarity_prior(EMB, [0], 0.1)
    q0 = tilted_target(LOGITS, LABELS, pi, [0], beta=0.0)
    p = torch.softmax(LOGITS, 1)
    # by hand for row 0: p_j / (1 - p_0) for j = 1, 2, 3
    by_hand = p[0, 1:] / (1 - p[0, 0])
    assert torch.allclose(q0[0, 1:], by_hand, atol=1e-6)
    assert torch.allclose(q0, drop_and_renormalise(p, [0]), atol=1e-6)


def test_tilt_matches_formula_and_moves_mass_to_most_similar_class():
    pi = similarity_prior(EMB, [0], 0.1)
    p = torch.softmax(LOGITS.double(), 1)
    beta = 2.0
    w = p[:, 1:] * torch.exp(beta * pi[0, 1:])
    expected = w / w.sum(1, keepdim=True)
    assert torch.allclose(tilted_target(LOGITS, LABELS, pi, [0], beta)[:, 1:].double(), expected, atol=1e-6)
    mass = [tilted_target(LOGITS, LABELS, pi, [0], b)[:, 1] for b in (0.0, 1.0, 3.0, 10.0)]
    for lo, hi in zip(mass, mass[1:]):
        assert torch.all(hi > lo)  # class 1 is the most similar to class 0
    assert torch.all(mass[-1] > 0.9)


def test_several_forget_classes_are_all_zeroed_and_each_sample_uses_its_class_row():
    pi = similarity_prior(EMB, [0, 3], 0.1)
    assert torch.allclose(pi[[0, 3]].sum(1), torch.ones(2, dtype=torch.float64))
    assert pi[0, 1] > pi[0, 2] and pi[3, 2] > pi[3, 1]  # 3 is opposite 0: its nearest kept class is 2
    q = tilted_target(LOGITS, torch.tensor([0, 3, 3]), pi, [0, 3], 10.0)
    assert torch.all(q[:, [0, 3]] == 0)
    assert q[0, 1] > q[0, 2] and q[1, 2] > q[1, 1]


def test_mean_logit_embeddings_and_pca_preserve_geometry():
    logits = torch.tensor([[1.0, 0, 0], [3.0, 0, 0], [0, 2.0, 0], [0, 0, 5.0]])
    emb = mean_logit_embeddings(logits, torch.tensor([0, 0, 1, 2]), 3)
    assert torch.allclose(emb, torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 5.0]]))
    z = pca_project(emb, 2)
    assert z.shape == (3, 2)
    centred = emb.double() - emb.double().mean(0)
    assert torch.allclose(torch.cdist(z, z), torch.cdist(centred, centred), atol=1e-9)  # C−1 dims lose nothing
    with pytest.raises(UnlearnkitError, match="no samples"):
        mean_logit_embeddings(logits, torch.tensor([0, 0, 1, 1]), 3)


def test_unseen_prior_is_the_renormalised_mean_over_remaining_classes():
    # two unseen samples of forget class 0 and one of class 2 (ignored); 4 classes
    probs = torch.tensor([[0.6, 0.3, 0.1, 0.0], [0.8, 0.0, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1]])
    pi = unseen_prior(probs, [0, 0, 2], [0], 4)
    # mean over class-0 rows: (.7, .15, .1, .05); drop class 0 → (.15, .1, .05)/.3 = (½, ⅓, ⅙)
    assert torch.allclose(pi[0], torch.tensor([0.0, 0.5, 1 / 3, 1 / 6], dtype=torch.float64))
    assert torch.all(pi[1:] == 0)
    with pytest.raises(UnlearnkitError, match="unseen samples of forget class 1"):
        unseen_prior(probs, [0, 0, 2], [0, 1], 4)


@pytest.fixture(scope="module")
def digits_class3():
    torch.manual_seed(0)
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    model = uk.train_model(
        uk.build_model("mlp", ds.input_shape, 10),
        ds,
        split.train,
        uk.TrainConfig(epochs=15, lr=0.05),
        torch.device("cpu"),
    )
    return ds, split, model


def test_rl_with_trw_forgets_class_and_follows_the_target(digits_class3):
    ds, split, model = digits_class3
    base = uk.unlearn(model, ds, split, "rl", device="cpu")
    paper = {"beta": 10.0, "similarity": "mean_logits"}  # the paper's tilt, strong enough to see it followed
    res = uk.unlearn(model, ds, split, "rl", target="trw", target_options=paper, device="cpu")
    assert res.target == "trw"
    p_forget = torch.softmax(predict_logits(res.model, ds, split.forget), 1)
    fa = 100 * float((p_forget.argmax(1) == 3).float().mean())
    assert fa < 2.0
    # the TRW target's top class for the forget set, from a freshly prepared target
    target = TARGETS.get("trw")(TARGETS.get("trw").Options(**paper))
    ctx = _ctx(model, ds, split)
    target.prepare(ctx)
    top = int(target.table.mean(0).argmax())
    assert top != 3
    mass_trw = float(p_forget[:, top].mean())
    mass_rl = float(torch.softmax(predict_logits(base.model, ds, split.forget), 1)[:, top].mean())
    assert mass_trw > 0.5 and mass_trw > mass_rl + 0.2
    # retained classes are kept
    test_acc = float(
        (predict_logits(res.model, ds, split.test).argmax(1) == torch.as_tensor(ds.labels[split.test]))[
            torch.as_tensor(ds.labels[split.test]) != 3
        ]
        .float()
        .mean()
    )
    assert test_acc > 0.85


@pytest.mark.parametrize("similarity", ["mean_logits", "classifier_rows", "unseen_probs"])
def test_every_similarity_source_gives_a_prior_over_remaining_classes(digits_class3, similarity):
    ds, split, model = digits_class3
    target = TARGETS.get("trw")(TARGETS.get("trw").Options(similarity=similarity))
    target.prepare(_ctx(model, ds, split))
    assert target.prior[3, 3] == 0 and float(target.prior[3].sum()) == pytest.approx(1.0)
    assert torch.all(target.table[:, 3] == 0)
    if similarity == "unseen_probs":  # by construction: θ_o's mean output on unseen 3s, class 3 dropped
        un = split.unseen[ds.labels[split.unseen] == 3]
        p = torch.softmax(predict_logits(model, ds, un).double(), 1).mean(0)
        p[3] = 0
        assert torch.allclose(target.prior[3], p / p.sum())


def test_default_is_drop_and_renormalise(digits_class3):
    ds, split, model = digits_class3
    target = TARGETS.get("trw")()
    target.prepare(_ctx(model, ds, split))
    p = torch.softmax(predict_logits(model, ds, split.forget), 1)
    assert torch.allclose(target.table, drop_and_renormalise(p, [3]), atol=1e-5)


def test_trw_rejects_a_forget_set_that_is_not_whole_classes(digits_class3):
    """A random forget set (it covers every class, and no class whole): the library says what trw needs, as
    the bench does, instead of TRW's own "covers every class" from inside its preparation."""
    ds, _, model = digits_class3
    split = uk.make_split(ds, "random", seed=0, fraction=0.2)
    with pytest.raises(UnlearnkitError, match="target 'trw' needs a class scenario"):
        uk.unlearn(model, ds, split, "rl", target="trw", device="cpu")
    target = TARGETS.get("trw")()
    with pytest.raises(UnlearnkitError, match="every class"):  # the target's own check, called directly
        target.prepare(_ctx(model, ds, split))


def test_trw_options_are_validated():
    with pytest.raises(UnlearnkitError, match="beta"):
        uk.unlearn(torch.nn.Linear(2, 2), None, None, "rl", target="trw", target_options={"beta": -1})


def _ctx(model, ds, split):
    from unlearnkit.context import UnlearnContext

    original = model.eval()
    return UnlearnContext(
        model=model,
        original=original,
        dataset=ds,
        split=split,
        num_classes=10,
        device=torch.device("cpu"),
        seed=0,
        options=None,
        weighting=None,
        target=None,
    )


def test_classifier_rows_reads_the_last_linear_with_a_row_per_class_and_refuses_a_model_without_one():
    """A model without a ``head`` attribute: the last nn.Linear with num_classes outputs (not an earlier one, not a
    hidden layer of another width); a model whose classes come out of a convolution has no rows to compare."""
    from unlearnkit.targets.trw import classifier_rows

    net = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 10), torch.nn.ReLU(), torch.nn.Linear(10, 32), torch.nn.Linear(32, 10)
    )
    assert torch.equal(classifier_rows(net, 10), net[4].weight.detach())
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 10, 8), torch.nn.Flatten())
    with pytest.raises(UnlearnkitError, match=r"needs a final nn.Linear with one row per class; use similarity="):
        classifier_rows(conv, 10)
