"""A mid-scale preset cut to what fits a CPU run, and its rows (shared by the reproduction scripts'
``--scale fashion`` paths).

A preset's ``<method>_auto`` entries (label ending in ``_auto``) are its ``stop: auto`` rows ("auto"); the
others are its fixed schedules ("fixed"); ``retrain`` always stays.
"""

from __future__ import annotations

import pandas as pd

from unlearnkit.bench.config import BenchConfig


def reduced(cfg: BenchConfig, seeds, scenarios, methods, regimes) -> BenchConfig:
    """``cfg`` cut to these seeds, scenario labels (None or empty: all), base method names and regimes
    ("fixed" and/or "auto")."""

    def wanted(m) -> bool:
        auto = (m.label or "").endswith("_auto")
        return m.name == "retrain" or (m.name in methods and ("auto" if auto else "fixed") in regimes)

    raw = cfg.model_dump(mode="json")
    raw["seeds"] = list(seeds)
    raw["scenarios"] = [sc for sc, e in zip(raw["scenarios"], cfg.scenarios) if not scenarios or e.key in scenarios]
    raw["methods"] = [m for m, e in zip(raw["methods"], cfg.methods) if wanted(e)]
    names = {e.name for e in cfg.methods if wanted(e)}
    raw["method_options"] = {k: v for k, v in raw["method_options"].items() if k in names}
    return BenchConfig.model_validate(raw)


def rows_of(df: pd.DataFrame, cfg: BenchConfig) -> pd.DataFrame:
    """The rows of a run directory's results that belong to the (reduced) grid ``cfg``: a run directory can
    hold rows of a larger or earlier cut."""
    methods = {m.key for m in cfg.methods} | {"original"}
    keep = df["scenario"].isin([sc.key for sc in cfg.scenarios]) & df["method"].isin(methods)
    return df[keep & df["seed"].isin(cfg.seeds)]
