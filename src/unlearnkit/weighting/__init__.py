"""Per-sample loss weightings (uniform, falw, soft), by name."""

from . import uniform  # noqa: F401
from . import falw  # noqa: F401
from . import soft  # noqa: F401
from .base import WEIGHTINGS, Weighting, reduce_weighted

__all__ = ["WEIGHTINGS", "Weighting", "reduce_weighted"]
