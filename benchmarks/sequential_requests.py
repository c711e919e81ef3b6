"""Deletion requests that arrive one after another, through the library API.

A random ``k × fraction`` of the training set is to be forgotten, in ``k`` requests of ``fraction`` each; each
request is unlearned from the model the one before left (its training set: what is left). Three ways, every method
at its library defaults under ``stop="auto"``, all judged against one θ_r retrained without every request:

* ``once``     — the union as one request (what the chain should come near);
* ``chain``    — the k requests in turn, each call's damage counted against the model it starts from;
* ``baseline`` — the same chain with ``baseline=Baseline.measure(θ_o, …)``: damage counted against the model
  before the first request (:mod:`unlearnkit.baseline`).

Per method: won (Avg.Gap below θ_o's), collapsed (RA more than 5 points below θ_o's), mean Avg.Gap and RA of each
way, θ_o's Avg.Gap and the noise floor (a second θ_r).

    python benchmarks/sequential_requests.py --seeds 0 1 2
    python benchmarks/sequential_requests.py --dataset fashion_mnist --data-dir DIR --subset 3000
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import torch

import unlearnkit as uk
from library_grid import quick_mlp, request_grid_args

WAYS = ("once", "chain", "baseline")


def main() -> None:
    ap = request_grid_args(__doc__.splitlines()[0], [0, 1, 2])
    ap.add_argument("--requests", type=int, default=5, help="requests in the chain")
    ap.add_argument("--fraction", type=float, default=0.02, help="each request: this fraction of the training set")
    a = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", RuntimeWarning)  # the calls' advice; the table is the result here
    data = uk.load_dataset(a.dataset, data_dir=a.data_dir, subset=a.subset)
    train = quick_mlp(data)
    metrics = [uk.METRICS.get(n)() for n in ("accuracy", "mia_efficacy")]
    rows = []
    for seed in a.seeds:
        whole = uk.make_split(data, "random", seed=seed, fraction=a.requests * a.fraction)
        parts = np.array_split(np.random.default_rng(seed).permutation(whole.forget), a.requests)
        original, retrained = train(seed, whole.train), train(seed + 100, whole.retain)
        ev = uk.Evaluation(data, whole, torch.device("cpu"), original=original, retrained=retrained)

        def read(model: torch.nn.Module) -> dict:
            return {k: v for m in metrics for k, v in m.evaluate(model.eval(), ev).items()}

        ref, orig = read(retrained), read(original)
        cell = {
            "seed": seed,
            "orig_gap": uk.avg_gap(orig, ref),
            "orig_RA": orig["RA"],
            "floor": uk.avg_gap(read(train(seed + 200, whole.retain)), ref),
        }
        first = uk.Baseline.measure(original, data, whole.train, whole.unseen)
        print(f"seed {seed}: θ_o Avg.Gap {cell['orig_gap']:.2f} (floor {cell['floor']:.2f}), RA {orig['RA']:.1f}")
        for method in a.methods:
            t0 = time.perf_counter()
            models = {"once": uk.unlearn(original, data, whole, method, seed=seed, device="cpu").model}
            for way, baseline in (("chain", None), ("baseline", first)):
                model, left = original, np.asarray(whole.train)
                for i, part in enumerate(parts):
                    request = uk.Split(train=left, test=whole.test, unseen=whole.unseen, forget=np.sort(part))
                    model = uk.unlearn(
                        model, data, request, method, seed=seed + i, device="cpu", baseline=baseline
                    ).model
                    left = np.setdiff1d(left, part)
                models[way] = model
            got = {way: read(m) for way, m in models.items()}
            row = {**cell, "method": method, "seconds": time.perf_counter() - t0}
            for way, r in got.items():
                row |= {f"{way}_gap": uk.avg_gap(r, ref), f"{way}_RA": r["RA"], f"{way}_TA": r["TA"]}
            rows.append(row)
            print(
                f"  {method:13s} " + "  ".join(f"{w} {row[f'{w}_gap']:5.2f} (RA {row[f'{w}_RA']:5.1f})" for w in WAYS),
                flush=True,
            )
    df = pd.DataFrame(rows)
    if a.out:
        df.to_csv(a.out, index=False)
    agg = {}
    for w in WAYS:
        df[f"{w}_won"] = df[f"{w}_gap"] < df.orig_gap
        df[f"{w}_collapsed"] = df[f"{w}_RA"] < df.orig_RA - 5
        agg |= {f"{w}_won": (f"{w}_won", "sum"), f"{w}_coll": (f"{w}_collapsed", "sum"), f"{w}": (f"{w}_gap", "mean")}
        agg |= {f"{w}_RA": (f"{w}_RA", "mean")}
    table = df.groupby("method").agg(cells=("seed", "size"), orig=("orig_gap", "mean"), floor=("floor", "mean"), **agg)
    print(table.round(2).to_string())
    print(
        "  ".join(
            f"{w}: won {int(df[f'{w}_won'].sum())} of {len(df)}, collapsed {int(df[f'{w}_collapsed'].sum())}, "
            f"mean {df[f'{w}_gap'].mean():.2f}"
            for w in WAYS
        )
        + f"; θ_o {df.orig_gap.mean():.2f}, RA {df.orig_RA.mean():.1f}"
    )


if __name__ == "__main__":
    main()
