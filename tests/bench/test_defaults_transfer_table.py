"""The defaults-transfer benchmark's per-method table on hand-made rows (benchmarks/defaults_transfer.py)."""

from __future__ import annotations

import pandas as pd
from helpers import load_benchmark


def load():
    return load_benchmark("defaults_transfer")


def test_cells_not_won_split_into_tied_within_floor_and_beyond():
    """θ_o's Avg.Gap 2.0 in four cells (floor 0.5): the method is better, equal, 0.3 worse and 1.0 worse."""
    dt = load()
    base = dict(dataset="d", scenario="s", RA=99.0, moved=True, param_change=1.0, avg_gap_floor=0.5)
    rows = []
    for seed, gap in enumerate([1.0, 2.0, 2.3, 3.0]):
        rows.append({**base, "seed": seed, "method": "original", "avg_gap": 2.0, "moved": False})
        rows.append({**base, "seed": seed, "method": "m", "avg_gap": gap})
    df = pd.DataFrame(rows).assign(unlearn_passes=1.0, eval_passes=1.0, unlearn_s=1.0)
    t = dt.method_table(df).loc["m"]
    assert (t.cells, t.won, t.tied, t.worse_in_floor, t.worse_beyond_floor) == (4, 1, 1, 1, 1)
    assert t.won + t.tied + t.worse_in_floor + t.worse_beyond_floor == t.cells
