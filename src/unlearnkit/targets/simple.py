"""Built-in targets: ``none`` (the method's own default), ``random_label``, ``uniform``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import TARGETS, TabulatedTarget, Target, other_class_labels


@TARGETS.register("none")
class NoTarget(Target):
    """No target: a method uses its own objective (or its ``default_target``)."""

    name = "none"


@TARGETS.register("random_label")
class RandomLabel(TabulatedTarget):
    """One label per forget sample, drawn once, uniformly from the other classes (RL; Golatkar et al. 2020,
    as used by SalUn/FaLW)."""

    name = "random_label"

    def prepare(self, ctx):
        rng = np.random.default_rng(ctx.seed + 7919)
        labels = other_class_labels(ctx.labels(ctx.split.forget), ctx.num_classes, rng)
        self.set_table(ctx, F.one_hot(torch.as_tensor(labels), ctx.num_classes).float())


@TARGETS.register("uniform")
class UniformOthers(TabulatedTarget):
    """Uniform probability over the classes other than the sample's own."""

    name = "uniform"

    def prepare(self, ctx):
        y = torch.as_tensor(ctx.labels(ctx.split.forget))
        q = torch.ones(len(y), ctx.num_classes)
        q[torch.arange(len(y)), y] = 0
        self.set_table(ctx, q / q.sum(1, keepdim=True))
