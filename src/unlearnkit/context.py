"""What an unlearning method receives (DESIGN.md "Interfaces")."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .data.split import Split


@dataclass
class Batch:
    """A batch of dataset indices with its model-ready inputs and labels (all on the device)."""

    idx: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor


@dataclass
class UnlearnContext:
    """model: θ_o copy changed in place; original: frozen θ_o; dataset already on ``device``.

    ``retrained`` returns θ_r (cached by the bench); ``new_model`` builds a freshly initialised
    model of the same architecture; ``history`` collects per-step diagnostics (e.g. weights, the
    proxy curve of ``stop="auto"``).
    """

    model: nn.Module
    original: nn.Module
    dataset: Any
    split: Split
    num_classes: int
    device: torch.device
    seed: int
    options: Any
    weighting: Any
    target: Any
    new_model: Callable[[], nn.Module] | None = None
    retrained: Callable[[], nn.Module] | None = None
    train_config: Any = None
    progress: Callable[[dict], None] | None = None
    on_epoch: Callable[[nn.Module, int], dict | None] | None = None
    history: list[dict] = field(default_factory=list)
    stop: str = "none"  # "auto" | "none" (resolved by unlearn(); see unlearnkit.stopping)
    monitor: Any = None  # the stopping.Monitor of a gradient loop (set by GradientMethod.start)

    def batch(self, idx: torch.Tensor) -> Batch:
        idx = idx.to(self.device)
        return Batch(idx, self.dataset.inputs(idx), self.dataset.y[idx])

    def labels(self, idx: np.ndarray) -> np.ndarray:
        return self.dataset.labels[idx]

    def record(self, **values) -> None:
        self.history.append(values)

    def end_epoch(self, epoch: int, epochs: int, **losses) -> None:
        """Report progress; with ``on_epoch`` set, evaluate the model and record the values by epoch."""
        if self.progress:
            self.progress({"epoch": epoch, "epochs": epochs, **losses})
        if self.on_epoch:
            values = self.on_epoch(self.model, epoch)
            if values:
                self.record(epoch=epoch, **values)
