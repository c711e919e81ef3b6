"""A training-mode batch of ONE sample has no batch statistics.

PyTorch's batch normalisation in training mode normalises with the batch's own mean and variance; for a
batch of one sample (``BatchNorm1d``, or a 1×1 feature map) it raises "Expected more than 1 value per
channel when training", and where it does not raise (a larger feature map) the statistics are one image's.
Such batches are ordinary in unlearning: a deletion request for one sample, or a set whose size leaves one
sample in the last batch (e.g. 129 samples at batch size 64). For such a batch the shared loops normalise
with the running statistics instead — what the layer does in eval mode, and what it will do at test time —
and leave those statistics as they are. Batches of two or more are untouched (the check is one comparison).

The unlearning loops use the same context for every forward pass over the forget set
(:attr:`~unlearnkit.methods.base.GradientOptions.forget_batch_norm`): a batch drawn from D_f alone (one class,
under class forgetting) would otherwise normalise with its own statistics and move the running statistics
towards it — the statistics every retained and held-out input is then normalised with at test time.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@contextlib.contextmanager
def running_statistics(model: nn.Module, active: bool = True) -> Iterator[None]:
    """Inside, where ``active`` and ``model`` is training, every batch-norm layer of ``model`` that is training
    runs in eval mode (normalises with its running statistics and leaves them as they are); their mode is
    restored on exit. Nothing else changes (dropout stays in training mode)."""
    if not active or not model.training:
        yield
        return
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.training]
    for m in layers:
        m.train(False)
    try:
        yield
    finally:
        for m in layers:
            m.train(True)


def running_statistics_for_one(model: nn.Module, batch_size: int) -> contextlib.AbstractContextManager[None]:
    """:func:`running_statistics` for a batch of one sample (it has no batch statistics); larger batches are
    untouched."""
    return running_statistics(model, batch_size == 1)
