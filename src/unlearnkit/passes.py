"""Deterministic cost: per-sample forward and backward passes, counted where they happen.

Wall time depends on machine load; the number of samples pushed through a model does not. A
:class:`PassCounter` attaches forward hooks to the models a method touches (the model being unlearned
and the frozen θ_o, e.g. SCRUB's teacher) and counts, per call, the batch size: a forward that builds a
graph is followed by a backward over the same samples (counted as both), a forward without a graph
is counted as a forward only. Inside ``counter.evaluating()`` passes are counted apart (evaluation,
e.g. the proxy of ``stop: auto``), so ``unlearn_passes`` compares with retraining like for like.

Training θ_r costs ``2 · epochs · |D_r|`` passes (:func:`training_passes`): every sample once forward
and once backward per epoch.

Two kinds of pass do not show as a batch at the model's hook, and are counted here too: per-sample gradients
(``torch.func.vmap(grad(...))``, SSD's and Fisher's importances), where the hook sees one logical sample per
vmap chunk — it counts the chunk's physical batch (:func:`physical_batch`); and a pass through
``model.features`` (the influence step's and the proxy's label check's features), which never enters
``model.forward`` — its caller reports it with :func:`record`.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Iterator

import torch
from torch import nn

try:  # functorch's wrapper introspection (torch ≥ 2.0); without it a vmap chunk counts as its logical batch
    from torch._C import _functorch as _ft
except ImportError:  # pragma: no cover
    _ft = None

# the counters watching each model while they are active, for passes reported with :func:`record`
_ACTIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def physical_batch(x: torch.Tensor) -> int:
    """The number of samples a hook's input stands for: its leading dimension times the sizes of the vmap
    dimensions it carries (per-sample gradients run the model once per vmap chunk on a batch of one)."""
    n = int(x.shape[0]) if x.dim() else 1
    t = x
    while _ft is not None and _ft.is_functorch_wrapped_tensor(t):
        if _ft.is_batchedtensor(t):
            n *= int(_ft.get_unwrapped(t).shape[_ft.maybe_get_bdim(t)])
        t = _ft.get_unwrapped(t)
    return n


def record(model: nn.Module, n: int, backward: bool = False) -> None:
    """Count ``n`` per-sample passes through ``model`` that its forward hook does not see (a call of
    ``model.features``), in every active counter watching it (none: nothing to do)."""
    for counter in _ACTIVE.get(model, ()):
        counter.add(int(n), backward)


class PassCounter:
    """Counts per-sample passes through ``models`` while active (a context manager)."""

    def __init__(self, *models: nn.Module):
        self.models = [m for m in models if m is not None]
        self.forward = 0
        self.backward = 0
        self.eval_forward = 0
        self._evaluating = 0
        self._handles: list = []
        self._watched: list[weakref.ref] = []

    def _hook(self, module, inputs, output) -> None:
        n = physical_batch(inputs[0]) if inputs and isinstance(inputs[0], torch.Tensor) else 1
        grad = torch.is_grad_enabled() and isinstance(output, torch.Tensor) and output.requires_grad
        self.add(n, grad)

    def add(self, n: int, backward: bool = False) -> None:
        """``n`` forward passes (and as many backward ones where ``backward``), or evaluation passes inside
        :meth:`evaluating`."""
        if self._evaluating:
            self.eval_forward += n
            return
        self.forward += n
        if backward:
            self.backward += n

    def __enter__(self) -> PassCounter:
        self._handles = []
        for m in self.models:
            self._attach(m)
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        for ref in self._watched:
            m = ref()
            counters = _ACTIVE.get(m, []) if m is not None else []
            if self in counters:
                counters.remove(self)
            if m is not None and not counters:
                _ACTIVE.pop(m, None)
        self._watched = []

    def _attach(self, model: nn.Module) -> None:
        self._handles.append(model.register_forward_hook(self._hook))
        _ACTIVE.setdefault(model, []).append(self)
        self._watched.append(weakref.ref(model))  # weakly: a finished trial's model copy is freed with its run

    def watch(self, model: nn.Module) -> None:
        """Also count passes through ``model`` (e.g. a trial copy of θ_o) until the counter closes."""
        if self._handles:
            self._attach(model)

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
