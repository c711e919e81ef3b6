"""TRW / MIA-NN / U-LiRA reproduction at digits scale (arXiv 2506.20893 claims, in spirit).

    python benchmarks/trw_reproduction.py [--run-dir DIR] [--jobs 2] [--skip-bench] [--workers 1 2]

Runs the ``class`` preset (unless ``--skip-bench`` and DIR holds results.csv), then prints, per
scenario × method × target, mean ± std over seeds of FA/RA/TA, MIA-efficacy, MIA-NN and its gap to
retrain, U-LiRA accuracy/AUC and the accuracy gap to the retrained reference, the challenge score;
then the shadow-model cost of U-LiRA (seconds per shadow, sequential and in a process pool).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

COLS = ["FA", "RA", "TA", "MIA", "MIA_NN", "MIA_NN_gap", "ULiRA_acc", "ULiRA_auc", "ULiRA_gap", "challenge_score",
        "avg_gap"]


def run_preset(run_dir: Path, jobs: int) -> None:
    from unlearnkit.bench.config import load_config
    from unlearnkit.bench.runner import run_bench

    run_bench(load_config(preset="class"), run_dir, jobs=jobs, quiet=True)


def table(results: pd.DataFrame) -> pd.DataFrame:
    d = results.copy()
    d["ULiRA_gap"] = (d["ULiRA_acc"] - d["ULiRA_retrain_acc"]).abs()
    g = d.groupby(["scenario", "method", "target"], sort=False)[COLS]
    mean, std = g.mean(), g.std().fillna(0)
    out = mean.copy().astype(object)
    for c in COLS:
        digits = 2 if c == "challenge_score" else 1
        out[c] = [f"{m:.{digits}f}±{s:.{digits}f}" for m, s in zip(mean[c], std[c])]
    return out


def _init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _fit(idx, seed):
    """A picklable shadow trainer for the process pool (same data/model/config as the preset)."""
    import torch

    import unlearnkit as uk

    ds = uk.load_dataset("digits")
    torch.manual_seed(seed)
    m = uk.build_model("mlp", ds.input_shape, ds.num_classes)
    cfg = uk.TrainConfig(optimizer="sgd", lr=0.05, epochs=30, batch_size=64, schedule="cosine")
    return uk.train_model(m, ds, idx, cfg, torch.device("cpu"), seed=seed)


def _task(args):
    return _fit(*args)


def shadow_cost(workers: list[int], k: int = 8) -> list[tuple[int, float, float]]:
    """Seconds for K shadow halves of the digits class-3 split: (workers, total s, s per shadow)."""
    import unlearnkit as uk
    from unlearnkit.eval.ulira import balanced_membership

    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "class", seed=0, classes=[3])
    member = balanced_membership(len(split.train), k, np.random.default_rng(0))
    items = [(split.train[m], 1000 + i) for i, m in enumerate(member)]
    out = []
    for w in workers:
        t0 = time.perf_counter()
        if w == 1:
            _init(1)
            [_task(x) for x in items]
        else:
            with cf.ProcessPoolExecutor(w, mp_context=mp.get_context("spawn"), initializer=_init,
                                        initargs=(1,)) as pool:
                list(pool.map(_task, items))
        total = time.perf_counter() - t0
        out.append((w, total, total / k))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default="runs/class")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-bench", action="store_true")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    run_dir = Path(a.run_dir)
    if not (a.skip_bench and (run_dir / "results.csv").exists()):
        t0 = time.perf_counter()
        run_preset(run_dir, a.jobs)
        print(f"class preset: {time.perf_counter() - t0:.0f} s with --jobs {a.jobs} on {os.cpu_count()} cores")
    res = pd.read_csv(run_dir / "results.csv")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(table(res).to_string())
    print("\nU-LiRA shadow cost (digits, 30 epochs on half the training set; spawn start-up included):")
    for w, total, per in shadow_cost(a.workers):
        print(f"  workers={w}: {total:.1f} s for 8 shadows = {per:.2f} s/shadow")


if __name__ == "__main__":
    main()
