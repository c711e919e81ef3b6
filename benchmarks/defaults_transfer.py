"""Do the library defaults transfer to settings they were not chosen on, with ``stop="auto"``?

Every method with its LIBRARY DEFAULTS (no method_options) on a held-out grid: digits (MLP, the
``quick`` preset's training: SGD lr 0.05, momentum 0.9, wd 5e-4, 30 epochs, batch 64, cosine),
random 5 % and 20 %, long_tail (exp, fraction 0.1) ratio 10 and 50, class [7], subclass (class 5,
half); seeds 0 1 (``--seeds``); ``--fashion`` adds a Fashion-MNIST subset (3000 samples) on random 5 %,
long_tail ratio 10, class [2] and subclass (class 4, half); ``--tabular`` adds Adult (4000 rows), German credit and COMPAS (the same MLP training) on
random 10 % and 30 % of class 1. None of these scenarios is one a preset or a method's defaults were measured on
(presets: random 10 %, long_tail ratio 20 / 30, class 0 / 3 / 3+8; the baselines' docstrings: random
10 %, class 0 / 3 / 7 / 9 — class 7 is in SSD's and Fisher's sweep, kept as the one repeated cell).

The same grid runs twice: ``stop: auto`` (the library default — the proxy keeps the best state) and
``stop: none`` (the "before": the default schedule run to its end; divergence guards then raise, and
such a job is counted as failed). Per method and mode:

* won        — cells (dataset × scenario × seed) where Avg.Gap < the untouched θ_o's Avg.Gap; the others
               split into tied (equal to 0.005), worse within the cell's noise floor, and worse beyond it;
* collapsed  — cells where RA < θ_o's RA − 5 points;
* no-op      — cells where the model did not move (``moved`` False: param_change 0, or the proxy kept θ_o);
* failed     — jobs that raised (stop none: a divergence guard);
* Avg.Gap    — mean over cells vs θ_o's mean over the same cells;
* passes     — mean ``unlearn_passes`` (the method's per-sample forward/backward cost) and
  ``eval_passes`` (the proxy's / guards' evaluations, counted apart).

``--tuned`` answers the third question, "how far are defaults + auto from the tuned settings?", on the
tuned presets' own cells: ``quick`` (digits, random 10 % and long_tail ratio 20; ft/ga/rl/neggrad_plus
tuned with Optuna against θ_r) and ``baselines`` (digits, random 10 % and class [3]; every method, its
settings measured there). Each preset runs as shipped (its tuned options, ``stop: none``) and again with
every method's options removed and ``stop: auto``; per method, the ratio of mean Avg.Gap (defaults + auto
/ tuned) over the cells of both presets it appears in (goal: ≤ 1.3).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/defaults_transfer.py
    PYTHONPATH=src python benchmarks/defaults_transfer.py --report-only
    PYTHONPATH=src python benchmarks/defaults_transfer.py --tuned --seeds 0 1 2
    PYTHONPATH=src python benchmarks/defaults_transfer.py --modes auto --mia-fits 5 --out /tmp/dt-fits5

``--mia-fits 5`` judges the same unlearned models by an Avg.Gap whose MIA part averages five attacks (SalUn's
single attack moves with its seeded subsample where a model barely tells members from non-members; README).
"""

from __future__ import annotations

import argparse
import os
import json
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from unlearnkit.bench.config import BenchConfig
from unlearnkit.bench.runner import run_bench

sys.path.insert(0, str(Path(__file__).resolve().parent))

TRAIN = {
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.0005,
    "epochs": 30,
    "batch_size": 64,
    "schedule": "cosine",
}
METHODS = ["ft", "ga", "rl", "neggrad_plus", "salun", "scrub", "l1_sparse", "bad_teacher", "fisher", "ssd", "if"]
SCENARIOS = [
    {"kind": "random", "fraction": 0.05, "label": "random5"},
    {"kind": "random", "fraction": 0.2, "label": "random20"},
    {"kind": "long_tail", "fraction": 0.1, "profile": "exp", "ratio": 10, "label": "long_tail_r10"},
    {"kind": "long_tail", "fraction": 0.1, "profile": "exp", "ratio": 50, "label": "long_tail_r50"},
    {"kind": "class", "classes": [7], "label": "class7"},
    {"kind": "subclass", "classes": [5], "fraction": 0.5, "label": "subclass5"},
]
FASHION_SCENARIOS = [
    {"kind": "random", "fraction": 0.05, "label": "random5"},
    {"kind": "long_tail", "fraction": 0.1, "profile": "exp", "ratio": 10, "label": "long_tail_r10"},
    {"kind": "class", "classes": [2], "label": "class2"},
    {"kind": "subclass", "classes": [4], "fraction": 0.5, "label": "subclass4"},
]
TABULAR = [{"name": "adult", "subset": 4000, "label": "adult4k"}, "german", "compas"]
TABULAR_SCENARIOS = [
    {"kind": "random", "fraction": 0.1, "label": "random10"},
    {"kind": "subclass", "classes": [1], "fraction": 0.3, "label": "subclass1"},
]
CELL = ["dataset", "scenario", "seed"]


def config(
    name: str,
    datasets: list,
    scenarios: list,
    seeds: list[int],
    stop: str,
    methods: list[str] = METHODS,
    stopping: dict | None = None,
    mia_fits: int = 1,
) -> BenchConfig:
    """``stopping``: an overlay of every method's ``stopping`` options (StopOptions) — for trying a
    change of the auto-stop / proxy settings; None = library defaults. ``mia_fits``: MIA-efficacy averaged over
    that many attack fits (1: SalUn's single attack, the default)."""
    method_options = {m: {"stopping": stopping} for m in methods} if stopping else {}
    return BenchConfig(
        name=name,
        datasets=datasets,
        model="mlp",
        train=TRAIN,
        scenarios=scenarios,
        methods=list(methods),
        method_options=method_options,
        seeds=seeds,
        metrics=["accuracy", "mia_efficacy"],
        metric_options={"mia_efficacy": {"fits": mia_fits}} if mia_fits != 1 else {},
        stop=stop,
        include_original=True,
        noise_floor=True,
    )


TIE = 0.005  # Avg.Gap points: a cell whose Avg.Gap equals θ_o's to this is a tie, not a loss


def method_table(df: pd.DataFrame, failed: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per method: cells, won, the cells not won as tied / worse within the noise floor / worse
    beyond it, collapsed, no_op, failed, mean Avg.Gap (method vs original over the cells the method has),
    mean passes."""
    orig = (
        df[df["method"] == "original"]
        .set_index(CELL)[["avg_gap", "RA"]]
        .rename(columns={"avg_gap": "orig_gap", "RA": "orig_RA"})
    )
    rows = []
    for m, g in df[df["method"] != "original"].groupby("method", sort=False):
        g = g.join(orig, on=CELL)
        nfail = 0 if failed is None or failed.empty else int((failed["method"] == m).sum())
        worse = g["avg_gap"] - g["orig_gap"]
        rows.append(
            dict(
                method=m,
                cells=len(g) + nfail,
                won=int((worse < 0).sum()),
                # the cells not won: equal to θ_o's Avg.Gap (to 0.005: θ_o kept, or a move no metric shows),
                # worse by at most the cell's noise floor, or worse by more
                tied=int((worse.abs() < TIE).sum()),
                worse_in_floor=int(((worse >= TIE) & (worse <= g["avg_gap_floor"])).sum()),
                worse_beyond_floor=int(((worse >= TIE) & (worse > g["avg_gap_floor"])).sum()),
                collapsed=int((g["RA"] < g["orig_RA"] - 5).sum()),
                no_op=int((~g["moved"].astype(bool) | (g["param_change"] == 0)).sum()),
                failed=nfail,
                gap=g["avg_gap"].mean(),
                orig_gap=g["orig_gap"].mean(),
                worst_ratio=(g["avg_gap"] / g["orig_gap"]).max(),
                unlearn_passes=g["unlearn_passes"].mean(),
                eval_passes=g["eval_passes"].mean(),
                unlearn_s=g["unlearn_s"].mean(),
            )
        )
    return pd.DataFrame(rows).set_index("method")


def failures(out: Path) -> pd.DataFrame:
    """Failed jobs recorded by the bench store (method label, scenario, seed, error)."""
    import json
    import sqlite3

    db = out / "results.db"
    if not db.exists():
        return pd.DataFrame(columns=["method", "scenario", "seed", "error"])
    con = sqlite3.connect(db)
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(failures)")]
        recs = con.execute("SELECT * FROM failures").fetchall()
    finally:
        con.close()
    rows = []
    for rec in recs:
        r = dict(zip(cols, rec))
        spec = next((json.loads(v) for v in r.values() if isinstance(v, str) and v.startswith("{")), {})
        err = next((v for k, v in r.items() if k in ("error", "message")), "")
        rows.append(
            dict(
                method=(spec.get("method") or {}).get("label") or (spec.get("method") or {}).get("name"),
                scenario=spec.get("scenario_label"),
                seed=spec.get("seed"),
                error=err,
            )
        )
    return pd.DataFrame(rows, columns=["method", "scenario", "seed", "error"])


def unresolved(out: Path) -> dict[str, bool]:
    """Per job (``config_hash``) under ``stop: auto``, whether its held-out data could show no generalisation gap at
    all — θ_o right on every held-out sample the proxy's targets rest on (:func:`~unlearnkit.stopping.unresolved_bound`,
    read off the job's auto summary); a property of the cell (θ_o, D_f, the held-out split), the same for every
    method."""
    from unlearnkit.bench.store import ResultStore
    from unlearnkit.stopping import unresolved_bound

    if not (out / "results.db").exists():
        return {}
    found = {}
    for key, history in ResultStore(out).histories().items():
        auto = next((h["auto_stop"] for h in reversed(history or []) if "auto_stop" in h), None)
        if auto is not None and "held_out_fa" in auto:
            found[key] = unresolved_bound(auto) is not None
    return found


def resolution_line(df: pd.DataFrame) -> str | None:
    """Cells won where the held-out data can show the gap and where it cannot (``unresolved``: a cell counts as
    unresolved where a job in it found so)."""
    if "unresolved" not in df or not df["unresolved"].notna().any():
        return None
    orig = df[df["method"] == "original"].set_index(CELL)["avg_gap"].rename("orig_gap")
    cells = (
        df.groupby(CELL)["unresolved"].agg(lambda s: bool(s.fillna(False).astype(bool).any())).rename("cell_unresolved")
    )
    g = df[df["method"] != "original"].join(orig, on=CELL).join(cells, on=CELL)
    g["won"] = g["avg_gap"] < g["orig_gap"]
    u, r = g[g["cell_unresolved"]], g[~g["cell_unresolved"]]
    return (
        f"held-out data that cannot show the gap (θ_o right on every held-out sample the targets rest on; "
        f"stopping.unresolved_bound): {int(cells.sum())} of {len(cells)} cells; won there {int(u['won'].sum())} of "
        f"{len(u)}, elsewhere {int(r['won'].sum())} of {len(r)}"
        + (f" ({100 * r['won'].mean():.1f} %)" if len(r) else "")
    )


def misses(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that lose to θ_o or collapse."""
    orig = (
        df[df["method"] == "original"]
        .set_index(CELL)[["avg_gap", "RA"]]
        .rename(columns={"avg_gap": "orig_gap", "RA": "orig_RA"})
    )
    g = df[df["method"] != "original"].join(orig, on=CELL)
    bad = g[(g["avg_gap"] >= g["orig_gap"]) | (g["RA"] < g["orig_RA"] - 5)]
    return bad[
        CELL
        + [
            "method",
            "avg_gap",
            "orig_gap",
            "avg_gap_floor",
            "FA",
            "FA_retrain",
            "RA",
            "orig_RA",
            "TA",
            "MIA",
            "MIA_retrain",
            "moved",
        ]
    ]


def report(frames: dict[str, pd.DataFrame], fails: dict[str, pd.DataFrame]) -> str:
    tabs = {mode: method_table(df, fails.get(mode)) for mode, df in frames.items()}
    out = []
    if {"auto", "none"} <= set(tabs):
        a, b = tabs["auto"], tabs["none"]
        out.append(
            "| method | won (none → auto) | collapsed (none → auto) | no-op auto | failed none | "
            "Avg.Gap none → auto (θ_o) | passes none → auto (+eval auto) |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for m in a.index:
            ra, rb = a.loc[m], b.loc[m] if m in b.index else None
            bw = f"{int(rb.won)}/{int(rb.cells)}" if rb is not None else "–"
            bc = f"{int(rb.collapsed)}" if rb is not None else "–"
            bf = f"{int(rb.failed)}" if rb is not None else "–"
            bg = f"{rb.gap:.2f}" if rb is not None else "–"
            bp = f"{rb.unlearn_passes:.0f}" if rb is not None else "–"
            out.append(
                f"| {m} | {bw} → {int(ra.won)}/{int(ra.cells)} | {bc} → {int(ra.collapsed)} | {int(ra.no_op)} | "
                f"{bf} | {bg} → {ra.gap:.2f} ({ra.orig_gap:.2f}) | {bp} → {ra.unlearn_passes:.0f} "
                f"(+{ra.eval_passes:.0f}) |"
            )
    for mode, t in tabs.items():
        out.append(f"\nstop={mode}:\n" + t.to_string(float_format=lambda v: f"{v:.2f}"))
        tot = t[["cells", "won", "tied", "worse_in_floor", "worse_beyond_floor", "collapsed", "no_op", "failed"]].sum()
        out.append(
            f"total: won {int(tot.won)}/{int(tot.cells)} ({100 * tot.won / tot.cells:.1f} %); not won: tied "
            f"{int(tot.tied)}, worse within the noise floor {int(tot.worse_in_floor)}, worse beyond it "
            f"{int(tot.worse_beyond_floor)}; collapsed {int(tot.collapsed)}, no-op {int(tot.no_op)}, "
            f"failed {int(tot.failed)}"
        )
    for mode, df in frames.items():
        orig = df[df["method"] == "original"].set_index(CELL)["avg_gap"].rename("orig_gap")
        g = df[df["method"] != "original"].join(orig, on=CELL)
        g["won"] = g["avg_gap"] < g["orig_gap"]
        g["where"] = g["dataset"] + " " + g["scenario"]
        piv = g.pivot_table(index="method", columns="where", values="won", aggfunc="sum", sort=False)
        n = g.pivot_table(index="method", columns="where", values="won", aggfunc="count", sort=False)
        out.append(
            f"\nstop={mode}: cells won per scenario (of {int(n.min().min())}–{int(n.max().max())} seeds):\n"
            + piv.fillna(0).astype(int).to_string()
        )
        per_ds = g.groupby("dataset", sort=False)["won"].agg(["sum", "count"])
        out.append(
            "won per data set: "
            + ", ".join(
                f"{d} {int(r['sum'])}/{int(r['count'])} ({100 * r['sum'] / r['count']:.1f} %)"
                for d, r in per_ds.iterrows()
            )
        )
        if (line := resolution_line(df)) is not None:
            out.append(line)
        floor = df.groupby(["dataset", "scenario"])["avg_gap_floor"].mean()
        og = df[df["method"] == "original"].groupby(["dataset", "scenario"])["avg_gap"].mean()
        out.append(
            "θ_o's mean Avg.Gap / noise floor per scenario: "
            + ", ".join(f"{d} {s} {og[(d, s)]:.2f}/{floor[(d, s)]:.2f}" for d, s in og.index)
        )
    for mode, df in frames.items():
        bad = misses(df)
        out.append(f"\nstop={mode}: rows that lose to θ_o or collapse ({len(bad)}):")
        if len(bad):
            out.append(bad.sort_values(["method"] + CELL).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        f = fails.get(mode)
        if f is not None and len(f):
            out.append(f"stop={mode}: failed jobs ({len(f)}):")
            for r in f.itertuples():
                out.append(f"  {r.method} seed {r.seed} on {r.scenario}: {str(r.error)[:200]}")
    return "\n".join(out)


TUNED_PRESETS = ("quick", "baselines")  # digits; ``--presets`` adds e.g. fashion (full Fashion-MNIST, ~1 h on 2 cores)


def untuned(cfg: BenchConfig) -> BenchConfig:
    """``cfg`` with every method's options removed (library defaults) and ``stop: auto``."""
    raw = cfg.model_dump(mode="json")
    raw["name"] = f"{cfg.name}_defaults_auto"
    raw["method_options"] = {}
    raw["methods"] = [
        {k: v for k, v in m.items() if k != "options"} if isinstance(m, dict) else m for m in raw["methods"]
    ]
    raw["stop"] = "auto"
    return BenchConfig.model_validate(raw)


def tuned_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per method: cells, mean Avg.Gap tuned (as shipped) and defaults + auto, their ratio, θ_o's mean
    Avg.Gap and the noise floor over the same cells (``excess``: defaults + auto − tuned, in Avg.Gap points); ``frames``: mode ("tuned" / "defaults_auto") → rows."""
    key = ["preset", *CELL, "method"]
    t = frames["tuned"][[*key, "avg_gap", "avg_gap_floor"]]
    d = frames["defaults_auto"]
    flags = "unresolved" in d
    d = d[[*key, "avg_gap", *(["unresolved"] if flags else [])]].rename(columns={"avg_gap": "avg_gap_auto"})
    both = t.merge(d, on=key, how="inner")
    orig = both[both["method"] == "original"].set_index(["preset", *CELL])["avg_gap"].rename("orig_gap")
    both = both[~both["method"].isin(["original", "retrain"])].join(orig, on=["preset", *CELL])
    rows = []
    for m, g in both.groupby("method", sort=False):
        rows.append(
            dict(
                method=m,
                presets=" ".join(sorted(g["preset"].unique())),
                cells=len(g),
                tuned=g["avg_gap"].mean(),
                defaults_auto=g["avg_gap_auto"].mean(),
                ratio=g["avg_gap_auto"].mean() / g["avg_gap"].mean(),
                excess=g["avg_gap_auto"].mean() - g["avg_gap"].mean(),
                orig=g["orig_gap"].mean(),
                floor=g["avg_gap_floor"].mean(),
            )
        )
        if flags:  # the same, over the cells whose held-out data can show a gap at all (resolution_line)
            r = g[~g["unresolved"].fillna(False).astype(bool)]
            rows[-1].update(
                resolved_cells=len(r),
                ratio_resolved=r["avg_gap_auto"].mean() / r["avg_gap"].mean() if len(r) else float("nan"),
            )
    return pd.DataFrame(rows).set_index("method")


def run_tuned(args) -> None:
    from unlearnkit.bench.config import load_config

    frames: dict[str, list[pd.DataFrame]] = {"tuned": [], "defaults_auto": []}
    for preset in args.presets:
        shipped = load_config(preset=preset)
        raw = shipped.model_dump(mode="json")
        raw["seeds"], raw["noise_floor"] = list(args.seeds), True
        # --methods: only those of the preset's methods (θ_o and θ_r always: the table reads θ_o's Avg.Gap)
        name = lambda m: m if isinstance(m, str) else m["name"]  # noqa: E731
        keep = [m for m in raw["methods"] if name(m) in (*args.methods, "original", "retrain")]
        if not any(name(m) in args.methods for m in keep):
            continue
        raw["methods"] = keep
        raw["method_options"] = {k: v for k, v in (raw.get("method_options") or {}).items() if k in args.methods}
        if args.mia_fits != 1:  # both columns judged by the same averaged attack
            mo = raw.setdefault("metric_options", {})
            mo["mia_efficacy"] = {**(mo.get("mia_efficacy") or {}), "fits": args.mia_fits}
        shipped = BenchConfig.model_validate(raw)
        for mode, cfg in (("tuned", shipped), ("defaults_auto", untuned(shipped))):
            out = Path(args.out) / "tuned" / mode / preset
            if not args.report_only:
                t0 = time.perf_counter()
                res = run_bench(cfg, out, cache_dir=args.cache_dir, quiet=True, jobs=args.jobs, data_dir=args.data_dir)
                print(f"{cfg.name}: {res.ran} jobs ran, {len(res.failed)} failed, {time.perf_counter() - t0:.0f} s")
            df = pd.read_csv(out / "results.csv")
            if mode == "defaults_auto":
                df["unresolved"] = df["config_hash"].map(unresolved(out))
            frames[mode].append(df[df["seed"].isin(args.seeds)].assign(preset=preset))
    table = tuned_table({k: pd.concat(v, ignore_index=True) for k, v in frames.items()})
    print("\nmean Avg.Gap on the tuned presets' own cells: tuned (as shipped, stop none) vs library defaults + auto")
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    within = table["ratio"] <= 1.3
    missed = f" ({', '.join(table.index[~within])} not)" if (~within).any() else ""
    print(f"within 1.3× of tuned: {int(within.sum())} of {len(table)} methods{missed}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--modes", nargs="+", default=["auto", "none"], choices=["auto", "none"])
    ap.add_argument(
        "--fashion",
        action="store_true",
        help="add a Fashion-MNIST subset (3000) on random 5%%, long_tail ratio 10, class 2 and half of class 4",
    )
    ap.add_argument("--fashion-subset", type=int, default=3000)
    ap.add_argument(
        "--tabular",
        action="store_true",
        help="add Adult (4000 rows), German credit and COMPAS on random 10%% and 30%% of class 1",
    )
    ap.add_argument(
        "--data-dir",
        default=os.environ.get("UNLEARNKIT_DATA"),
        help="Fashion-MNIST folder (else $UNLEARNKIT_DATA, else the loader's default places)",
    )
    ap.add_argument("--out", default="/tmp/validate-defaults")
    ap.add_argument("--cache-dir", default="/tmp/validate-cache")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument(
        "--tuned",
        action="store_true",
        help="compare library defaults + auto with the tuned presets (quick, baselines) on their own cells",
    )
    ap.add_argument(
        "--presets",
        nargs="+",
        default=list(TUNED_PRESETS),
        help="--tuned: the tuned presets compared on their own cells (default: quick baselines; fashion needs the "
        "Fashion-MNIST files)",
    )
    ap.add_argument(
        "--stopping",
        type=json.loads,
        default=None,
        metavar="JSON",
        help='overlay every method\'s stopping options, e.g. \'{"proxy": {"w_dist": 0}}\' (use '
        "another --out); default: library defaults",
    )
    ap.add_argument(
        "--mia-fits",
        type=int,
        default=1,
        help="MIA-efficacy averaged over this many attack fits (1: SalUn's single attack); with more, a cell is "
        "judged by an Avg.Gap whose MIA part is less at the mercy of one attack's operating point (use another --out)",
    )
    args = ap.parse_args(argv)
    # "did not change the model: stop='auto' kept θ_o" warnings: counted as no-op in the tables instead
    warnings.simplefilter("ignore", RuntimeWarning)
    if args.tuned:
        run_tuned(args)
        return

    parts = [("digits", ["digits"], SCENARIOS)]
    if args.fashion:
        parts.append(
            (
                "fashion",
                [{"name": "fashion_mnist", "subset": args.fashion_subset, "label": "fashion3k"}],
                FASHION_SCENARIOS,
            )
        )
    if args.tabular:
        parts.append(("tabular", TABULAR, TABULAR_SCENARIOS))
    frames, fails = {}, {}
    for mode in args.modes:
        dfs, fl = [], []
        for tag, datasets, scenarios in parts:
            out = Path(args.out) / mode / tag
            if not args.report_only:
                t0 = time.perf_counter()
                cfg = config(
                    f"defaults_transfer_{tag}_{mode}",
                    datasets,
                    scenarios,
                    args.seeds,
                    mode,
                    args.methods,
                    args.stopping,
                    args.mia_fits,
                )
                res = run_bench(cfg, out, cache_dir=args.cache_dir, quiet=True, jobs=args.jobs, data_dir=args.data_dir)
                print(
                    f"{cfg.name}: {res.ran} jobs ran, {res.skipped_done} already done, {res.trained} models "
                    f"trained, {len(res.failed)} failed, {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
            if (out / "results.csv").exists():
                d = pd.read_csv(out / "results.csv")
                if mode == "auto":
                    d["unresolved"] = d["config_hash"].map(unresolved(out))
                dfs.append(d)
            fl.append(failures(out))
        if dfs:
            df = pd.concat(dfs, ignore_index=True)
            frames[mode] = df[df["method"].isin(["original", *args.methods])]
            fails[mode] = pd.concat(fl, ignore_index=True)
    print(report(frames, fails))


if __name__ == "__main__":
    main()
