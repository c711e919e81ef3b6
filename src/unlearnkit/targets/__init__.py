"""What forget samples are pushed toward (none, random_label, uniform, trw), by name."""

from . import simple  # noqa: F401
from . import trw  # noqa: F401
from .base import TARGETS, TabulatedTarget, Target

__all__ = ["TARGETS", "TabulatedTarget", "Target"]
