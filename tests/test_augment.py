"""unlearn(augment=…): θ_o's data augmentation on every batch a gradient method or retrain trains on."""

import warnings

import numpy as np
import pytest
import torch

import unlearnkit as uk
from unlearnkit.methods.base import GradientOptions

ONE = {"epochs": 1, "lr": 0.01}


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_identity_augment_is_the_plain_run_and_a_real_one_is_not(digits, random_split, theta_o):
    plain = uk.unlearn(theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu").model
    ident = uk.unlearn(
        theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu", augment=lambda x: x
    ).model
    assert same(plain, ident)
    halved = uk.unlearn(
        theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu", augment=lambda x: 0.5 * x
    ).model
    assert not same(plain, halved)


def test_augment_sees_every_batch_the_terms_train_on_and_nothing_else(digits, random_split, theta_o):
    """ft: one retain batch a step (and no evaluation batch: stop='none'); rl: a forget and a retain batch a step;
    and one call on two samples before any work (the check).
    Under auto the proxy's evaluations read the inputs as they are: the identity and no augment keep the same state."""
    seen = []

    def count(x):
        seen.append(len(x))
        return x

    o = GradientOptions(**ONE)
    steps = int(np.ceil(len(random_split.retain) / o.retain_batch_size))
    uk.unlearn(theta_o, digits, random_split, "ft", options=ONE, stop="none", device="cpu", augment=count)
    # the first call is the check before any work, on two samples
    assert seen[0] == 2 and len(seen) == 1 + steps and sum(seen[1:]) == len(random_split.retain)
    seen.clear()
    uk.unlearn(theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu", augment=count)
    assert len(seen) == 1 + 2 * steps
    auto = {"epochs": 1, "stopping": {"lr_factors": [1.0], "lr_lower": []}}
    a = uk.unlearn(theta_o, digits, random_split, "rl", options=auto, device="cpu").model
    b = uk.unlearn(theta_o, digits, random_split, "rl", options=auto, device="cpu", augment=lambda x: x).model
    assert same(a, b)


def test_retrain_trains_with_the_augment(digits, random_split, theta_o):
    cfg = uk.TrainConfig(epochs=2, lr=0.05)
    run = lambda aug: (
        uk.unlearn(  # noqa: E731
            theta_o, digits, random_split, "retrain", train_config=cfg, device="cpu", augment=aug
        ).model
    )
    assert same(run(None), run(lambda x: x)) and not same(run(None), run(lambda x: x + 0.1))


def test_a_bad_augment_is_refused_before_any_work_and_a_method_that_ignores_it_warns(digits, random_split, theta_o):
    with pytest.raises(uk.UnlearnkitError, match=r"augment must return a tensor of its input's shape and dtype"):
        uk.unlearn(theta_o, digits, random_split, "rl", device="cpu", augment=lambda x: x.flatten(1))
    with pytest.raises(uk.UnlearnkitError, match=r"augment must return a tensor .* got tuple"):
        uk.unlearn(theta_o, digits, random_split, "rl", device="cpu", augment=lambda x: (x,))
    with pytest.raises(uk.UnlearnkitError, match=r"augment failed on a batch of shape \(2, 1, 8, 8\): ValueError: no"):
        uk.unlearn(
            theta_o, digits, random_split, "rl", device="cpu", augment=lambda x: (_ for _ in ()).throw(ValueError("no"))
        )
    with pytest.raises(uk.UnlearnkitError, match=r"augment must be a function"):
        uk.unlearn(theta_o, digits, random_split, "rl", device="cpu", augment=3)
    with pytest.raises(uk.UnlearnkitError, match=r"augment must return"):
        uk.train_model(
            uk.build_model("mlp", digits.input_shape, 10),
            digits,
            random_split.train,
            uk.TrainConfig(epochs=1),
            "cpu",
            augment=lambda x: x.double(),
        )
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        uk.unlearn(theta_o, digits, random_split, "ssd", stop="none", device="cpu", augment=lambda x: x)
    assert any(
        "method 'ssd' takes no gradient steps on training batches, so augment has no effect" in str(w.message)
        for w in rec
    )
