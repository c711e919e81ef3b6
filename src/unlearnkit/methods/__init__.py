"""Unlearning methods by name. Adding one is a new file here plus its import below."""

from . import ft, ga, neggrad_plus, original, retrain, rl  # noqa: F401
from . import bad_teacher, fisher, l1_sparse, salun, scrub, ssd  # noqa: F401
from . import influence_step  # noqa: F401
from .base import METHODS, GradientMethod, GradientOptions, Method, MethodOptions, soft_cross_entropy

__all__ = ["METHODS", "GradientMethod", "GradientOptions", "Method", "MethodOptions", "soft_cross_entropy"]
