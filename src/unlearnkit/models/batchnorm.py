"""Batch norm in the training loops: a batch of ONE sample has no batch statistics, and a forget batch must
not become the statistics every other input is normalised with.

PyTorch's batch normalisation in training mode normalises with the batch's own mean and variance; for a
batch of one sample (``BatchNorm1d``, or a 1×1 feature map) it raises "Expected more than 1 value per
channel when training", and where it does not raise (a larger feature map) the statistics are one image's.
Such batches are ordinary in unlearning: a deletion request for one sample, or a set whose size leaves one
sample in the last batch (e.g. 129 samples at batch size 64). For such a batch the shared loops normalise
with the running statistics instead — what the layer does in eval mode, and what it will do at test time —
and leave those statistics as they are. Batches of two or more are untouched (the check is one comparison).

The unlearning loops also choose how a forward pass over the forget set treats batch norm
(:func:`batch_norm_mode`; the method option ``forget_batch_norm``). PyTorch's training mode would move the
running statistics toward each D_f batch — one class, under class forgetting — and every retained and held-out
input is normalised with them at test time: on an H200, ga on Fashion-MNIST ResNet-18 lost 7.6 retain-accuracy
points in its first 11 steps at lr 3e-6, 1e-5 and 3e-5 alike, the statistics and not the weights. By default
(``"batch"``) those passes normalise with the batch's statistics (the reference implementations' gradients) and
leave the running statistics as they are.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Literal, Sequence

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


#: how a training-mode forward treats batch norm: "train" as PyTorch does (batch statistics, running statistics
#: updated), "batch" (batch statistics, running statistics left as they are), "running" (eval mode: running
#: statistics, left as they are)
BatchNormMode = Literal["train", "batch", "running"]


def batch_norm_layers(model: nn.Module) -> list[_BatchNorm]:
    """The batch-norm layers of ``model`` (any of PyTorch's, ``SyncBatchNorm`` included). The unlearning loop
    finds them once per run (``ctx.batch_norms``), not once per step."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


@contextlib.contextmanager
def batch_norm_mode(layers: Sequence[_BatchNorm], mode: BatchNormMode) -> Iterator[None]:
    """Inside, every layer of ``layers`` that is training (and tracks running statistics) behaves as ``mode``
    says; restored on exit, and only what was changed. Nothing else changes (dropout stays in training mode)."""
    if mode == "train":
        yield
        return
    changed = [m for m in layers if m.training and m.track_running_stats]
    for m in changed:
        if mode == "running":
            m.train(False)
        else:  # PyTorch then normalises with the batch's statistics and passes no running buffers to update
            m.track_running_stats = False
    try:
        yield
    finally:
        for m in changed:
            if mode == "running":
                m.train(True)
            else:
                m.track_running_stats = True


def running_statistics_for_one(model: nn.Module, batch_size: int) -> contextlib.AbstractContextManager[None]:
    """Running statistics (eval mode, not updated) for a batch of one sample — it has no batch statistics;
    larger batches are untouched (no search for the layers)."""
    if batch_size != 1:
        return contextlib.nullcontext()
    return batch_norm_mode(batch_norm_layers(model), "running")
