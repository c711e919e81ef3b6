"""Mean ± std over seeds per (dataset, scenario, method, weighting, target)."""
from __future__ import annotations

import pandas as pd

from .columns import IDENTITY, headline

GROUP = [c for c in IDENTITY if c != "seed"]


def summarize(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """One row per group with ``<col>_mean``, ``<col>_std`` and ``n`` (seeds); group order kept.
    ``columns`` defaults to the headline columns (gap columns, Avg.Gap, unlearn time, RTE)."""
    columns = [c for c in (columns or headline()) if c in df and pd.api.types.is_numeric_dtype(df[c])]
    if df.empty:
        return pd.DataFrame(columns=GROUP)
    g = df.groupby(GROUP, sort=False, dropna=False)
    out = g[columns].agg(["mean", "std"])
    out.columns = [f"{c}_{s}" for c, s in out.columns]
    out["n"] = g.size()
    return out.reset_index()


def fmt(mean: float, std: float, digits: int = 2) -> str:
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" if pd.isna(std) else f"{mean:.{digits}f}±{std:.{digits}f}"
