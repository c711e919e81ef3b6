"""The in-memory dataset every part of unlearnkit indexes into (splits are index arrays, never copies)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..errors import UnlearnkitError


@dataclass
class ArrayDataset(torch.utils.data.Dataset):
    """Features ``x`` (float32, or uint8 images normalised per batch), labels ``y`` (int64).

    ``pool`` holds the indices available for training (the unseen split is carved from it),
    ``test`` the held-out test indices; both are fixed by the loader (deterministic).
    ``group`` is an optional sensitive attribute (0/1) for fairness work.
    """

    name: str
    x: Tensor
    y: Tensor
    num_classes: int
    pool: np.ndarray
    test: np.ndarray
    group: Tensor | None = None
    mean: float | Tensor = 0.0
    std: float | Tensor = 1.0
    class_names: list[str] | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise UnlearnkitError(f"dataset {self.name!r}: {len(self.x)} inputs but {len(self.y)} labels")
        self.y = self.y.long()
        self.pool = np.asarray(self.pool, dtype=np.int64)
        self.test = np.asarray(self.test, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.inputs(torch.as_tensor([i]))[0], self.y[i]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def inputs(self, idx: Tensor | np.ndarray) -> Tensor:
        """Model-ready inputs for these indices (uint8 images are scaled and normalised here)."""
        idx = torch.as_tensor(idx, device=self.x.device)
        xb = self.x[idx]
        if xb.dtype == torch.uint8:
            xb = (xb.float() / 255.0 - self.mean) / self.std
        return xb

    def to(self, device: torch.device) -> "ArrayDataset":
        """Move the tensors to ``device`` once (batches are then sliced there without copies)."""
        if self.x.device == torch.device(device):
            return self
        moved = ArrayDataset(**{**self.__dict__})
        moved.x, moved.y = self.x.to(device), self.y.to(device)
        if isinstance(self.mean, Tensor):
            moved.mean, moved.std = self.mean.to(device), self.std.to(device)
        if self.group is not None:
            moved.group = self.group.to(device)
        return moved

    def class_counts(self, idx: np.ndarray) -> np.ndarray:
        return np.bincount(self.y.cpu().numpy()[idx], minlength=self.num_classes)

    @property
    def labels(self) -> np.ndarray:
        return self.y.cpu().numpy()


def from_torch_dataset(
    train: torch.utils.data.Dataset,
    test: torch.utils.data.Dataset,
    num_classes: int | None = None,
    name: str = "custom",
    batch_size: int = 1024,
) -> ArrayDataset:
    """Wrap a user's own ``(x, y)`` datasets: materialised once into tensors (fine for the
    classification sets unlearning papers use, up to CIFAR size)."""

    def collect(ds):
        xs, ys = [], []
        for xb, yb in torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False):
            xs.append(torch.as_tensor(xb))
            ys.append(torch.as_tensor(yb))
        if not xs:
            raise UnlearnkitError(f"dataset {name!r} is empty; pass a Dataset with at least one sample")
        return torch.cat(xs), torch.cat(ys).long()

    xtr, ytr = collect(train)
    xte, yte = collect(test)
    x = torch.cat([xtr.float(), xte.float()])
    y = torch.cat([ytr, yte])
    c = int(num_classes or int(y.max()) + 1)
    n = len(ytr)
    return ArrayDataset(name, x, y, c, pool=np.arange(n), test=np.arange(n, len(y)))
