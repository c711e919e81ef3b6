"""``original``: θ_o untouched — the baseline every method's defaults must beat on Avg.Gap."""

from __future__ import annotations

from .base import METHODS, Method


@METHODS.register("original")
class Original(Method):
    """θ_o untouched: the baseline row (Avg.Gap of doing nothing)."""

    name = "original"
    moves_model = False

    def unlearn(self, ctx):
        return ctx.model
