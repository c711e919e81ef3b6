"""Avg.Gap: mean over the gap columns (those declared ``in_gap``: FA, RA, TA, MIA with the built-in
metrics) of |metric(θ_u) − metric(θ_r)| (lower is better)."""

from __future__ import annotations

import math
from typing import Iterable

from .base import gap_columns


def avg_gap(unlearned: dict, retrained: dict, columns: Iterable[str] | None = None) -> float:
    """Mean absolute difference over the gap columns both rows have (nan if none). ``columns``
    defaults to every registered metric's ``in_gap`` columns."""
    cols = gap_columns() if columns is None else tuple(columns)
    diffs = [
        abs(unlearned[c] - retrained[c])
        for c in cols
        if c in unlearned and c in retrained and not (math.isnan(unlearned[c]) or math.isnan(retrained[c]))
    ]
    return sum(diffs) / len(diffs) if diffs else float("nan")
