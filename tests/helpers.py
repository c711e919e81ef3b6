"""Small test doubles shared by test modules."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import torch

from unlearnkit.sources import FixedSource as ListSource  # models already trained: retrained(k) = the first k

__all__ = ["ListSource", "Smoothed", "load_benchmark", "write_cifar"]

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str):
    """The module ``benchmarks/<name>.py`` (the scripts are not a package), to test its pure parts."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_cifar(root: Path, kind: str, per_batch: int = 4) -> None:
    """CIFAR-10 / -100 python batches in the official layout, random images. CIFAR-10: ``per_batch`` images in
    each of the 5 training batches and the test batch, labels cycling 0…9 (``per_batch=4``: 0, 1, 2, 9);
    CIFAR-100: 6 training and 3 test images with fine labels 0, 1, …"""
    rng = np.random.default_rng(1)
    if kind == "cifar10":
        d = root / "cifar-10-batches-py"
        d.mkdir()
        labels = [0, 1, 2, 9] if per_batch == 4 else [i % 10 for i in range(per_batch)]
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(d / name, "wb") as f:
                pickle.dump({b"data": rng.integers(0, 255, (per_batch, 3072), dtype=np.uint8), b"labels": labels}, f)
        with open(d / "batches.meta", "wb") as f:
            pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f)
    else:
        d = root / "cifar-100-python"
        d.mkdir()
        for name, n in [("train", 6), ("test", 3)]:
            with open(d / name, "wb") as f:
                pickle.dump(
                    {
                        b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
                        b"fine_labels": list(range(n)),
                        b"coarse_labels": [0] * n,
                    },
                    f,
                )


class Smoothed(torch.nn.Module):
    """A model's probabilities compressed as label smoothing's optimum: softmax of the logits = (1 − ε)·p + ε/K."""

    def __init__(self, model: torch.nn.Module, eps: float):
        super().__init__()
        self.model, self.eps = model, eps

    def forward(self, x):
        p = torch.softmax(self.model(x), 1)
        return torch.log((1 - self.eps) * p + self.eps / p.shape[1])
