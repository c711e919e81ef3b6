"""TRW's similarity prior, measured; and the challenge score old vs new (arXiv 2506.20893 / NeurIPS 2023).

    python benchmarks/trw_reproduction.py trw [--run-dir DIR] [--jobs 2] [--seeds 0 1 2] [--fashion-seeds 0 1]
        [--data-dir DIR] [--ulira]
    python benchmarks/trw_reproduction.py challenge [--N 8] [--seed 0]
    python benchmarks/trw_reproduction.py trw --scale fashion [--run-dir runs/fashion_class] [--data-dir DIR]
        # the fashion_class preset through the bench runner (cached, resumable; 34 min cold on an idle
        # 2-core CPU with --jobs 2 --threads 1): full Fashion-MNIST, cnn, classes 2+6, 5 methods × {none, trw}, fixed
        # schedules, MIA-NN (R = 3) and U-LiRA (K = 2), 3 seeds

``trw``: forget digits class 3, digits class 8 and class 0 of a 5,000-image Fashion-MNIST subset with
rl and neggrad_plus, each with no target, TRW β = 0 (drop-and-renormalise) and TRW β = 10 with each
similarity source (mean_logits = the paper's PCA-logit cosine, classifier_rows, unseen_probs). Scored
by FA/RA/TA and the MIA-NN divergence protocol (R = 3 retrained models; mean ± std over seeds of
MIA_NN_div, its floor_max, the excess over the floor, the AUC form, and the forget-class test and
remaining-classes variants); ``--ulira`` adds U-LiRA (K = 4). Also prints where each target sends the
forget class (top class of the TRW table) next to where the retrained models send it.

``challenge``: the challenge score (reference protocol, and the earlier legacy_cv variant) of the
original, retrain, rl and ft on digits with a random 10 % forget set, N runs per side.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

TRAIN_DIGITS = {
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0005,
    "epochs": 30,
    "batch_size": 64,
    "schedule": "cosine",
}
TRAIN_FASHION = dict(TRAIN_DIGITS, epochs=15, batch_size=128)
METHOD_OPTIONS = {
    "rl": {"lr": 0.01, "epochs": 5, "forget_weight": 1.0},  # the class preset's measured settings
    "neggrad_plus": {"lr": 0.01, "epochs": 5, "forget_weight": 0.1, "grad_clip": 5.0},
}
TARGETS = [
    "none",
    {"name": "trw", "label": "b0", "options": {"beta": 0}},
    {"name": "trw", "label": "b10_mean_logits", "options": {"beta": 10, "similarity": "mean_logits"}},
    {"name": "trw", "label": "b10_classifier_rows", "options": {"beta": 10, "similarity": "classifier_rows"}},
    {"name": "trw", "label": "b10_unseen_probs", "options": {"beta": 10, "similarity": "unseen_probs"}},
]
COLS = [
    "FA",
    "RA",
    "TA",
    "MIA_NN_div",
    "MIA_NN_floor_max",
    "MIA_NN_excess",
    "MIA_NN_indist",
    "MIA_NN_auc",
    "MIA_NN_div_test",
    "MIA_NN_div_rem",
    "MIA_NN_floor_max_rem",
]


def configs(seeds, fashion_seeds, ulira: bool):
    from unlearnkit.bench.config import BenchConfig

    metrics = ["accuracy", "mia_nn"] + (["ulira"] if ulira else [])
    common = dict(
        methods=["retrain", "rl", "neggrad_plus"],
        method_options=METHOD_OPTIONS,
        targets=TARGETS,
        metrics=metrics,
        metric_options={"mia_nn": {"R": 3}, **({"ulira": {"K": 4}} if ulira else {})},
        stop="none",  # the paper's fixed schedules: compare targets, not stopping rules
    )
    digits = BenchConfig.model_validate(
        dict(
            common,
            name="trw_digits",
            datasets=["digits"],
            model="mlp",
            train=TRAIN_DIGITS,
            seeds=seeds,
            scenarios=[
                {"kind": "class", "classes": [3], "label": "digits3"},
                {"kind": "class", "classes": [8], "label": "digits8"},
            ],
        )
    )
    if not fashion_seeds:
        return [digits]
    fashion = BenchConfig.model_validate(
        dict(
            common,
            name="trw_fashion",
            datasets=[{"name": "fashion_mnist", "subset": 5000}],
            model={"name": "mlp", "options": {"hidden": [256, 128]}},
            train=TRAIN_FASHION,
            seeds=fashion_seeds,
            scenarios=[{"kind": "class", "classes": [0], "label": "fashion0"}],
        )
    )
    return [digits, fashion]


def table(res: pd.DataFrame, cols) -> pd.DataFrame:
    cols = [c for c in cols if c in res]
    g = res.groupby(["scenario", "method", "target"], sort=False)[cols]
    mean, std = g.mean(), g.std().fillna(0)
    out = mean.copy().astype(object)
    for c in cols:
        d = 3 if c.startswith("MIA_NN_") and "auc" not in c else 1
        out[c] = [f"{m:.{d}f}±{s:.{d}f}" for m, s in zip(mean[c], std[c])]
    out["n"] = g.size()
    return out


def where_mass_goes(cfg, data_dir) -> list[str]:
    """Per scenario and seed 0: the top remaining class of each target's table vs the retrained models' mean."""
    import torch

    from unlearnkit.bench.job import _dataset, _split, expand
    from unlearnkit.bench.sources import BenchSource
    from unlearnkit.bench.runner import default_cache_dir
    from unlearnkit.context import UnlearnContext
    from unlearnkit.eval import predict_logits
    from unlearnkit.targets import TARGETS as REG

    lines = []
    grid = expand(cfg, str(default_cache_dir()), "cpu", data_dir, False)
    seen = set()
    for spec in grid.specs:
        key = spec["scenario_label"]
        if key in seen or spec["seed"] != cfg.seeds[0]:
            continue
        seen.add(key)
        ds = _dataset(spec)
        split = _split(spec, ds)
        dev = torch.device("cpu")
        models = BenchSource(spec, ds, split, dev)
        original, _ = models.original()
        f = int(np.unique(ds.labels[split.forget])[0])
        p_r = np.mean(
            [torch.softmax(predict_logits(m, ds, split.forget), 1).mean(0).numpy() for m in models.retrained(4)[1:]],
            0,
        )
        p_r[f] = 0
        top = np.argsort(-p_r)[:3]
        parts = ["retrained → " + ", ".join(f"{int(c)} ({float(p_r[c]):.2f})" for c in top)]
        for t in TARGETS[1:]:
            target = REG.get("trw")(REG.get("trw").Options(**t["options"]))
            ctx = UnlearnContext(
                model=original,
                original=original.eval(),
                dataset=ds,
                split=split,
                num_classes=ds.num_classes,
                device=dev,
                seed=0,
                options=None,
                weighting=None,
                target=None,
            )
            target.prepare(ctx)
            m = target.table.mean(0).numpy()
            parts.append(f"{t['label']} → {int(m.argmax())} ({m.max():.2f})")
        lines.append(f"{key} (class {f}, seed {cfg.seeds[0]}): " + "; ".join(parts))
    return lines


FASHION_COLS = [
    "FA",
    "RA",
    "TA",
    "MIA",
    "avg_gap",
    "avg_gap_floor",
    "MIA_NN_div",
    "MIA_NN_floor_max",
    "MIA_NN_excess",
    "ULiRA_auc",
    "ULiRA_acc",
    "ULiRA_retrain_acc",
    "unlearn_s",
]


def run_fashion(a) -> None:
    """``--scale fashion``: the fashion_class preset (run or resumed), summarised per scenario × method × target
    (mean ± std over seeds); the preset's fixed schedules (stop: none)."""
    from unlearnkit.bench.config import load_config
    from unlearnkit.bench.runner import run_bench

    from preset_cut import reduced, rows_of

    cfg = reduced(load_config(preset="fashion_class"), a.seeds, a.scenarios, a.methods, ["fixed"])
    out = Path(a.run_dir or "runs/fashion_class")
    t0 = time.perf_counter()
    run_bench(cfg, out, jobs=a.jobs, data_dir=a.data_dir, cache_dir=a.cache_dir, quiet=True, threads=a.threads)
    print(f"## fashion_class: {time.perf_counter() - t0:.0f} s this call ({out})")
    res = rows_of(pd.read_csv(out / "results.csv"), cfg)
    with pd.option_context("display.width", 300, "display.max_columns", 30):
        print(table(res, FASHION_COLS).to_string())


def run_trw(a) -> None:
    from unlearnkit.bench.runner import run_bench

    if a.scale == "fashion":
        run_fashion(a)
        return
    a.run_dir = a.run_dir or "runs/trw_similarity"

    for cfg in configs(a.seeds, a.fashion_seeds, a.ulira):
        out = Path(a.run_dir) / cfg.name
        t0 = time.perf_counter()
        run_bench(cfg, out, jobs=a.jobs, data_dir=a.data_dir, quiet=True)
        print(f"\n## {cfg.name}: {time.perf_counter() - t0:.0f} s with --jobs {a.jobs} on {os.cpu_count()} cores")
        res = pd.read_csv(out / "results.csv")
        cols = COLS + (["ULiRA_auc", "ULiRA_acc", "ULiRA_retrain_acc"] if a.ulira else [])
        with pd.option_context("display.width", 300, "display.max_columns", 30):
            print(table(res, cols).to_string())
        for line in where_mass_goes(cfg, a.data_dir):
            print("  " + line)


def run_challenge(a) -> None:
    """Challenge score (reference and legacy_cv) of original / retrain / rl / ft on digits, random 10 %."""
    import torch

    import unlearnkit as uk
    from unlearnkit.sources import FixedSource
    from unlearnkit.eval import METRICS, Evaluation

    t0 = time.perf_counter()
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "random", seed=a.seed, fraction=0.1)
    dev = torch.device("cpu")
    cfg = uk.TrainConfig(**TRAIN_DIGITS)

    def fit(idx, seed):
        torch.manual_seed(seed)
        return uk.train_model(uk.build_model("mlp", ds.input_shape, 10), ds, idx, cfg, dev, seed=seed)

    original = fit(split.train, a.seed)
    retrained = [fit(split.retain, a.seed + 1000 + i) for i in range(a.N)]  # the retrained side
    methods = {
        "original": lambda seed: original,
        "retrain": lambda seed: fit(split.retain, seed),  # fresh seeds: not the retrained side's
        "rl": lambda seed: (
            uk.unlearn(original, ds, split, "rl", device="cpu", seed=seed, options=METHOD_OPTIONS["rl"]).model
        ),
        "ft": lambda seed: (
            uk.unlearn(original, ds, split, "ft", device="cpu", seed=seed, options={"lr": 0.1, "epochs": 10}).model
        ),
    }
    rows = []
    for name, run in methods.items():
        t1 = time.perf_counter()
        runs = {a.seed + i: run(a.seed + i) for i in range(a.N)}
        ev = Evaluation(
            ds,
            split,
            dev,
            a.seed,
            original,
            retrained[0],
            None,
            FixedSource(retrained, lambda m, sp, seed, runs=runs: runs[seed]),
        )
        row = {"method": name}
        for protocol in ("reference", "legacy_cv"):
            M = METRICS.get("challenge_score")
            out = M(M.Options(N=a.N, protocol=protocol)).compute(runs[a.seed], ev)
            row[f"{protocol}_F"] = out["challenge_F"]
            row[f"{protocol}_score"] = out["challenge_score"]
        row["examples"], row["s"] = out["challenge_examples"], time.perf_counter() - t1
        rows.append(row)
    print(f"digits random 10 % forget (seed {a.seed}), N = {a.N} runs per side, {len(split.forget)} forget examples")
    print(pd.DataFrame(rows).round(4).to_string(index=False))
    print(f"total {time.perf_counter() - t0:.0f} s on {os.cpu_count()} cores")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="part", required=True)
    t = sub.add_parser("trw")
    t.add_argument(
        "--run-dir", default=None, help="default runs/trw_similarity (runs/fashion_class at --scale fashion)"
    )
    t.add_argument("--jobs", type=int, default=2)
    t.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    t.add_argument("--fashion-seeds", type=int, nargs="*", default=[0, 1], help="none: digits only")
    t.add_argument(
        "--data-dir",
        default=os.environ.get("UNLEARNKIT_DATA"),
        help="Fashion-MNIST folder (else $UNLEARNKIT_DATA, else the loader's default places)",
    )
    t.add_argument("--ulira", action="store_true")
    t.add_argument(
        "--scale",
        default="small",
        choices=["small", "fashion"],
        help="small: digits + a Fashion-MNIST subset (MLP); fashion: the fashion_class preset (full, cnn)",
    )
    t.add_argument("--cache-dir", default=None, help="--scale fashion: the model cache (else the bench default)")
    t.add_argument(
        "--scenarios",
        nargs="*",
        default=None,
        help="--scale fashion: only these scenario labels (the preset has class2+6)",
    )
    t.add_argument(
        "--methods",
        nargs="+",
        default=["ga", "rl", "neggrad_plus", "salun", "scrub"],
        help="--scale fashion: base methods kept from the preset",
    )
    t.add_argument("--threads", type=int, default=None, help="torch threads per bench job")
    c = sub.add_parser("challenge")
    c.add_argument("--N", type=int, default=8)
    c.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    run_trw(a) if a.part == "trw" else run_challenge(a)


if __name__ == "__main__":
    main()
