"""A fresh model of θ_o's architecture when the caller passes no ``new_model``: every layer re-drawn by its
own ``reset_parameters()``, or one clear error."""

import copy

import pytest
import torch
from torch import nn

import unlearnkit as uk
from unlearnkit.models.fresh import reinitialised


@pytest.mark.parametrize("name", ["mlp", "cnn", "logreg"])
def test_a_reinitialised_copy_is_the_architectures_own_initialisation(name, digits):
    """Under the same seed it equals a newly built model (registration order = construction order), every
    parameter differs from the trained one's, norm layers' running statistics are reset, the model copied is
    untouched."""
    trained = uk.build_model(name, digits.input_shape, 10)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
        for m in trained.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.fill_(3.0)
    before = copy.deepcopy(trained.state_dict())
    torch.manual_seed(7)
    fresh = reinitialised(trained)
    torch.manual_seed(7)
    built = uk.build_model(name, digits.input_shape, 10)
    for (k, a), b in zip(fresh.state_dict().items(), built.state_dict().values()):
        assert torch.equal(a, b), k
    for k, v in trained.state_dict().items():
        assert torch.equal(v, before[k]), k  # the original is not touched
    for (k, p), q in zip(fresh.named_parameters(), trained.parameters()):
        assert not torch.equal(p, q), k


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.scale = nn.Parameter(torch.ones(10))

    def forward(self, x):
        return self.fc(x.flatten(1)) * self.scale


def test_a_parameter_no_layer_can_reset_is_an_error_naming_it_and_the_fix():
    with pytest.raises(
        uk.UnlearnkitError, match=r"scale belong to no module with reset_parameters\(\); pass new_model="
    ):
        reinitialised(_Scaled())


def test_bad_teacher_and_retrain_need_no_new_model(digits, random_split, theta_o):
    """Without ``new_model`` the random teacher is θ_o's architecture re-initialised: the same run, bit for bit,
    as passing that factory; retrain from it is retrain from a newly built MLP under the same seed."""
    opts = dict(epochs=1)
    default = uk.unlearn(theta_o, digits, random_split, "bad_teacher", options=opts, device="cpu", stop="none")
    given = uk.unlearn(
        theta_o,
        digits,
        random_split,
        "bad_teacher",
        options=opts,
        device="cpu",
        stop="none",
        new_model=lambda: reinitialised(theta_o),
    )
    assert default.moved
    for a, b in zip(default.model.state_dict().values(), given.model.state_dict().values()):
        assert torch.equal(a, b)
    cfg = uk.TrainConfig(epochs=2)
    r1 = uk.unlearn(theta_o, digits, random_split, "retrain", device="cpu", stop="none", train_config=cfg)
    r2 = uk.unlearn(
        theta_o,
        digits,
        random_split,
        "retrain",
        device="cpu",
        stop="none",
        train_config=cfg,
        new_model=lambda: uk.build_model("mlp", digits.input_shape, 10),
    )
    for a, b in zip(r1.model.state_dict().values(), r2.model.state_dict().values()):
        assert torch.equal(a, b)


def test_the_fresh_model_is_built_from_the_callers_model_not_the_runs_hooked_copy(
    digits, random_split, theta_o, monkeypatch
):
    """The run's copy of θ_o carries the pass counter's forward hooks; a deep copy of it copied the counter (and,
    once a trial model was collected, failed on its dead hook handles). The fresh model comes from the caller's
    model, which unlearn never hooks, and has no hooks."""
    import sys

    unlearn_module = sys.modules["unlearnkit.unlearn"]  # the module (the package exports the function by its name)

    seen = []

    def spy(model):
        seen.append(model)
        return reinitialised(model)

    monkeypatch.setattr(unlearn_module, "reinitialised", spy)
    uk.unlearn(theta_o, digits, random_split, "bad_teacher", options=dict(epochs=1), device="cpu", stop="none")
    assert seen and all(m is theta_o for m in seen)
    assert not theta_o._forward_hooks and not reinitialised(theta_o)._forward_hooks
