"""A poisoned batch as the deletion request: a random ``--fraction`` of the training samples relabelled to
another class (seeded) before θ_o is trained; D_f = those samples; θ_r trained on the clean rest. Every method at
its library defaults under ``stop: auto``, then Avg.Gap (FA, RA, TA, MIA-efficacy; FA on the wrong labels) against
θ_r, with θ_o's. With ``--no-label-check`` the proxy runs without ``proxy.label_check`` (the held-out targets
alone, which expect D_f to be classified as its wrong labels say).

    python benchmarks/poisoned_batch.py [--seeds 0 1 2] [--epochs 100] [--fraction 0.1] [--no-label-check]
        [--dataset digits | fashion_mnist --data-dir DIR --subset 3000]

θ_o must memorise the poison for the case to bite: with 15 epochs the MLP classifies 99 % of it by its true
class already (θ_o ≈ θ_r), with 100 it fits the wrong labels (FA 100 %).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings

import numpy as np
import pandas as pd
import torch

import unlearnkit as uk

METHODS = ["ft", "ga", "rl", "neggrad_plus", "salun", "scrub", "l1_sparse", "bad_teacher", "fisher", "ssd"]


def poisoned(dataset: str, seed: int, fraction: float, data_dir: str | None, subset: int | None):
    d = uk.load_dataset(dataset, data_dir=data_dir, subset=subset)
    split = uk.make_split(d, "random", seed=seed, fraction=fraction)
    y = d.y.clone()
    f = torch.as_tensor(split.forget)
    y[f] = (y[f] + torch.as_tensor(np.random.default_rng(seed).integers(1, d.num_classes, len(f)))) % d.num_classes
    return dataclasses.replace(d, y=y), split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--no-label-check", action="store_true")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--subset", type=int, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    options = {"stopping": {"proxy": {"label_check": False}}} if args.no_label_check else None
    metrics = [uk.METRICS.get(n)() for n in ("accuracy", "mia_efficacy")]
    rows = []
    t0 = time.perf_counter()
    for seed in args.seeds:
        ds, split = poisoned(args.dataset, seed, args.fraction, args.data_dir, args.subset)
        cfg = uk.TrainConfig(epochs=args.epochs, lr=0.05, batch_size=64)

        def train(idx):
            torch.manual_seed(seed)
            return uk.train_model(uk.build_model("mlp", ds.input_shape, ds.num_classes), ds, idx, cfg, "cpu", seed=seed)

        theta_o, theta_r = train(split.train), train(split.retain)
        ev = uk.Evaluation(ds, split, torch.device("cpu"), original=theta_o, retrained=theta_r)

        def score(model) -> dict:
            row: dict = {}
            for m in metrics:
                row |= m.evaluate(model, ev)
            return row

        ref = score(theta_r)
        for name, model in [("original", theta_o)] + [(m, None) for m in METHODS]:
            if model is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = uk.unlearn(theta_o, ds, split, name, options=options, device="cpu", seed=seed).model
            row = score(model)
            rows.append(
                {
                    "seed": seed,
                    "method": name,
                    "avg_gap": uk.avg_gap(row, ref),
                    **{k: row[k] for k in ("FA", "RA", "TA", "MIA")},
                }
            )
        rows.append(
            {"seed": seed, "method": "retrain", "avg_gap": 0.0, **{k: ref[k] for k in ("FA", "RA", "TA", "MIA")}}
        )
    df = pd.DataFrame(rows)
    o = df[df.method == "original"].set_index("seed").avg_gap
    df["won"] = df.apply(lambda r: r.avg_gap < o[r.seed] - 0.005, axis=1)
    table = df.groupby("method", sort=False).agg(
        avg_gap=("avg_gap", "mean"),
        FA=("FA", "mean"),
        RA=("RA", "mean"),
        TA=("TA", "mean"),
        MIA=("MIA", "mean"),
        won=("won", "sum"),
    )
    print(
        f"poisoned batch: {args.dataset}{f' {args.subset}' if args.subset else ''}, {args.fraction:.0%} relabelled, "
        f"θ_o {args.epochs} epochs, seeds {args.seeds}"
        f"{', label_check off' if args.no_label_check else ''} (FA on the wrong labels)"
    )
    print(table.round(2).to_string())
    won = int(df[~df.method.isin(["original", "retrain"])].won.sum())
    print(f"won {won} of {len(METHODS) * len(args.seeds)} cells against θ_o; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
