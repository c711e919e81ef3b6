"""Deterministic cost: per-sample forward and backward passes, counted where they happen.

Wall time depends on machine load; the number of samples pushed through a model does not. A
:class:`PassCounter` attaches forward hooks to the models a method touches (the model being unlearned
and the frozen θ_o, e.g. SCRUB's teacher) and counts, per call, the batch size: a forward that builds a
graph is followed by a backward over the same samples (counted as both), a forward without a graph
is counted as a forward only. Inside ``counter.evaluating()`` passes are counted apart (evaluation,
e.g. the proxy of ``stop: auto``), so ``unlearn_passes`` compares with retraining like for like.

Training θ_r costs ``2 · epochs · |D_r|`` passes (:func:`training_passes`): every sample once forward
and once backward per epoch.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


class PassCounter:
    """Counts per-sample passes through ``models`` while active (a context manager)."""

    def __init__(self, *models: nn.Module):
        self.models = [m for m in models if m is not None]
        self.forward = 0
        self.backward = 0
        self.eval_forward = 0
        self._evaluating = 0
        self._handles: list = []

    def _hook(self, module, inputs, output) -> None:
        n = int(inputs[0].shape[0]) if inputs and hasattr(inputs[0], "shape") and inputs[0].dim() else 1
        if self._evaluating:
            self.eval_forward += n
            return
        self.forward += n
        if torch.is_grad_enabled() and isinstance(output, torch.Tensor) and output.requires_grad:
            self.backward += n

    def __enter__(self) -> PassCounter:
        self._handles = [m.register_forward_hook(self._hook) for m in self.models]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def watch(self, model: nn.Module) -> None:
        """Also count passes through ``model`` (e.g. a trial copy of θ_o) until the counter closes."""
        if self._handles:
            self._handles.append(model.register_forward_hook(self._hook))

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Count the passes inside as evaluation (not part of the method's cost)."""
        self._evaluating += 1
        try:
            yield
        finally:
            self._evaluating -= 1

    @property
    def total(self) -> int:
        """Forward + backward sample passes of the method itself (evaluation excluded)."""
        return self.forward + self.backward

    def as_dict(self) -> dict[str, int]:
        return {
            "forward": self.forward,
            "backward": self.backward,
            "eval_forward": self.eval_forward,
            "total": self.total,
        }


def training_passes(epochs: int, n_samples: int) -> int:
    """Per-sample passes of supervised training: every sample forward and backward once per epoch."""
    return 2 * int(epochs) * int(n_samples)


def evaluating(counter: PassCounter | None):
    """``counter.evaluating()``, or a no-op context without a counter."""
    return counter.evaluating() if counter is not None else contextlib.nullcontext()
