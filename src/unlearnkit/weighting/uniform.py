"""``uniform``: w_i = 1 for every sample; reproduces the plain method exactly."""

from __future__ import annotations

from .base import WEIGHTINGS, Weighting


@WEIGHTINGS.register("uniform")
class Uniform(Weighting):
    """w_i = 1: the plain method, exactly (the loss is the per-batch mean)."""

    name = "uniform"
    terms = frozenset({"forget", "retain"})

    def weights(self, ctx, batch, logits, step, term):
        return None  # equal weights: the loss is the plain per-batch mean
