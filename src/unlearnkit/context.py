"""What an unlearning method receives (DESIGN.md "Interfaces")."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from pydantic import BaseModel
from torch import nn

from .amp import to_format
from .data.dataset import ArrayDataset
from .data.split import Split
from .passes import PassCounter

if TYPE_CHECKING:
    from .amp import Precision
    from .baseline import Baseline
    from .eval.proxy import ProxyReference
    from .stopping import Monitor
    from .targets.base import Target
    from .training import TrainConfig
    from .weighting.base import Weighting


@dataclass
class Batch:
    """A batch of dataset indices with its model-ready inputs and labels (all on the device), and the
    indices as drawn on the host (``host_idx``: checks on them cost no device sync)."""

    idx: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    host_idx: torch.Tensor


@dataclass
class UnlearnContext:
    """model: θ_o copy changed in place; original: frozen θ_o; dataset already on ``device``.

    ``split`` is the split the method drives with: the request's own, or the one the weighting's
    declared ``driving_split`` returns after ``prepare`` (``soft``). ``retrained`` returns (θ_r, its
    training seconds); a method whose cost is that retraining (``retrain``) sets ``cost_seconds`` and
    ``cost_passes``. ``passes`` counts per-sample passes (evaluation inside ``passes.evaluating()``).
    ``new_model`` builds a freshly initialised model of the same architecture; ``history``
    collects per-step diagnostics (e.g. weights, the proxy curve of ``stop="auto"``).
    """

    model: nn.Module
    original: nn.Module
    dataset: ArrayDataset
    split: Split
    num_classes: int
    device: torch.device
    seed: int
    options: BaseModel
    weighting: Weighting
    target: Target
    new_model: Callable[[], nn.Module] | None = None
    retrained: Callable[[], tuple[nn.Module, float]] | None = None
    train_config: TrainConfig | None = None
    progress: Callable[[dict], None] | None = None
    on_epoch: Callable[[nn.Module, int], dict | None] | None = None
    history: list[dict] = field(default_factory=list)
    cost_seconds: float | None = None
    cost_passes: int | None = None
    passes: PassCounter | None = None
    precision: Precision | None = None  # the gradient loop's autocast / grad scaling (set by GradientMethod.start)
    nhwc: bool = False  # the model runs channels_last (a conv model on CUDA; set by GradientMethod.start)
    batch_norms: list[nn.Module] = field(default_factory=list)  # the model's batch-norm layers (GradientMethod.start)
    stop: str = "none"  # "auto" | "none" (resolved by unlearn(); see unlearnkit.stopping)
    monitor: Monitor | None = None  # the stopping.Monitor of a gradient loop (set by GradientMethod.start)
    proxy_reference: ProxyReference | None = None  # stop="auto": the proxy's θ_o reference (built once)
    baseline: Baseline | None = None  # stop="auto", a chain of requests: the first model's answers (damage reference)
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None  # θ_o's data augmentation, on every training batch

    def batch(self, idx: torch.Tensor) -> Batch:
        host = idx if idx.device.type == "cpu" else idx.cpu()  # the loops draw on the host; others pay one copy
        idx = idx.to(self.device, non_blocking=True)  # a blocking copy would wait for the GPU every batch
        x = to_format(self.dataset.inputs(idx), self.nhwc)
        return Batch(idx, x if self.augment is None else self.augment(x), self.dataset.y[idx], host)

    def labels(self, idx: np.ndarray) -> np.ndarray:
        return self.dataset.labels[idx]

    def record(self, **values) -> None:
        """Append one history entry. Values may be device tensors, so that a per-step diagnostic costs no
        host sync; ``unlearn()`` turns them into Python numbers at the end (:func:`materialise`)."""
        self.history.append(values)

    def end_epoch(self, epoch: int, epochs: int, **losses) -> None:
        """Report progress; with ``on_epoch`` set, evaluate the model and record the values by epoch."""
        if self.progress:
            self.progress({"epoch": epoch, "epochs": epochs, **losses})
        if self.on_epoch:
            with self.passes.evaluating() if self.passes is not None else contextlib.nullcontext():
                values = self.on_epoch(self.model, epoch)
            if values:
                self.record(epoch=epoch, **values)


def materialise(history: list[dict]) -> list[dict]:
    """Replace the tensors recorded in ``history`` (in place) by Python numbers (0-d) or lists (1-d; higher
    ranks: nested lists), copying them to the host once per device instead of once per record."""
    found: dict[torch.device, list[tuple[dict, str, torch.Tensor]]] = {}
    for entry in history:
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                found.setdefault(value.device, []).append((entry, key, value.detach()))
    for refs in found.values():
        flat = torch.cat([v.reshape(-1).double() for _, _, v in refs]).cpu()  # the one copy (and sync)
        for (entry, key, v), piece in zip(refs, flat.split([v.numel() for _, _, v in refs])):
            entry[key] = piece.reshape(v.shape).tolist()  # a host tensor: 0-d gives a number
    return history
