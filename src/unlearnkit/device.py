"""Device choice: ``auto`` picks CUDA, then MPS, then CPU; :func:`host_syncs` finds where the host waits."""

from __future__ import annotations

import collections
import warnings
from typing import Callable

import torch

from .errors import UnlearnkitError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    base = name.split(":")[0]
    if base not in DEVICES:
        raise UnlearnkitError(f"unknown device {name!r}; use one of {', '.join(DEVICES)}")
    if base == "cuda" and not torch.cuda.is_available():
        raise UnlearnkitError("device 'cuda' asked for but no CUDA GPU is visible; use --device auto or cpu")
    if base == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise UnlearnkitError("device 'mps' asked for but this PyTorch has no usable MPS (Apple GPU); use auto or cpu")
    return torch.device(name)


def host_syncs(fn: Callable[[], object]) -> collections.Counter:
    """Run ``fn`` once under CUDA's sync debug mode: the calls that made the host wait for the GPU, counted by
    the Python source line ``(filename, lineno)`` that issued them. Used by the sync contract test and
    ``benchmarks/gpu_throughput.py --marginal``."""
    if not torch.cuda.is_available():
        raise UnlearnkitError("host_syncs needs a CUDA device (CUDA's sync debug mode)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return collections.Counter((w.filename, w.lineno) for w in caught if "synchroniz" in str(w.message))
