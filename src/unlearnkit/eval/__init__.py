"""Evaluation: metrics by name (accuracy, mia_efficacy, …) and the Avg.Gap to retrain."""
from . import accuracy, mia  # noqa: F401
from . import deviation  # noqa: F401
from . import fairness  # noqa: F401
from . import challenge, mia_nn, ulira  # noqa: F401
from . import proxy  # noqa: F401
from .base import METRICS, Evaluation, Metric
from .gap import GAP_COLUMNS, avg_gap
from .predict import predict_logits

__all__ = ["GAP_COLUMNS", "METRICS", "Evaluation", "Metric", "avg_gap", "predict_logits"]
