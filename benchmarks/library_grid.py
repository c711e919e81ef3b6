"""The shared part of the grids run through the library API (``custom_models_grid.py``, ``cluster_requests.py``,
``duplicate_requests.py``, ``thin_class_requests.py``, ``label_smoothing_grid.py``): one cell = θ_o, θ_r and a second
θ_r (the noise floor) trained by the caller's
``train(seed, indices)``, every method at its library defaults under ``stop="auto"``, Avg.Gap read with
``accuracy`` and ``mia_efficacy`` (SalUn's attack, one fit) against θ_r; and the won / beyond-floor / collapsed
table. Not a benchmark by itself."""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
import pandas as pd
import torch

import unlearnkit as uk

METHODS = ["ft", "ga", "rl", "neggrad_plus", "salun", "scrub", "l1_sparse", "bad_teacher", "fisher", "ssd"]


QUICK = uk.TrainConfig(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, epochs=30, schedule="cosine")


def quick_mlp(data) -> Callable[[int, np.ndarray], torch.nn.Module]:
    """``train(seed, indices)`` for :func:`run_cell`: the ``mlp`` trained with the ``quick`` preset's schedule
    (SGD 0.05, momentum 0.9, weight decay 5e-4, 30 epochs, cosine) on the CPU."""

    def train(seed: int, idx: np.ndarray) -> torch.nn.Module:
        torch.manual_seed(seed)
        model = uk.build_model("mlp", data.input_shape, data.num_classes)
        return uk.train_model(model, data, idx, QUICK, torch.device("cpu"))

    return train


def request_grid_args(description: str, seeds: list[int]) -> argparse.ArgumentParser:
    """The arguments the request grids share (``cluster_requests.py``, ``duplicate_requests.py``,
    ``thin_class_requests.py``): the data set, its folder and subset, the seeds, the methods and the CSV."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--subset", type=int, default=None, help="fashion_mnist: a stratified subset (3000 in the README)")
    ap.add_argument("--seeds", nargs="+", type=int, default=seeds)
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--out", default=None, help="CSV of every row")
    return ap


def run_cell(
    data,
    split,
    train: Callable[[int, np.ndarray], torch.nn.Module],
    seed: int,
    cell: dict,
    methods: list[str],
    **unlearn_kwargs,
) -> list[dict]:
    """The rows of one cell: θ_o (``method`` "original"), θ_r ("retrain") and every method; θ_o is trained with
    ``seed``, θ_r with ``seed + 100``, the floor's second θ_r with ``seed + 200``; ``unlearn_kwargs`` go to every
    :func:`unlearnkit.unlearn` call (e.g. ``options``)."""
    dev = torch.device("cpu")
    metrics = [uk.METRICS.get(n)() for n in ("accuracy", "mia_efficacy")]
    original, retrained = train(seed, split.train), train(seed + 100, split.retain)
    ev = uk.Evaluation(data, split, dev, original=original, retrained=retrained)

    def read(model: torch.nn.Module) -> dict:
        out: dict = {}
        for m in metrics:
            out |= m.evaluate(model.eval(), ev)
        return out

    ref, orig = read(retrained), read(original)
    floor = uk.avg_gap(read(train(seed + 200, split.retain)), ref)
    gap_o = uk.avg_gap(orig, ref)
    head = " ".join(f"{v}" for v in cell.values()) + f" seed {seed}"
    cell = {**cell, "seed": seed, "cell": head, "orig_gap": gap_o, "floor": floor}
    rows = [
        {**cell, "method": "original", "avg_gap": gap_o, **orig},
        {**cell, "method": "retrain", "avg_gap": 0.0, **ref},
    ]
    print(
        f"{head}: θ_o Avg.Gap {gap_o:.2f} (floor {floor:.2f}); θ_o FA {orig['FA']:.1f} MIA {orig['MIA']:.1f}, "
        f"θ_r FA {ref['FA']:.1f} MIA {ref['MIA']:.1f}",
        flush=True,
    )
    for method in methods:
        t0 = time.perf_counter()
        res = uk.unlearn(original, data, split, method, seed=seed, device=dev, **unlearn_kwargs)
        r = read(res.model)
        gap = uk.avg_gap(r, ref)
        rows.append({**cell, "method": method, "avg_gap": gap, "seconds": time.perf_counter() - t0, **r})
        print(f"  {method:13s} {gap:6.2f}  FA {r['FA']:5.1f} RA {r['RA']:5.1f} MIA {r['MIA']:5.1f}", flush=True)
    return rows


def summary(df: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, str]:
    """Per ``by`` group of :func:`run_cell`'s rows: cells, won (Avg.Gap below θ_o's), tied (equal: θ_o kept), beyond
    the floor (worse than θ_o by more than it), collapsed (RA below θ_o's − 5 in the same cell), the mean Avg.Gap,
    θ_o's and the floor's; and a one-line total."""
    m = df[~df.method.isin(["original", "retrain"])].copy()
    ra_o = df[df.method == "original"].set_index("cell").RA
    m["won"], m["tied"] = m.avg_gap < m.orig_gap, m.avg_gap == m.orig_gap
    m["beyond_floor"] = m.avg_gap > m.orig_gap + m.floor
    m["collapsed"] = m.RA.to_numpy() < ra_o.loc[m.cell].to_numpy() - 5
    table = m.groupby(by).agg(
        cells=("won", "size"),
        won=("won", "sum"),
        tied=("tied", "sum"),
        beyond_floor=("beyond_floor", "sum"),
        collapsed=("collapsed", "sum"),
        gap=("avg_gap", "mean"),
        orig=("orig_gap", "mean"),
        floor=("floor", "mean"),
    )
    line = (
        f"won {int(m.won.sum())} of {len(m)}; tied {int(m.tied.sum())}; worse than θ_o by more than the floor "
        f"{int(m.beyond_floor.sum())}; collapsed (RA < θ_o's − 5) {int(m.collapsed.sum())}"
    )
    return table, line


def finish(rows: list[dict], by: list[str], out: str | None) -> pd.DataFrame:
    """Every row to ``out`` (a CSV, where given), then the :func:`summary` table and its total line printed."""
    df = pd.DataFrame(rows)
    if out:
        df.to_csv(out, index=False)
    table, line = summary(df, by)
    print(table.round(2).to_string())
    print(line)
    return df
