"""Batched, gradient-free forward passes over index sets."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

#: Input elements per inference batch on a CPU. Conv nets run far slower on huge CPU batches (the
#: activations of 2048 images no longer fit any cache, and each batch's buffers are fresh pages): the
#: width-16 `cnn` on 28×28 inputs evaluates 3 300 images/s at batch 2048 and 7 400 at 128 on one core
#: (2026-11-26, 2-core EPYC), with bit-identical logits (tests/test_predict.py). An MLP's GEMM
#: blocking depends on the batch, so its logits can move in the last float bit when its batch changes
#: (28×28 inputs: 2048 → 128); inputs of ≤ 64 elements (digits, small tables) keep 2048.
CPU_BATCH_ELEMENTS = 2**17


def inference_batch_size(sample_shape: tuple[int, ...], device: torch.device) -> int:
    """The batch for gradient-free passes: 2048 on accelerators; on a CPU the power of two nearest below
    ``CPU_BATCH_ELEMENTS`` input elements per batch, within 64…2048 (28×28 images: 128; 3×32×32: 64;
    8×8 digits: 2048; 108 tabular features: 1024)."""
    if device.type != "cpu":
        return 2048
    per_batch = CPU_BATCH_ELEMENTS // max(1, math.prod(sample_shape))
    return int(min(2048, max(64, 2 ** int(math.log2(max(1, per_batch))))))


def map_batches(
    model: nn.Module,
    dataset,
    idx: np.ndarray,
    fn: Callable[[torch.Tensor], object],
    batch_size: int | None = None,
    device: torch.device | None = None,
) -> list:
    """``fn(x)`` for each inference batch ``x`` of ``dataset[idx]`` (model-ready inputs on ``device``, default the
    model's), with ``model`` in eval mode (restored afterwards) and no autograd; batches of ``batch_size`` (default
    :func:`inference_batch_size`). The one loop behind every gradient-free pass over an index set."""
    device = device or next(model.parameters()).device
    batch_size = batch_size or inference_batch_size(dataset.input_shape, torch.device(device))
    data = dataset.to(device)
    idx_t = torch.as_tensor(np.asarray(idx), dtype=torch.long)
    batches = (data.inputs(idx_t[s : s + batch_size].to(device)) for s in range(0, len(idx_t), batch_size))
    return _in_eval(model, batches, fn)


def map_inputs(
    model: nn.Module, x: torch.Tensor, fn: Callable[[torch.Tensor], object], batch_size: int | None = None
) -> list:
    """:func:`map_batches` over inputs already model-ready (``x``, on the model's device): the same batches as
    over the indices ``x`` was read from, so the same outputs bit for bit."""
    batch_size = batch_size or inference_batch_size(tuple(x.shape[1:]), x.device)
    return _in_eval(model, (x[s : s + batch_size] for s in range(0, len(x), batch_size)), fn)


@torch.no_grad()
def _in_eval(model: nn.Module, batches, fn: Callable[[torch.Tensor], object]) -> list:
    was_training = model.training
    model.eval()
    try:
        return [fn(x) for x in batches]
    finally:
        model.train(was_training)


def predict_logits(
    model: nn.Module, dataset, idx: np.ndarray, batch_size: int | None = None, device: torch.device | None = None
) -> torch.Tensor:
    """Logits of ``model`` (eval mode, restored afterwards) on ``dataset[idx]``, on the CPU; batches of
    ``batch_size`` (default :func:`inference_batch_size`)."""
    return _cat_logits(map_batches(model, dataset, idx, lambda x: model(x).float().cpu(), batch_size, device))


def predict_inputs(model: nn.Module, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """:func:`predict_logits` on inputs already model-ready (``x``, on the model's device)."""
    return _cat_logits(map_inputs(model, x, lambda b: model(b).float().cpu(), batch_size))


def _cat_logits(out: list) -> torch.Tensor:
    return torch.cat(out) if out else torch.empty(0, 0)
