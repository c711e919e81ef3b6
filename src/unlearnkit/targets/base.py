"""A target gives the distribution each forget sample is pushed toward (docs/architecture.md "Contracts")."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from ..data.split import whole_classes
from ..registry import Registry

TARGETS: Registry = Registry("target")


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target:
    """``prepare(ctx)`` once (e.g. a distribution per forget sample, cached);
    ``distribution(ctx, batch)`` → Tensor[B, C] of probabilities (rows sum to 1)."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    requires_class_scenario: ClassVar[bool] = False  # needs D_f = whole classes (checked before any training)

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    def prepare(self, ctx) -> None:
        pass

    @classmethod
    def unmet(cls, dataset, split) -> str | None:
        """What this target declares it needs (``requires_class_scenario``) and ``split`` lacks, as one
        message with the fix; None when met. The one wording for ``unlearn()``'s check before any work and the
        bench's grid check."""
        if cls.requires_class_scenario and whole_classes(split, dataset.labels) is None:
            return (
                f"target {cls.name!r} needs a class scenario (D_f = every training sample of some classes, at "
                f"least one class kept), and this split's D_f is not one; make the split with the 'class' scenario "
                f"(make_split(dataset, 'class', classes=[3]); in a grid {{kind: class, classes: [3]}}), or use "
                f"target 'none'"
            )
        return None

    def distribution(self, ctx, batch) -> torch.Tensor:
        raise NotImplementedError


class TabulatedTarget(Target):
    """A target computed once per forget sample and looked up by dataset index."""

    table: torch.Tensor  # [len(forget), C]
    position: torch.Tensor  # dataset index → row in table (−1 elsewhere), on the device
    host_position: torch.Tensor  # the same on the host: the membership check costs no device sync

    def set_table(self, ctx, table: torch.Tensor) -> None:
        pos = torch.full((len(ctx.dataset),), -1, dtype=torch.long)
        pos[torch.as_tensor(ctx.split.forget)] = torch.arange(len(ctx.split.forget))
        self.host_position = pos
        self.position = pos.to(ctx.device)
        self.table = table.to(ctx.device)

    def distribution(self, ctx, batch) -> torch.Tensor:
        if (self.host_position[batch.host_idx] < 0).any():  # on the host: a check on device rows would sync
            raise RuntimeError(f"target {self.name!r} asked for a sample outside the forget set")
        return self.table[self.position[batch.idx]]


def other_class_labels(labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A label drawn uniformly from the classes other than each sample's own."""
    shift = rng.integers(1, num_classes, size=len(labels))
    return (labels + shift) % num_classes
