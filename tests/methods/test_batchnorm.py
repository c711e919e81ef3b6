"""A training-mode batch of one sample: batch norm uses its running statistics (models/batchnorm.py)."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import unlearnkit as uk
from unlearnkit.methods import METHODS
from unlearnkit.methods.base import GradientMethod
from unlearnkit.models.batchnorm import batch_norm_layers, batch_norm_mode, running_statistics_for_one


def bn_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))


def test_one_sample_uses_running_statistics_and_leaves_them():
    net = bn_mlp().train()
    bn = net[2]
    bn.running_mean.fill_(0.5)
    bn.running_var.fill_(2.0)
    x = torch.randn(1, 64)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        net(x)  # what PyTorch does without it
    before = copy.deepcopy(bn.state_dict())
    with running_statistics_for_one(net, 1):
        out = net(x)
        assert not bn.training
    assert bn.training and net.training  # restored
    assert all(torch.equal(before[k], v) for k, v in bn.state_dict().items())  # statistics not updated
    assert torch.equal(out, copy.deepcopy(net).eval()(x))  # exactly eval mode's output
    two = torch.randn(2, 64)
    with running_statistics_for_one(net, 2):  # two samples: untouched, batch statistics as before
        out2 = net(two)
    assert not torch.equal(bn.running_mean, before["running_mean"])  # a batch of two updates them, as ever
    assert out2.shape == (2, 10)


def gradient_methods():
    return [n for n in METHODS.names() if issubclass(METHODS.get(n), GradientMethod)]


@pytest.mark.parametrize("method", gradient_methods())
def test_every_gradient_method_unlearns_one_sample_from_a_batchnorm_model(digits, method):
    """A deletion request for one sample (every forget batch holds one) through a BatchNorm1d model."""
    split = uk.make_split(digits, "indices", seed=0, indices=[5])
    net = bn_mlp()
    uk.train_model(net, digits, split.train, uk.TrainConfig(epochs=2, lr=0.05), torch.device("cpu"))
    res = uk.unlearn(net, digits, split, method=method, options={"epochs": 1}, stop="none")
    moved = any(not torch.equal(a, b) for a, b in zip(res.model.parameters(), net.parameters()))
    assert moved and all(torch.isfinite(p).all() for p in res.model.parameters())


def test_training_with_one_sample_left_in_the_last_batch(digits):
    idx = np.arange(129)  # 64 + 64 + 1
    net = bn_mlp()
    uk.train_model(net, digits, idx, uk.TrainConfig(epochs=1, lr=0.05, batch_size=64), torch.device("cpu"))
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_batch_mode_normalises_with_the_batch_and_leaves_the_running_statistics():
    net = bn_mlp().train()
    bn = net[2]
    x = torch.randn(16, 64)
    before = copy.deepcopy(bn.state_dict())
    with batch_norm_mode(batch_norm_layers(net), "batch"):
        out = net(x)
        assert bn.training and not bn.track_running_stats
    assert bn.training and bn.track_running_stats  # restored
    assert all(torch.equal(before[k], v) for k, v in bn.state_dict().items())  # num_batches_tracked included
    assert torch.equal(out, copy.deepcopy(net).train()(x))  # exactly a training-mode forward's output
    with batch_norm_mode(batch_norm_layers(net), "train"):
        net(x)
    assert not torch.equal(bn.running_mean, before["running_mean"])  # "train": PyTorch's own behaviour


def forget_methods():
    return [n for n in gradient_methods() if METHODS.get(n).uses_forget]


@pytest.mark.parametrize("mode", ["train", "batch", "running"])
@pytest.mark.parametrize("method", forget_methods())
def test_forget_terms_treat_batch_norm_as_forget_batch_norm_says(digits, method, mode, monkeypatch):
    """Seen from a hook on the BN layer: every forward of a forget term runs as ``forget_batch_norm`` says
    (training / tracking its running statistics); retain terms train it as ever."""
    split = uk.make_split(digits, "class", seed=0, classes=[3])
    net = bn_mlp()
    uk.train_model(net, digits, split.train, uk.TrainConfig(epochs=2, lr=0.05), torch.device("cpu"))
    seen: list[tuple[str, bool, bool]] = []
    term = GradientMethod.term

    def watched(self, ctx, idx, step, name, loss_fn):
        bn = next(m for m in ctx.model.modules() if isinstance(m, nn.BatchNorm1d))
        hook = bn.register_forward_pre_hook(lambda m, inp: seen.append((name, m.training, m.track_running_stats)))
        try:
            return term(self, ctx, idx, step, name, loss_fn)
        finally:
            hook.remove()

    monkeypatch.setattr(GradientMethod, "term", watched)
    opts = {"epochs": 1, "lr": 1e-3, "forget_batch_norm": mode}
    uk.unlearn(net, digits, split, method=method, options=opts, stop="none")
    expect = {"train": (True, True), "batch": (True, False), "running": (False, True)}[mode]
    forget = {(training, tracks) for name, training, tracks in seen if name == "forget"}
    retain = {(training, tracks) for name, training, tracks in seen if name == "retain"}
    assert forget == {expect}
    assert retain == ({(True, True)} if METHODS.get(method).uses_retain else set())


def test_ga_leaves_the_running_statistics_unless_told_to_train_them(digits):
    """ga only reads D_f: under ``batch`` (its default) and ``running`` its BN buffers stay θ_o's exactly, and at an lr that
    barely moves the weights the model keeps its outputs on D_r; ``train`` (the reference implementations)
    moves the statistics toward the forgotten class."""
    split = uk.make_split(digits, "class", seed=0, classes=[3])
    net = bn_mlp()
    uk.train_model(net, digits, split.train, uk.TrainConfig(epochs=2, lr=0.05), torch.device("cpu"))
    buffers = {k: v.clone() for k, v in net.named_buffers()}
    x = digits.x[torch.as_tensor(split.retain)]
    with torch.no_grad():
        ref = net.eval()(x)
    for mode in ("train", "batch", "running", None):  # None: ga's default, "batch"
        opts = {"epochs": 1, "lr": 1e-9} | ({"forget_batch_norm": mode} if mode else {})
        with warnings.catch_warnings():  # "did not change the model": the weights barely move at this lr
            warnings.simplefilter("ignore", RuntimeWarning)
            res = uk.unlearn(net, digits, split, method="ga", options=opts, stop="none")
        after = dict(res.model.named_buffers())
        assert all(torch.equal(after[k], v) for k, v in buffers.items()) == (mode != "train")
        with torch.no_grad():
            moved = (res.model.eval()(x) - ref).abs().max()
        assert (moved > 1e-2) if mode == "train" else (moved < 1e-5)


def test_forget_batch_norm_given_for_a_model_without_batch_norm_warns(digits):
    """The option changes nothing on a model without batch norm: given explicitly there it warns (not silently
    ignored); given for a batch-norm model, or left at its default, it does not."""
    split = uk.make_split(digits, "random", seed=0, fraction=0.1)
    mlp = uk.build_model("mlp", digits.input_shape, digits.num_classes)
    opts = {"epochs": 1, "lr": 1e-3, "forget_batch_norm": "running"}
    with pytest.warns(RuntimeWarning, match="forget_batch_norm='running' has no effect, the model has no batch-norm"):
        uk.unlearn(mlp, digits, split, method="ga", options=opts, stop="none")
    for net, o in ((bn_mlp(), opts), (mlp, {"epochs": 1, "lr": 1e-3})):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            uk.unlearn(net, digits, split, method="ga", options=o, stop="none")
        assert not [w for w in seen if "forget_batch_norm" in str(w.message)]
