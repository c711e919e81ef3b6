"""Avg.Gap: mean over {FA, RA, TA, MIA} of |metric(θ_u) − metric(θ_r)| (lower is better)."""
from __future__ import annotations

import math

GAP_COLUMNS = ("FA", "RA", "TA", "MIA")


def avg_gap(unlearned: dict, retrained: dict, columns=GAP_COLUMNS) -> float:
    """Mean absolute difference over the columns both rows have (nan if none)."""
    diffs = [abs(unlearned[c] - retrained[c]) for c in columns
             if c in unlearned and c in retrained and not (math.isnan(unlearned[c]) or math.isnan(retrained[c]))]
    return sum(diffs) / len(diffs) if diffs else float("nan")
