"""A grid nobody chose: a long-tailed (imbalanced) TRAINING set, every method at its library defaults
under ``stop="auto"``.

Every other grid here trains θ_o on balanced data. This one keeps, per digits class c (in label order), about
n_c · ratio^(−c/9) of its training-pool samples (at least 8; ratio 12.5 by default: 142 … 11 samples, the
CIFAR-10-LT profile), trains the MLP on it and asks for: random 10 %, the whole tail class 8, half of the head
class 0 and a long-tailed 10 % (exp, ratio 5). Per cell it retrains θ_r (and θ_r′, the noise floor) and reports
Avg.Gap (FA, RA, TA, MIA-efficacy) against θ_o's, as ``defaults_transfer.py`` does. Library API only.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/imbalanced_grid.py [--seeds 0 1] [--ratio 12.5]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import torch

import unlearnkit as uk

METHODS = ["ft", "ga", "rl", "neggrad_plus", "salun", "scrub", "l1_sparse", "bad_teacher", "fisher", "ssd"]
SCENARIOS = {
    "random10": ("random", dict(fraction=0.1)),
    "class8 (tail)": ("class", dict(classes=[8])),
    "half class0 (head)": ("subclass", dict(classes=[0], fraction=0.5)),
    "long_tail r5": ("long_tail", dict(fraction=0.1, profile="exp", ratio=5)),
}


def imbalanced_digits(ratio: float, seed: int = 0) -> uk.ArrayDataset:
    d = uk.load_dataset("digits")
    rng = np.random.default_rng(seed)
    pool, y = np.asarray(d.pool), d.labels
    keep = []
    for c in range(d.num_classes):
        idx = rng.permutation(pool[y[pool] == c])
        keep.append(idx[: max(8, int(len(idx) * ratio ** (-c / (d.num_classes - 1))))])
    keep = np.sort(np.concatenate(keep))
    train = torch.utils.data.TensorDataset(torch.as_tensor(d.x[keep]), torch.as_tensor(y[keep]))
    test = torch.utils.data.TensorDataset(torch.as_tensor(d.x[d.test]), torch.as_tensor(y[d.test]))
    return uk.from_torch_dataset(train, test, num_classes=d.num_classes, name=f"digits_lt{ratio:g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--ratio", type=float, default=12.5, help="head / tail class size in the training set")
    ap.add_argument("--methods", nargs="+", default=METHODS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = imbalanced_digits(args.ratio)
    print("training-pool counts per class:", data.class_counts(data.pool).tolist())
    tc = uk.TrainConfig(epochs=30, lr=0.05)
    cpu = torch.device("cpu")
    rows = []
    t0 = time.perf_counter()
    for label, (kind, kw) in SCENARIOS.items():
        for seed in args.seeds:
            split = uk.make_split(data, kind, seed=seed, **kw)
            torch.manual_seed(seed)
            theta_o = uk.train_model(uk.build_model("mlp", data.input_shape, 10), data, split.train, tc, cpu, seed=seed)
            retrained = [
                uk.unlearn(theta_o, data, split, "retrain", train_config=tc, seed=s).model for s in (seed, seed + 100)
            ]
            ev = uk.Evaluation(data, split, cpu, original=theta_o, retrained=retrained[0])

            def score(model):
                return {
                    k: v
                    for n in ("accuracy", "mia_efficacy")
                    for k, v in uk.METRICS.get(n)().evaluate(model, ev).items()
                }

            ref, orig = score(retrained[0]), score(theta_o)
            base = dict(
                scenario=label, seed=seed, n_forget=len(split.forget), floor=uk.avg_gap(score(retrained[1]), ref)
            )
            rows.append(base | dict(method="original", gap=uk.avg_gap(orig, ref), RA=orig["RA"], moved=False))
            for m in args.methods:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = uk.unlearn(theta_o, data, split, m, seed=seed)
                s = score(res.model)
                rows.append(base | dict(method=m, gap=uk.avg_gap(s, ref), RA=s["RA"], moved=res.moved))
            print(f"{label} seed {seed}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
    df = pd.DataFrame(rows)
    o = df[df.method == "original"].set_index(["scenario", "seed"])
    m = df[df.method != "original"].copy()
    key = list(zip(m.scenario, m.seed))
    m["orig_gap"] = [o.loc[k, "gap"] for k in key]
    m["won"] = m.gap < m.orig_gap - 0.005
    m["tied"] = (m.gap - m.orig_gap).abs() <= 0.005
    m["collapsed"] = m.RA < np.array([o.loc[k, "RA"] for k in key]) - 5
    pd.set_option("display.width", 200)
    print("\nAvg.Gap per cell (θ_o first; floor = θ_r′ against θ_r):")
    table = df.pivot_table(index="method", columns=["scenario", "seed"], values="gap")
    table.loc["noise floor (θ_r′)"] = o["floor"].reindex(table.columns)
    print(table.round(2).to_string())
    print("\nper method:")
    print(
        m.groupby("method")[["won", "tied", "collapsed"]]
        .sum()
        .join(m.groupby("method").gap.mean().round(2))
        .to_string()
    )
    print(
        f"\nwon {int(m.won.sum())} of {len(m)} cells, tied {int(m.tied.sum())}, collapsed {int(m.collapsed.sum())}; "
        f"{time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
