"""``retrain``: the gold standard θ_r — train from scratch on D_r (cached by the bench)."""

from __future__ import annotations

from ..passes import training_passes
from .base import METHODS, Method


@METHODS.register("retrain")
class Retrain(Method):
    """Exact unlearning by retraining on the retain set with the original training config.
    Its cost (``unlearn_s``) is the retraining time, cached or not."""

    name = "retrain"
    uses_retain = True
    trains_on_batches = True

    def unlearn(self, ctx):
        model, seconds = ctx.retrained()
        ctx.model.load_state_dict(model.state_dict())
        ctx.cost_seconds = seconds  # the declared cost: its (possibly cached) retraining time
        ctx.cost_passes = training_passes(ctx.train_config.epochs, len(ctx.split.retain)) if ctx.train_config else None
        return ctx.model
