"""Device choice: ``auto`` picks CUDA, then MPS, then CPU."""

from __future__ import annotations

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
    return torch.device(name)
