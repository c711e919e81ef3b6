"""Parallel speedup of ``bench --jobs N`` (local process pool, and Ray on this machine) over ``--jobs 1``.

Two grids, each with a warm model cache (θ_o/θ_r/θ_r′ and reference values trained once, untimed):

* ``small``: the ``baselines`` preset (72 jobs of ~0.1 s on digits: pool start-up is the whole cost);
  goal: ``--jobs 2`` never slower than ``--jobs 1``.
* ``large``: digits · cnn (width 32) · random 10 % and class [3] · rl/ga/neggrad_plus/scrub/salun with longer schedules
  · 3 seeds (jobs of ≥ 1 s on 2 cores); goal: ``--jobs 2`` ≥ 1.7× faster.

Every run writes a fresh run directory; rows are compared with the ``--jobs 1`` run's (machine columns —
times, memory — aside): they must be identical. All runs use 1 torch thread per job (the executors' default).
Each configuration runs ``--repeats`` times, interleaved; the table shows the median wall time.

    python benchmarks/parallel.py [--grids small large] [--jobs 2] [--repeats 3] [--ray]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from unlearnkit.bench.columns import machine_columns
from unlearnkit.bench.config import BenchConfig, load_config
from unlearnkit.bench.runner import run_bench

LONG = {
    "rl": {"lr": 0.0005, "epochs": 6, "forget_weight": 1.0},
    "ga": {"lr": 0.002, "epochs": 8},
    "neggrad_plus": {"lr": 0.002, "epochs": 8, "forget_weight": 0.2, "grad_clip": 1.0},
    "scrub": {"epochs": 6},
    "salun": {"epochs": 6},
}


def grids() -> dict[str, BenchConfig]:
    small = load_config(preset="baselines")
    large = BenchConfig.model_validate(
        {
            **small.model_dump(mode="json"),
            "name": "parallel_large",
            "model": {"name": "cnn", "options": {"width": 32}},
            "methods": ["retrain", *LONG],
            "method_options": LONG,
        }
    )
    return {"small": small, "large": large}


def comparable(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path / "results.csv")
    keys = ["dataset", "scenario", "method", "weighting", "target", "seed"]
    return df.drop(columns=[c for c in machine_columns() if c in df]).sort_values(keys).reset_index(drop=True)


def timed(cfg: BenchConfig, root: Path, cache: Path, executor: str, jobs: int) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(prefix=f"{executor}{jobs}-", dir=root))
    t0 = time.perf_counter()
    run_bench(cfg, out, executor=executor, jobs=jobs, cache_dir=cache, quiet=True, threads=1)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", nargs="+", default=["small", "large"], choices=["small", "large"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ray", action="store_true", help="also the Ray executor (a local ray.init) at --jobs N")
    ap.add_argument("--keep", default=None, help="keep run directories and the cache here (default: a temp dir)")
    a = ap.parse_args()
    root = Path(a.keep or tempfile.mkdtemp(prefix="unlearnkit-parallel-"))
    root.mkdir(parents=True, exist_ok=True)
    console = Console()
    table = Table(title=f"bench --jobs on {os.cpu_count()} cores (median of {a.repeats}, 1 torch thread per job)")
    for col in ("grid", "jobs", "executor", "runs", "median s", "speedup vs --jobs 1", "rows identical"):
        table.add_column(col)
    configs = [("local", 1), ("local", a.jobs)] + ([("ray", a.jobs)] if a.ray else [])
    for name in a.grids:
        cfg = grids()[name]
        cache = root / f"cache-{name}"
        run_bench(cfg, root / f"warm-{name}", cache_dir=cache, quiet=True, threads=1)  # train once, untimed
        times: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
        outs: dict[tuple[str, int], Path] = {}
        for _ in range(a.repeats):
            for c in configs:
                s, outs[c] = timed(cfg, root, cache, *c)
                times[c].append(s)
        n = len(pd.read_csv(outs[configs[0]] / "results.csv"))
        base = statistics.median(times[("local", 1)])
        ref = comparable(outs[("local", 1)])
        for c in configs:
            med = statistics.median(times[c])
            same = ref.equals(comparable(outs[c]))
            table.add_row(name, str(c[1]), c[0], str(n), f"{med:.1f}", f"{base / med:.2f}×", "yes" if same else "NO")
    console.print(table)
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
