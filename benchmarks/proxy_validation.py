"""Does the retrain-free proxy (``proxy_gap``) rank models like the true Avg.Gap to retraining?

A grid WITH θ_r on digits (MLP, the ``quick`` preset's training: SGD lr 0.05, momentum 0.9, wd 5e-4,
30 epochs, batch 64, cosine): scenarios random 10 %, long_tail (exp, fraction 0.1, ratio 10 and 50),
class [3], subclass (class 3, half of it); methods rl, ga, neggrad_plus, ft at lr × {0.3, 1, 3} of
their library default (everything else default, ``stop: none``) plus ssd and fisher at their
defaults, θ_o itself (``original``) and θ_r itself (``retrain``: Avg.Gap 0, reported apart as the
proxy's floor, not ranked); seeds 0 1 (``--seeds``). Jobs that the divergence guards stop
(``stop: none`` raises) are rerun with the guards out of reach, so divergent models stay in the grid. ``--fashion`` adds a Fashion-MNIST
subset (5000 samples, ``--data-dir``) on random 10 % and class [0]; ``--tabular`` adds Adult (a 4000-row
subset) and COMPAS on random 10 % and 30 % of class 1 (``--data-dir``: their folders' parent).

Every row carries ``avg_gap`` (mean |θ_u − θ_r| over FA/RA/TA/MIA) and ``proxy_gap`` (the ``proxy``
metric, which never reads θ_r). Printed: Spearman and Pearson of proxy_gap vs avg_gap overall, per
scenario kind and per cell (dataset × scenario × seed: the ranking a user actually needs — which of
the candidate models is closest to retraining), the worst rank disagreements, and per-cell
"pick quality": the Avg.Gap of the proxy's pick vs the best available Avg.Gap in the cell.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/proxy_validation.py            # run + report
    PYTHONPATH=src python benchmarks/proxy_validation.py --report-only                 # re-read the CSV
    PYTHONPATH=src python benchmarks/proxy_validation.py --fashion --seeds 0 1 2

Rows already in ``--out`` are skipped (resumable); models are cached in ``--cache-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from unlearnkit.bench.config import BenchConfig
from unlearnkit.bench.runner import run_bench
from unlearnkit.methods import METHODS

TRAIN = {
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0005,
    "epochs": 30,
    "batch_size": 64,
    "schedule": "cosine",
}
SCENARIOS = [
    {"kind": "random", "fraction": 0.1, "label": "random10"},
    {"kind": "long_tail", "fraction": 0.1, "profile": "exp", "ratio": 10, "label": "long_tail_r10"},
    {"kind": "long_tail", "fraction": 0.1, "profile": "exp", "ratio": 50, "label": "long_tail_r50"},
    {"kind": "class", "classes": [3], "label": "class3"},
    {"kind": "subclass", "classes": [3], "fraction": 0.5, "label": "subclass3"},
]
FASHION_SCENARIOS = [
    {"kind": "random", "fraction": 0.1, "label": "random10"},
    {"kind": "class", "classes": [0], "label": "class0"},
]
# tables a model cannot memorise, where removing part of a class shifts the class prior a retrained model sees
TABULAR = [{"name": "adult", "subset": 4000, "label": "adult4k"}, "compas"]
TABULAR_SCENARIOS = [
    {"kind": "random", "fraction": 0.1, "label": "random10"},
    {"kind": "subclass", "classes": [1], "fraction": 0.3, "label": "subclass1"},
]
SWEPT = ("rl", "ga", "neggrad_plus", "ft")
FACTORS = (0.3, 1.0, 3.0)
DEFAULT_ONLY = ("ssd", "fisher")


def method_entries() -> list[dict]:
    out = []
    for name in SWEPT:
        base = METHODS.get(name).Options().lr
        for f in FACTORS:
            out.append({"name": name, "label": f"{name}@lr×{f:g}", "options": {"lr": base * f}})
    out += [{"name": n} for n in DEFAULT_ONLY]
    out.append({"name": "retrain"})  # θ_r itself (Avg.Gap 0): what the proxy says of retraining, its floor
    return out


UNGUARDED = {"stopping": {"param_factor": 1e12, "logit_factor": 1e12}}


def config(
    name: str,
    datasets: list,
    scenarios: list,
    seeds: list[int],
    methods: list[dict] | None = None,
    include_original: bool = True,
    proxy_options: dict | None = None,
    mia_fits: int = 1,
) -> BenchConfig:
    """``mia_fits``: Avg.Gap's MIA-efficacy averaged over that many attack fits (1: SalUn's single attack)."""
    return BenchConfig(
        name=name,
        datasets=datasets,
        model="mlp",
        train=TRAIN,
        scenarios=scenarios,
        methods=methods or method_entries(),
        seeds=seeds,
        metrics=["accuracy", "mia_efficacy", "proxy"],
        metric_options={"proxy": proxy_options or {}}  # --proxy-options
        | ({"mia_efficacy": {"fits": mia_fits}} if mia_fits != 1 else {}),  # --mia-fits
        stop="none",
        include_original=include_original,
        noise_floor=True,
    )


def rerun_unguarded(cfg: BenchConfig, out: Path, args) -> None:
    """Jobs the divergence guards stopped (stop='none' raises) are the runs a proxy must flag most: run
    them again with the guards out of reach (``stopping.param_factor/logit_factor`` 1e12), same label,
    into ``out/unguarded``, so the grid keeps its divergent models (a non-finite loss still fails)."""
    import json
    import sqlite3

    db = out / "results.db"
    con = sqlite3.connect(db)
    try:
        specs = [json.loads(r[0]) for r in con.execute("SELECT spec FROM failures")]
    finally:
        con.close()
    by_scenario: dict[str, set[str]] = {}
    for sp in specs:
        by_scenario.setdefault(sp["scenario_label"], set()).add(sp["method"]["label"])
    entries = {e["label"]: e for e in method_entries() if "label" in e}
    for sc in cfg.scenarios:
        labels = sorted(by_scenario.get(sc.key, ()))
        if not labels:
            continue
        methods = [{**entries[lb], "options": {**entries[lb]["options"], **UNGUARDED}} for lb in labels]
        sub = config(
            cfg.name + "_unguarded",
            [d.model_dump() for d in cfg.datasets],
            [sc.model_dump()],
            cfg.seeds,
            methods,
            include_original=False,
            proxy_options=cfg.metric_options.get("proxy"),
            mia_fits=(cfg.metric_options.get("mia_efficacy") or {}).get("fits", 1),
        )
        t0 = time.perf_counter()
        res = run_bench(
            sub,
            out / "unguarded" / sc.key,
            cache_dir=args.cache_dir,
            quiet=True,
            jobs=args.jobs,
            data_dir=args.data_dir,
        )
        print(
            f"  unguarded rerun on {sc.key} ({', '.join(labels)}): {res.ran} ran, {res.skipped_done} done, "
            f"{len(res.failed)} failed, {time.perf_counter() - t0:.0f} s"
        )
        for what, err in res.failed:
            print(f"    FAILED {what}: {err[:160]}")


def read_rows(out: Path) -> pd.DataFrame:
    """The grid's rows plus the unguarded reruns of the jobs that diverged."""
    frames = [pd.read_csv(p) for p in [out / "results.csv", *sorted(out.glob("unguarded/*/results.csv"))] if p.exists()]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    return df.drop_duplicates(["dataset", "scenario", "seed", "method"], keep="first")


def kind_of(scenario: str) -> str:
    return (
        scenario.rstrip("0123456789").split("_r")[0]
        if scenario.startswith("long_tail")
        else scenario.rstrip("0123456789")
    )


def corr(a, b) -> tuple[float, float, int]:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan"), float("nan"), int(ok.sum())
    return float(stats.spearmanr(a[ok], b[ok])[0]), float(stats.pearsonr(a[ok], b[ok])[0]), int(ok.sum())


def report(df: pd.DataFrame) -> str:
    df = df.copy()
    df["kind"] = df["scenario"].map(kind_of)
    retrained = df[df["method"] == "retrain"]
    df = df[df["method"] != "retrain"]  # θ_r's rows are the floor below, not candidates to rank
    lines = []
    s, p, n = corr(df["proxy_gap"], df["avg_gap"])
    lines.append(f"| slice | n | Spearman | Pearson |\n|---|---|---|---|\n| all | {n} | {s:.3f} | {p:.3f} |")
    for (ds, kind), g in df.groupby(["dataset", "kind"], sort=False):
        s, p, n = corr(g["proxy_gap"], g["avg_gap"])
        lines.append(f"| {ds} {kind} | {n} | {s:.3f} | {p:.3f} |")
    for (ds, sc), g in df.groupby(["dataset", "scenario"], sort=False):
        if df[df["dataset"] == ds]["scenario"].map(kind_of).eq(kind_of(sc)).sum() > len(g):
            s, p, n = corr(g["proxy_gap"], g["avg_gap"])
            lines.append(f"| {ds} {sc} | {n} | {s:.3f} | {p:.3f} |")
    nc = df[df["kind"] != "class"]
    s, p, n = corr(nc["proxy_gap"], nc["avg_gap"])
    lines.append(f"| all but class | {n} | {s:.3f} | {p:.3f} |")
    nrl = df[~df["method"].str.startswith("rl")]
    s, p, n = corr(nrl["proxy_gap"], nrl["avg_gap"])
    lines.append(f"| all but rl | {n} | {s:.3f} | {p:.3f} |")
    for ds, g in df.groupby("dataset", sort=False):
        if df["dataset"].nunique() > 1:
            s, p, n = corr(g["proxy_gap"], g["avg_gap"])
            lines.append(f"| {ds} (all) | {n} | {s:.3f} | {p:.3f} |")
    out = "\n".join(lines)

    # within-cell ranking and pick quality
    cell_rows = []
    for (ds, sc, seed), g in df.groupby(["dataset", "scenario", "seed"], sort=False):
        s, p, n = corr(g["proxy_gap"], g["avg_gap"])
        pick = g.loc[g["proxy_gap"].idxmin()]
        best = g.loc[g["avg_gap"].idxmin()]
        orig = g[g["method"] == "original"]["avg_gap"]
        cell_rows.append(
            dict(
                dataset=ds,
                scenario=sc,
                seed=seed,
                n=n,
                spearman=s,
                pearson=p,
                pick=pick["method"],
                pick_gap=pick["avg_gap"],
                best=best["method"],
                best_gap=best["avg_gap"],
                original_gap=float(orig.iloc[0]) if len(orig) else np.nan,
                floor=float(g["avg_gap_floor"].iloc[0]) if "avg_gap_floor" in g else np.nan,
            )
        )
    cells = pd.DataFrame(cell_rows)
    out += "\n\nPer cell (Spearman within the cell; the proxy's pick vs the true best):\n"
    out += "| dataset | scenario | seed | n | Spearman | pick (its Avg.Gap) | best (Avg.Gap) | original | floor |\n"
    out += "|---|---|---|---|---|---|---|---|---|\n"
    for r in cells.itertuples():
        out += (
            f"| {r.dataset} | {r.scenario} | {r.seed} | {r.n} | {r.spearman:.2f} | {r.pick} ({r.pick_gap:.2f}) | "
            f"{r.best} ({r.best_gap:.2f}) | {r.original_gap:.2f} | {r.floor:.2f} |\n"
        )
    out += (
        f"\nmean within-cell Spearman {cells['spearman'].mean():.3f} (min {cells['spearman'].min():.2f}); "
        f"proxy pick's Avg.Gap mean {cells['pick_gap'].mean():.2f} vs best {cells['best_gap'].mean():.2f} "
        f"vs original {cells['original_gap'].mean():.2f}\n"
    )

    # where it fails: rows whose proxy rank is far from their Avg.Gap rank, overall
    df["rank_proxy"] = df["proxy_gap"].rank(pct=True)
    df["rank_gap"] = df["avg_gap"].rank(pct=True)
    df["rank_err"] = df["rank_proxy"] - df["rank_gap"]
    cols = [
        "dataset",
        "scenario",
        "seed",
        "method",
        "avg_gap",
        "proxy_gap",
        "proxy_fa",
        "proxy_mia",
        "proxy_dist",
        "proxy_damage",
        "FA",
        "RA",
        "TA",
        "MIA",
        "FA_retrain",
        "MIA_retrain",
    ]
    cols = [c for c in cols if c in df.columns]
    worst = df.reindex(df["rank_err"].abs().sort_values(ascending=False).index).head(12)
    out += "\nLargest overall rank disagreements (rank_err = pct-rank(proxy) − pct-rank(avg_gap)):\n"
    out += worst[cols + ["rank_err"]].to_string(index=False, float_format=lambda v: f"{v:.2f}") + "\n"
    df["family"] = df["method"].str.split("@").str[0]
    fam = df.groupby("family")["rank_err"].agg(["mean", "count"]).sort_values("mean")
    out += "\nMean overall rank error by method family (> 0: the proxy rates it worse than Avg.Gap does):\n"
    out += " ".join(f"{k} {v:+.2f}" for k, v in fam["mean"].items()) + "\n"
    if len(retrained):
        floor = retrained.groupby(["dataset", "scenario"], sort=False)[["proxy_gap", "proxy_dist"]].agg(
            ["mean", "min", "max"]
        )
        out += "\nθ_r's own proxy gap (its Avg.Gap is 0: the proxy's floor), mean [min, max] over seeds; proxy_dist part:\n"
        for (ds, sc), r in floor.iterrows():
            out += (
                f"  {ds} {sc}: {r[('proxy_gap', 'mean')]:.2f} [{r[('proxy_gap', 'min')]:.2f}, "
                f"{r[('proxy_gap', 'max')]:.2f}]; dist {r[('proxy_dist', 'mean')]:.2f}\n"
            )
    # per-term: which proxy term tracks which gap term
    out += (
        "\nSpearman of each proxy term vs Avg.Gap (all rows): "
        + ", ".join(
            f"{c} {corr(df[c], df['avg_gap'])[0]:.2f}"
            for c in ["proxy_fa", "proxy_mia", "proxy_dist", "proxy_damage"]
            if c in df.columns
        )
        + "\n"
    )
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument(
        "--fashion", action="store_true", help="add a Fashion-MNIST subset (5000) on random 10%% and class 0"
    )
    ap.add_argument("--fashion-subset", type=int, default=5000)
    ap.add_argument(
        "--tabular", action="store_true", help="add Adult (4000 rows) and COMPAS on random 10%% and 30%% of class 1"
    )
    ap.add_argument(
        "--data-dir",
        default=os.environ.get("UNLEARNKIT_DATA"),
        help="Fashion-MNIST folder (else $UNLEARNKIT_DATA, else the loader's default places)",
    )
    ap.add_argument("--out", default="/tmp/validate-proxy")
    ap.add_argument("--cache-dir", default="/tmp/validate-cache")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument(
        "--keep-guards",
        action="store_true",
        help="leave out the jobs the divergence guards stop instead of rerunning them unguarded",
    )
    ap.add_argument("--proxy-options", default="{}", help="the proxy metric's options as JSON, e.g. '{\"w_dist\": 0}'")
    ap.add_argument(
        "--mia-fits",
        type=int,
        default=1,
        help="Avg.Gap's MIA-efficacy averaged over this many attack fits (1: SalUn's single attack; use another --out)",
    )
    args = ap.parse_args(argv)
    proxy = json.loads(args.proxy_options)

    outs = [Path(args.out) / "digits"] + ([Path(args.out) / "fashion"] if args.fashion else [])
    outs += [Path(args.out) / "tabular"] if args.tabular else []
    if not args.report_only:
        cfgs = [
            config(
                "proxy_validation_digits",
                ["digits"],
                SCENARIOS,
                args.seeds,
                proxy_options=proxy,
                mia_fits=args.mia_fits,
            )
        ]
        if args.fashion:
            cfgs.append(
                config(
                    "proxy_validation_fashion",
                    [{"name": "fashion_mnist", "subset": args.fashion_subset, "label": "fashion5k"}],
                    FASHION_SCENARIOS,
                    args.seeds,
                    proxy_options=proxy,
                    mia_fits=args.mia_fits,
                )
            )
        if args.tabular:
            cfgs.append(
                config(
                    "proxy_validation_tabular",
                    TABULAR,
                    TABULAR_SCENARIOS,
                    args.seeds,
                    proxy_options=proxy,
                    mia_fits=args.mia_fits,
                )
            )
        for cfg, out in zip(cfgs, outs):
            t0 = time.perf_counter()
            res = run_bench(cfg, out, cache_dir=args.cache_dir, quiet=True, jobs=args.jobs, data_dir=args.data_dir)
            print(
                f"{cfg.name}: {res.ran} jobs ran, {res.skipped_done} already done, {res.trained} models trained, "
                f"{len(res.failed)} failed, {time.perf_counter() - t0:.0f} s"
            )
            for what, err in res.failed:
                print(f"  FAILED {what}: {err[:160]}")
            if not args.keep_guards:
                rerun_unguarded(cfg, out, args)
    df = pd.concat([read_rows(o) for o in outs], ignore_index=True)
    print(f"{len(df)} rows\n")
    print(report(df))


if __name__ == "__main__":
    main()
