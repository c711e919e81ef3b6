"""Gradient-free passes: the CPU batch rule, and logits that do not depend on the batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearnkit.data.dataset import ArrayDataset
from unlearnkit.models import MODELS
from unlearnkit.predict import inference_batch_size, predict_logits

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    "shape,expected",
    [((1, 28, 28), 128), ((3, 32, 32), 64), ((1, 8, 8), 2048), ((64,), 2048), ((108,), 1024), ((3, 224, 224), 64)],
)
def test_cpu_batch_is_the_power_of_two_below_the_element_budget(shape, expected):
    assert inference_batch_size(shape, CPU) == expected


def test_accelerators_keep_large_batches():
    assert inference_batch_size((1, 28, 28), torch.device("meta")) == 2048


@pytest.mark.parametrize("name,shape", [("cnn", (1, 28, 28)), ("cnn", (3, 32, 32)), ("resnet18", (3, 32, 32))])
def test_conv_logits_do_not_depend_on_the_batch(name, shape):
    """The CPU rule shrank conv nets' batches from 2048: their logits (and so every row) are the same bits."""
    torch.manual_seed(0)
    n = 150
    ds = ArrayDataset("toy", torch.randn(n, *shape), torch.randint(0, 10, (n,)), 10, np.arange(n), np.arange(0))
    model = MODELS.get(name)(shape, 10)
    idx = np.arange(n)
    default = predict_logits(model, ds, idx)
    assert torch.equal(default, predict_logits(model, ds, idx, batch_size=7))
    assert torch.equal(default, predict_logits(model, ds, idx, batch_size=4096))


def test_matmul_models_keep_their_batch_and_agree_to_float_precision():
    """An MLP's GEMM blocking depends on the batch, so its logits move in the last bits with it: the rule
    leaves its batch at 2048 (today's), and other batches agree to float precision."""
    torch.manual_seed(0)
    n = 3000
    ds = ArrayDataset("toy", torch.randn(n, 64), torch.randint(0, 10, (n,)), 10, np.arange(n), np.arange(0))
    model = MODELS.get("mlp")((64,), 10)
    idx = np.arange(n)
    default = predict_logits(model, ds, idx)
    assert torch.equal(default, predict_logits(model, ds, idx, batch_size=2048))
    torch.testing.assert_close(default, predict_logits(model, ds, idx, batch_size=7))
