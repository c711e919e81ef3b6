"""Mean, std and a 95 % confidence interval over seeds per (dataset, scenario, method, weighting, target)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .columns import IDENTITY, headline

GROUP = [c for c in IDENTITY if c != "seed"]


def summarize(df: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """One row per group with ``<col>_mean``, ``<col>_std``, ``<col>_ci`` (half-width of the 95 %
    t-interval of the mean over the seeds that have the column: t₀.₉₇₅,ₙ₋₁ · std / √n; NaN for n < 2) and
    ``n`` (seeds); group order kept. ``columns`` defaults to the headline columns."""
    columns = [c for c in (columns or headline()) if c in df and pd.api.types.is_numeric_dtype(df[c])]
    if df.empty:
        return pd.DataFrame(columns=GROUP)
    g = df.groupby(GROUP, sort=False, dropna=False)
    out = g[columns].agg(["mean", "std", "count"])
    for c in columns:
        n = out[(c, "count")].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * out[(c, "std")].to_numpy(dtype=float) / np.sqrt(n)
        out[(c, "ci")] = np.where(n >= 2, half, np.nan)
    out = out.drop(columns=[(c, "count") for c in columns])
    out.columns = [f"{c}_{s}" for c, s in out.columns]
    out["n"] = g.size()
    return out.reset_index()


def ci_half_width(values) -> float:
    """Half-width of the 95 % t-interval of the mean of ``values`` (NaN for fewer than 2)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        return float("nan")
    return float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def fmt(mean: float, spread: float, digits: int = 2) -> str:
    """``mean±spread`` (or just the mean when the spread is NaN; "–" for a missing mean)."""
    if pd.isna(mean):
        return "–"
    return f"{mean:.{digits}f}" if pd.isna(spread) else f"{mean:.{digits}f}±{spread:.{digits}f}"


def paired_difference(a, b) -> dict:
    """Paired comparison of two methods over the same seeds: d_s = a_s − b_s.

    Returns ``mean`` (of d), ``ci`` (95 % t half-width), ``n`` and ``within_noise`` (the interval
    contains 0: the seeds cannot tell the two apart). Seeds missing on either side are dropped.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired comparison needs the same seeds on both sides: {a.shape} vs {b.shape}")
    d = (a - b)[~(np.isnan(a) | np.isnan(b))]
    mean = float(d.mean()) if len(d) else float("nan")
    ci = ci_half_width(d)
    return {"mean": mean, "ci": ci, "n": int(len(d)), "within_noise": bool(np.isnan(ci) or abs(mean) <= ci)}
