"""FaLW reproduction at small scale (FaLW, Yu et al., ICLR 2026; spec ``methods/falw.md``).

Long-tailed forget sets (``long_tail`` scenario, ``exp`` profile) on digits (Fashion-MNIST subset with
``--dataset fashion_mnist``), an MLP, 3 seeds. Each base method runs with ``uniform``, ``falw`` and
``falw`` τ = 0 (the balancing-factor ablation); prints mean ± std over seeds of FA, RA, TA, MIA,
Avg.Gap (to θ_r), dFA_head / dFA_tail, heterogeneity, skew and unlearning seconds, plus FaLW's time
overhead over the plain method (refresh every step). Two regimes of the base methods' step sizes:
``moderate`` (the ``falw`` preset's defaults) and ``large`` (steps big enough to degrade the whole model).

    python benchmarks/falw_reproduction.py                      # digits, both regimes, 3 seeds
    python benchmarks/falw_reproduction.py --regimes moderate --methods rl --seeds 0
    python benchmarks/falw_reproduction.py --dataset fashion_mnist --subset 5000 --data-dir ../shared/data
    python benchmarks/falw_reproduction.py --json out.json --plot out_dir
    python benchmarks/falw_reproduction.py --scale fashion --data-dir DIR [--run-dir runs/fashion_lt]
        # the fashion_lt preset through the bench runner (cached models, resumable; ~1 h cold on 2 CPU
        # cores): full Fashion-MNIST, cnn, 2 levels with ≥ 20 forget samples per class,
        # rl/ga/neggrad_plus/salun/scrub × uniform/falw, fixed schedules ("fixed") and stop: auto
        # ("auto"), 3 seeds, with the noise floor Avg.Gap(θ_r′, θ_r) per level

The paper's claim checked here: FaLW lowers Avg.Gap to retrain and shrinks the tail deviation.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import yaml

import unlearnkit as uk
from unlearnkit.bench.summary import paired_difference
from unlearnkit.eval import METRICS, Evaluation, avg_gap
from unlearnkit.methods import METHODS
from unlearnkit.stopping import kept_run

PRESETS = {
    "digits": Path(uk.__file__).parent / "configs" / "falw.yaml",
    "fashion": Path(uk.__file__).parent / "configs" / "fashion_lt.yaml",
}
PRESET = PRESETS["digits"]

# "large" steps: the spec's degrading regime (RA/TA fall with the forget accuracy), 10× the moderate lr
# for rl/salun, the edge of divergence for ga, the library default for neggrad_plus.
LARGE = {
    "rl": {"lr": 0.003, "epochs": 1},
    "salun": {"lr": 0.003, "epochs": 1},
    "ga": {"lr": 0.05, "epochs": 1},
    "neggrad_plus": {"lr": 0.01, "epochs": 5},
}
WEIGHTINGS = [("uniform", "uniform", {}), ("falw", "falw", {}), ("falw_tau0", "falw", {"tau": 0.0})]
COLUMNS = ["FA", "RA", "TA", "MIA", "Avg.Gap", "dFA_head", "dFA_tail", "heterogeneity", "skew", "seconds"]


def preset(scale: str = "digits") -> dict:
    with open(PRESETS[scale]) as f:
        return yaml.safe_load(f)


def evaluate(model, ev: Evaluation) -> dict:
    """accuracy + MIA + deviation columns. A fresh Evaluation per model: its logits cache is keyed by
    id(model), which a freed model's successor can reuse."""
    ev = Evaluation(ev.dataset, ev.split, ev.device, ev.seed, ev.original, ev.retrained)
    row = {}
    for name in ("accuracy", "mia_efficacy", "deviation"):
        row.update(METRICS.get(name)().compute(model, ev))
    return row


@torch.no_grad()
def finite_outputs(model, ds, split) -> bool:
    return bool(torch.isfinite(model.eval()(ds.inputs(torch.as_tensor(split.train)))).all())


def fmt(values) -> str:
    v = np.array([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return "nan"
    return f"{v.mean():6.2f}±{v.std():4.2f}" if len(v) > 1 else f"{v.mean():6.2f}"


def run(args) -> list[dict]:
    cfg = preset(args.scale)
    dev = torch.device(args.device)
    ds = uk.load_dataset(args.dataset, data_dir=args.data_dir, **({"subset": args.subset} if args.subset else {}))
    train_cfg = uk.TrainConfig(**cfg.get("train", {}))
    model_cfg = cfg.get("model", "mlp")
    model_name, model_opts = (
        (model_cfg, {}) if isinstance(model_cfg, str) else (model_cfg["name"], dict(model_cfg.get("options", {})))
    )
    moderate = cfg.get("method_options", {})
    regimes = {"moderate": moderate, "large": {m: {**moderate.get(m, {}), **LARGE.get(m, {})} for m in LARGE}}
    if args.train_epochs:
        train_cfg = train_cfg.model_copy(update={"epochs": args.train_epochs})
    falw_opts = cfg.get("weighting_options", {}).get("falw", {})
    methods = [m for m in args.methods if m in METHODS]
    rows = []

    def new_model():
        return uk.build_model(model_name, ds.input_shape, ds.num_classes, **model_opts)

    levels = args.levels or [(sc["fraction"], sc["ratio"]) for sc in cfg["scenarios"] if sc["kind"] == "long_tail"]
    methods = [m for m in methods if m in cfg.get("methods", methods) or args.scale == "digits"]
    for level in [] if args.only_timing else levels:
        fraction, ratio = level
        for seed in args.seeds:
            split = uk.make_split(
                ds,
                "long_tail",
                seed=seed,
                unseen_fraction=cfg.get("unseen_fraction", 0.1),
                fraction=fraction,
                profile="exp",
                ratio=ratio,
            )

            torch.manual_seed(seed)
            original = uk.train_model(new_model(), ds, split.train, train_cfg, dev, seed=seed)
            torch.manual_seed(seed)
            retrained = uk.train_model(new_model(), ds, split.retain, train_cfg, dev, seed=seed)
            ev = Evaluation(ds, split, dev, seed=seed, original=original, retrained=retrained)
            ref = evaluate(retrained, ev)
            base = dict(level=f"f={fraction} r={ratio}", seed=seed, counts=split.info["forget_counts"])
            orig = evaluate(original, ev)
            rows.append(
                {
                    **base,
                    **orig,
                    "regime": "-",
                    "method": "original",
                    "weighting": "-",
                    "Avg.Gap": avg_gap(orig, ref),
                    "seconds": 0.0,
                }
            )
            rows.append(
                {**base, **ref, "regime": "-", "method": "retrain", "weighting": "-", "Avg.Gap": 0.0, "seconds": 0.0}
            )
            for regime in args.regimes:
                for method in methods:
                    for label, wname, wopts in WEIGHTINGS:
                        if label not in args.weightings:
                            continue
                        try:
                            res = uk.unlearn(
                                original,
                                ds,
                                split,
                                method,
                                wname,
                                options=regimes[regime].get(method, {}),
                                weighting_options={
                                    **(falw_opts if wname == "falw" else {}),
                                    **wopts,
                                    **(
                                        {"tau": args.tau}
                                        if wname == "falw" and "tau" not in wopts and args.tau is not None
                                        else {}
                                    ),
                                },
                                device=dev,
                                seed=seed,
                                stop=args.stop,
                            )
                            if not finite_outputs(res.model, ds, split):
                                raise uk.UnlearnkitError("the model's outputs are not finite after the last step")
                        except uk.UnlearnkitError as e:  # diverged (GA-type losses are unbounded): a NaN row
                            print(f"  {base['level']} seed={seed} {regime} {method} {label}: DIVERGED ({e})")
                            rows.append(
                                {
                                    **base,
                                    "regime": regime,
                                    "method": method,
                                    "weighting": label,
                                    "Avg.Gap": float("nan"),
                                    "seconds": float("nan"),
                                    "diverged": True,
                                }
                            )
                            continue
                        r = evaluate(res.model, ev)
                        rows.append(
                            {
                                **base,
                                **r,
                                "regime": regime,
                                "method": method,
                                "weighting": label,
                                "Avg.Gap": avg_gap(r, ref),
                                "seconds": res.seconds,
                                "history": kept_run(res.history) if args.plot else None,
                            }
                        )
                        print(
                            f"  {rows[-1]['level']} seed={seed} {regime:8s} {method:12s} {label:10s} "
                            f"gap={rows[-1]['Avg.Gap']:.2f} t={res.seconds:.2f}s",
                            flush=True,
                        )
    if args.timing_repeats:
        print("\nFaLW time overhead, 5 epochs per run, min of", args.timing_repeats, "interleaved repeats:")
        print(timing(args, cfg, ds, train_cfg, new_model))
    return rows


def table(rows: list[dict]) -> str:
    groups = defaultdict(list)
    for r in rows:
        groups[(r["level"], r["regime"], r["method"], r["weighting"])].append(r)
    head = "| level | regime | method | weighting | " + " | ".join(COLUMNS) + " | diverged |"
    lines = [head, "|" + "---|" * (5 + len(COLUMNS))]
    for (level, regime, method, w), rs in groups.items():
        lines.append(
            f"| {level} | {regime} | {method} | {w} | "
            + " | ".join(fmt([r.get(c) for r in rs]) for c in COLUMNS)
            + f" | {sum(bool(r.get('diverged')) for r in rs)}/{len(rs)} |"
        )
    return "\n".join(lines)


def overhead(rows: list[dict]) -> str:
    """FaLW seconds / plain seconds per (regime, method), averaged over levels and seeds."""
    t = defaultdict(list)
    for r in rows:
        if r["weighting"] in ("uniform", "falw"):
            t[(r["regime"], r["method"], r["weighting"])].append(r["seconds"])
    out = []
    for (regime, method, w), secs in sorted(t.items()):
        if w == "falw" and (regime, method, "uniform") in t:
            plain = np.nanmean(t[(regime, method, "uniform")])
            out.append(
                f"{regime:8s} {method:12s} plain {plain:.3f}s  falw {np.nanmean(secs):.3f}s  "
                f"overhead {np.nanmean(secs) / plain:.2f}x"
            )
    return "\n".join(out)


def timing(args, cfg, ds, train_cfg, new_model) -> str:
    """FaLW's time overhead measured apart from the grid: each method 5 epochs at a tiny lr (so every
    run does the same work), uniform / falw (refresh every step) / falw refresh_every=10 interleaved,
    ``--timing-repeats`` times; the minimum seconds of each."""
    fraction, ratio = (
        args.levels or [(sc["fraction"], sc["ratio"]) for sc in cfg["scenarios"] if sc["kind"] == "long_tail"]
    )[0]
    split = uk.make_split(
        ds,
        "long_tail",
        seed=0,
        unseen_fraction=cfg.get("unseen_fraction", 0.1),
        fraction=fraction,
        profile="exp",
        ratio=ratio,
    )
    torch.manual_seed(0)
    model = uk.train_model(new_model(), ds, split.train, train_cfg, torch.device("cpu"), seed=0)
    variants = [("uniform", {}), ("falw", {"refresh_every": 1}), ("falw", {"refresh_every": 10})]
    lines = [f"unseen split {len(split.unseen)} samples, forget {len(split.forget)}, retain {len(split.retain)}"]
    for method in [m for m in args.methods if m in METHODS]:
        best = [float("inf")] * len(variants)
        for _ in range(args.timing_repeats):
            for i, (w, wo) in enumerate(variants):
                r = uk.unlearn(
                    model,
                    ds,
                    split,
                    method,
                    w,
                    options={"epochs": 5, "lr": 1e-5},
                    weighting_options=wo,
                    device="cpu",
                    seed=0,
                    stop="none",  # timing: the same steps for every variant
                )
                best[i] = min(best[i], r.seconds)
        lines.append(
            f"{method:12s} plain {best[0]:.3f}s  falw {best[1]:.3f}s ({best[1] / best[0]:.2f}x)  "
            f"falw refresh_every=10 {best[2]:.3f}s ({best[2] / best[0]:.2f}x)"
        )
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    """Per (level, regime, method): does falw lower Avg.Gap and |dFA_tail| vs uniform? Paired over the same
    seeds (falw − uniform, mean ± 95 % t-interval); "within noise" when the interval contains 0."""
    g = defaultdict(list)
    for r in rows:
        g[(r["level"], r["regime"], r["method"], r["weighting"])].append(r)
    out = []
    for (level, regime, method, w), rs in g.items():
        if w != "falw" or (level, regime, method, "uniform") not in g:
            continue
        by_seed = {r["seed"]: r for r in g[(level, regime, method, "uniform")]}
        pairs = [(by_seed[r["seed"]], r) for r in rs if r["seed"] in by_seed]
        gap = paired_difference([f["Avg.Gap"] for _, f in pairs], [u["Avg.Gap"] for u, _ in pairs])
        tail = paired_difference(
            [abs(f.get("dFA_tail", math.nan)) for _, f in pairs], [abs(u.get("dFA_tail", math.nan)) for u, _ in pairs]
        )

        def verdict_of(d, better):
            if d["within_noise"]:
                return "within noise"
            return better if d["mean"] < 0 else "worse"

        out.append(
            f"{level:14s} {regime:8s} {method:12s} Avg.Gap falw−uniform {gap['mean']:+5.2f}±{gap['ci']:.2f} "
            f"(n={gap['n']}: {verdict_of(gap, 'lower')})  |dFA_tail| {tail['mean']:+5.2f}±{tail['ci']:.2f} "
            f"({verdict_of(tail, 'smaller')})"
        )
    return "\n".join(out)


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    for level in sorted({r["level"] for r in rows}):
        rs = [r for r in rows if r["level"] == level and r["seed"] == rows[0]["seed"]]
        counts = np.array(rs[0]["counts"])
        order = np.argsort(-counts, kind="stable")
        fig, ax = plt.subplots(figsize=(8, 4))
        for r in rs:
            if r["regime"] in ("-", "moderate", "fixed") and r["weighting"] in ("-", "uniform", "falw"):
                fa = np.array([np.nan if v is None else v for v in json.loads(r["FA_per_class"])])[order]
                ax.plot(range(len(order)), fa, marker="o", label=f"{r['method']} {r['weighting']}".strip(" -"))
        ax.set_xticks(range(len(order)), [f"{c}\n({counts[c]})" for c in order])
        ax.set_xlabel("class (forget count), head → tail")
        ax.set_ylabel("FA_c (%)")
        ax.set_title(f"per-class forget accuracy, {level}, seed {rs[0]['seed']}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"per_class_fa_{level.replace(' ', '_').replace('=', '')}.png", dpi=100)
        plt.close(fig)
        regimes = [g for g in ("moderate", "large", "fixed", "auto") if any(r["regime"] == g for r in rs)]
        fig, axes = plt.subplots(1, len(regimes), figsize=(6 * len(regimes), 4), squeeze=False, sharey=True)
        for ax, regime in zip(axes[0], regimes):
            for i, r in enumerate(
                x for x in rs if x["regime"] == regime and x["weighting"] == "falw" and x.get("history")
            ):
                for g, style in (("head", "-"), ("mid", "--"), ("tail", ":")):
                    ys = [h[f"falw_mean_w_{g}"] for h in r["history"] if f"falw_mean_w_{g}" in h]
                    ax.plot(ys, style, color=f"C{i}", lw=1, label=f"{r['method']} {g}")
            ax.axhline(1.0, color="grey", lw=0.5)
            ax.set_title(f"{regime} steps")
            ax.set_xlabel("step")
        axes[0][0].set_ylabel("mean FaLW weight in the forget batch")
        axes[0][-1].legend(fontsize=6, ncol=2)
        fig.suptitle(f"FaLW weights by head / mid / tail, {level}, seed {rs[0]['seed']}")
        fig.tight_layout()
        fig.savefig(out / f"falw_weights_{level.replace(' ', '_').replace('=', '')}.png", dpi=100)
        plt.close(fig)


BENCH_COLUMNS = {"FA": "FA", "RA": "RA", "TA": "TA", "MIA": "MIA", "avg_gap": "Avg.Gap", "unlearn_s": "seconds"}


def run_scale_bench(args) -> list[dict]:
    """``--scale fashion``: run (or resume) the fashion_lt preset with the bench runner and return its rows in
    this script's shape: regime "fixed" (the preset's schedules, stop: none) or "auto" (``<method>_auto``
    rows, stop: auto); the original's rows, and the noise floor per level and seed as ``floor`` rows."""
    import pandas as pd

    from preset_cut import reduced, rows_of

    from unlearnkit.bench.config import load_config
    from unlearnkit.bench.runner import run_bench

    cfg = load_config(preset="fashion_lt")
    cfg = reduced(cfg, args.seeds, args.level_labels, args.methods, args.bench_regimes)
    out = Path(args.run_dir)
    t0 = time.perf_counter()
    run_bench(
        cfg, out, data_dir=args.data_dir, cache_dir=args.cache_dir, quiet=True, threads=args.threads, jobs=args.jobs
    )
    print(f"bench fashion_lt: {time.perf_counter() - t0:.0f} s this call, --jobs {args.jobs} ({out})")
    df = rows_of(pd.read_csv(out / "results.csv"), cfg)
    rows = []
    for _, r in df.iterrows():
        method = str(r["method"])
        regime = "auto" if method.endswith("_auto") else ("-" if method in ("original", "retrain") else "fixed")
        base = dict(
            level=r["scenario"],
            seed=int(r["seed"]),
            regime=regime,
            method=method.removesuffix("_auto"),
            weighting="-" if regime == "-" else r["weighting"],
            counts=json.loads(r["forget_counts"]),
        )
        values = {new: r.get(old) for old, new in BENCH_COLUMNS.items()}
        values.update({c: r.get(c) for c in ("dFA_head", "dFA_tail", "heterogeneity", "skew", "FA_per_class")})
        if method == "retrain":
            rows.append({**base, "method": "floor θ_r′", **values, "Avg.Gap": r["avg_gap_floor"]})
            values["Avg.Gap"] = 0.0
        if regime == "-" and r["weighting"] != "uniform":
            continue  # original/retrain are the same model under every weighting
        rows.append({**base, **values})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--scale",
        default="digits",
        choices=list(PRESETS),
        help="digits: the falw preset (MLP), trained here; fashion: the fashion_lt preset (full Fashion-MNIST, "
        "cnn, 2 levels, + scrub) through the bench runner (cached, resumable)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--run-dir", default="runs/fashion_lt", help="--scale fashion: the bench run directory")
    p.add_argument("--cache-dir", default=None, help="--scale fashion: the model cache (else the bench default)")
    p.add_argument("--threads", type=int, default=1, help="--scale fashion: torch threads per bench job")
    p.add_argument("--jobs", type=int, default=2, help="--scale fashion: parallel bench jobs (one per core)")
    p.add_argument(
        "--level-labels", nargs="+", default=None, help="--scale fashion: only these levels (e.g. f0.1r50 f0.1r100)"
    )
    p.add_argument(
        "--bench-regimes",
        nargs="+",
        default=["fixed", "auto"],
        choices=["fixed", "auto"],
        help="--scale fashion: the preset's fixed schedules and/or the <method>_auto rows",
    )
    p.add_argument("--train-epochs", type=int, default=None, help="override the preset's training epochs")
    p.add_argument("--dataset", default=None, help="default: the preset's (digits / fashion_mnist)")
    p.add_argument("--data-dir", default=None, help="where fashion-mnist/ lives (e.g. ../shared/data)")
    p.add_argument("--subset", type=int, default=None, help="e.g. 5000 for fashion_mnist")
    p.add_argument(
        "--levels",
        type=lambda s: tuple(float(v) for v in s.split(":")),
        nargs="+",
        default=None,
        help="fraction:ratio pairs of the exp long-tail profile (default: the preset's)",
    )
    p.add_argument(
        "--methods", nargs="+", default=None, help="default: rl ga neggrad_plus salun (+ scrub at --scale fashion)"
    )
    p.add_argument("--weightings", nargs="+", default=["uniform", "falw", "falw_tau0"])
    p.add_argument("--regimes", nargs="+", default=["moderate", "large"], choices=["moderate", "large"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument(
        "--stop", default="none", choices=["none", "auto"], help="none: the paper's fixed schedules (default); auto"
    )
    p.add_argument("--tau", type=float, default=None, help="override τ for the falw rows")
    p.add_argument("--timing-repeats", type=int, default=5, help="0 skips the separate overhead timing")
    p.add_argument("--only-timing", action="store_true", help="skip the grid, run only the overhead timing")
    p.add_argument("--json", type=Path, default=None, help="write all rows here")
    p.add_argument("--plot", type=Path, default=None, help="write per-class FA and FaLW weight plots here")
    args = p.parse_args()
    if args.dataset is None:
        args.dataset = "digits" if args.scale == "digits" else "fashion_mnist"
    if args.methods is None:
        args.methods = ["rl", "ga", "neggrad_plus", "salun"] + (["scrub"] if args.scale == "fashion" else [])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    t0 = time.perf_counter()
    rows = run_scale_bench(args) if args.scale == "fashion" else run(args)
    if not rows:
        return
    print()
    print(table(rows))
    print("\nFaLW time overhead in the grid runs above (FaLW at the preset's settings; short runs, noisy):")
    print(overhead(rows))
    print("\nPaper's claim (FaLW lowers Avg.Gap and shrinks the tail deviation):")
    print(verdict(rows))
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")
    if args.json:
        args.json.write_text(json.dumps([{k: v for k, v in r.items() if k != "history"} for r in rows], indent=1))
    if args.plot:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
