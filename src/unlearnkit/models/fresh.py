"""A fresh model of a given model's architecture, for methods that need one (``retrain``, ``bad_teacher``'s
random teacher) when the caller passes no ``new_model`` factory."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import UnlearnkitError


def reinitialised(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every parameter drawn afresh by its module's own ``reset_parameters()`` —
    PyTorch's initialisation for that layer (``nn.Linear``, ``nn.Conv*``, the norm layers, ``nn.Embedding``,
    …; a norm layer also resets its running statistics), from the current torch RNG state. A parameter owned
    by no module with ``reset_parameters()`` cannot be re-drawn: rather than hand back a "fresh" model that
    still holds trained weights, this raises, naming the parameters and the fix (pass ``new_model``)."""
    fresh = copy.deepcopy(model)
    drawn: set[int] = set()
    with torch.no_grad():
        for module in fresh.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
                drawn.update(id(p) for p in module.parameters(recurse=False))
    left = [name for name, p in fresh.named_parameters() if id(p) not in drawn]
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        raise UnlearnkitError(
            f"cannot build a fresh {type(model).__name__} by re-initialising a copy: {shown} belong to no module "
            f"with reset_parameters(); pass new_model=lambda: {type(model).__name__}(...) to unlearn()"
        )
    return fresh
