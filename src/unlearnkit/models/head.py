"""Where a classifier's last linear layer is: what last-layer influence (``if``, soft weights) and the proxy's
label check (penultimate-feature neighbours) read."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def penultimate(model: nn.Module) -> tuple[Callable[[torch.Tensor], torch.Tensor], nn.Linear] | None:
    """(feature function, linear head) with ``model(x) == head(features(x))``, or None where the model does not
    say: the built-in models' ``features(x)`` and ``head``, or an ``nn.Sequential`` whose last module is an
    ``nn.Linear`` (features: the modules before it — what a user's own MLP or CNN written as a Sequential is)."""
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear) and callable(getattr(model, "features", None)):
        return model.features, head
    if isinstance(model, nn.Sequential) and len(model) >= 2 and isinstance(model[-1], nn.Linear):
        return model[:-1], model[-1]
    return None
