"""The proxy-validation benchmark's report on hand-made rows (benchmarks/proxy_validation.py)."""

from __future__ import annotations

import pandas as pd
from helpers import load_benchmark
import pytest


def load():
    return load_benchmark("proxy_validation")


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")
def test_retrained_rows_are_the_floor_not_candidates():
    """θ_r's rows (Avg.Gap 0) are reported as the proxy's floor and kept out of the correlations: with
    them the ranking would be perfect by construction of a 0 at the bottom."""
    pv = load()
    rows = []
    for seed, shift in ((0, 0.0), (1, 1.0)):
        for method, gap, proxy in (
            ("original", 3.0, 2.0),
            ("a", 2.0, 3.0),
            ("b", 1.0, 1.0),
            ("retrain", 0.0, 0.5 + shift),
        ):
            rows.append(
                dict(
                    dataset="d",
                    scenario="random10",
                    seed=seed,
                    method=method,
                    avg_gap=gap,
                    proxy_gap=proxy,
                    proxy_dist=proxy / 2,
                    proxy_fa=0.0,
                    proxy_mia=0.0,
                    proxy_damage=0.0,
                    avg_gap_floor=0.1,
                )
            )
    out = pv.report(pd.DataFrame(rows))
    assert "| all | 6 | 0.500 |" in out  # 6 candidates: original, a, b × 2 seeds; Spearman 0.5 without θ_r
    assert "d random10: 1.00 [0.50, 1.50]; dist 0.50" in out
    assert "retrain (" not in out  # never a cell's pick or best
