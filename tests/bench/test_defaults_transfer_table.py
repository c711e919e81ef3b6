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


def test_cells_the_held_out_data_cannot_resolve_are_counted_apart(tmp_path):
    """Two cells, one whose auto summaries read θ_o right on every held-out sample (unresolved) — won there 0 of 2,
    elsewhere 1 of 2 — read back from a run's store as the benchmark does."""
    from unlearnkit.bench.store import ResultStore

    dt = load()
    store = ResultStore(tmp_path)
    for key, fa in (("a", 100.0), ("b", 100.0), ("c", 97.2), ("d", 97.2)):
        auto = {"partial": True, "held_out": 144, "held_out_eff": 144.0, "held_out_fa": fa}
        store.add(key, {"method": "m", "_history": [{"step": 0, "proxy_gap": 1.0}, {"auto_stop": auto}]})
    flags = dt.unresolved(tmp_path)
    assert flags == {"a": True, "b": True, "c": False, "d": False}
    base = dict(dataset="d", scenario="s")
    rows = [
        {**base, "seed": 0, "method": "original", "avg_gap": 2.0, "config_hash": "o0"},
        {**base, "seed": 0, "method": "m", "avg_gap": 2.0, "config_hash": "a"},
        {**base, "seed": 0, "method": "n", "avg_gap": 2.5, "config_hash": "b"},
        {**base, "seed": 1, "method": "original", "avg_gap": 2.0, "config_hash": "o1"},
        {**base, "seed": 1, "method": "m", "avg_gap": 1.0, "config_hash": "c"},
        {**base, "seed": 1, "method": "n", "avg_gap": 2.5, "config_hash": "d"},
    ]
    df = pd.DataFrame(rows)
    df["unresolved"] = df["config_hash"].map(flags)
    assert dt.resolution_line(df).endswith("1 of 2 cells; won there 0 of 2, elsewhere 1 of 2 (50.0 %)")
    assert dt.resolution_line(df.drop(columns=["unresolved"])) is None


def test_the_tuned_comparison_also_reads_the_cells_the_held_out_data_can_resolve():
    """Tuned 1.0 in three cells; defaults + auto 1.0, 1.2 and 4.0, the last on a held-out split that cannot show the
    gap: the ratio over all is 2.07, over the two resolved cells 1.10."""
    dt = load()
    key = dict(preset="p", dataset="d", scenario="s")
    tuned = pd.DataFrame(
        [
            {**key, "seed": s, "method": m, "avg_gap": g, "avg_gap_floor": 0.3}
            for s in range(3)
            for m, g in (("original", 9.0), ("x", 1.0))
        ]
    )
    auto = pd.DataFrame(
        [
            {**key, "seed": s, "method": m, "avg_gap": g, "unresolved": s == 2}
            for s, ga in enumerate((1.0, 1.2, 4.0))
            for m, g in (("original", 9.0), ("x", ga))
        ]
    )
    row = dt.tuned_table({"tuned": tuned, "defaults_auto": auto}).loc["x"]
    assert (row.cells, row.resolved_cells) == (3, 2)
    assert round(row.ratio, 4) == round(6.2 / 3, 4) and round(row.ratio_resolved, 4) == 1.1
    assert "ratio_resolved" not in dt.tuned_table({"tuned": tuned, "defaults_auto": auto.drop(columns=["unresolved"])})
