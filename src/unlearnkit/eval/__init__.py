"""Evaluation: metrics by name (accuracy, mia_efficacy, …) and the Avg.Gap to retrain."""

from . import accuracy, mia  # noqa: F401
from . import deviation  # noqa: F401
from . import fairness  # noqa: F401
from . import challenge, mia_nn, ulira  # noqa: F401
from . import proxy  # noqa: F401
from ..predict import predict_logits
from .base import METRICS, Column, Evaluation, Metric, Need, gap_columns, registered_columns
from .gap import avg_gap

__all__ = [
    "METRICS",
    "Column",
    "Evaluation",
    "Metric",
    "Need",
    "avg_gap",
    "gap_columns",
    "predict_logits",
    "registered_columns",
]
