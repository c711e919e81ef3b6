"""Quality check of the baseline methods' default hyperparameters (issue 4).

On digits with the MLP (θ_o/θ_r: SGD lr 0.05, 30 epochs, batch 64, cosine, wd 5e-4), for the
``random`` (10%) and ``class<k>`` (one class each; ``--classes``, default 3) scenarios and seeds 0-2,
unlearn with each method's defaults (or a grid given with --grid) and print FA, RA, TA, MIA, Avg.Gap to
θ_r, ‖θ_u − θ_o‖ (``dθ``; ``unlearn``'s ``param_change``) and unlearn seconds (RTE), averaged over
seeds. A method's defaults pass when its Avg.Gap beats ``original``'s on every scenario.

    OMP_NUM_THREADS=1 python benchmarks/baselines.py                      # all methods, defaults
    python benchmarks/baselines.py --methods scrub --grid '{"lr": [0.005, 0.01]}'
    python benchmarks/baselines.py --methods fisher --classes 0 3 7 9     # several forgotten classes
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import warnings

import numpy as np
import torch

import unlearnkit as uk
from unlearnkit.eval import METRICS, Evaluation, avg_gap
from unlearnkit.cache import ModelCache, fingerprint

TRAIN = uk.TrainConfig(lr=0.05, epochs=30, batch_size=64, schedule="cosine", weight_decay=5e-4)
SCENARIOS = {"random": ("random", {"fraction": 0.1}), "class3": ("class", {"classes": [3]})}
METHODS = [
    "original",
    "retrain",
    "ft",
    "ga",
    "rl",
    "neggrad_plus",
    "scrub",
    "salun",
    "l1_sparse",
    "fisher",
    "bad_teacher",
    "ssd",
]
COLS = ("FA", "RA", "TA", "MIA")


def set_classes(classes) -> None:
    """Forget each of ``classes`` (one class-scenario per class) next to ``random``."""
    SCENARIOS.clear()
    SCENARIOS["random"] = ("random", {"fraction": 0.1})
    for c in classes:
        SCENARIOS[f"class{c}"] = ("class", {"classes": [c]})


def setups(seeds, cache_dir="/tmp/unlearnkit-baselines-cache"):
    """(scenario, seed, dataset, split, θ_o, θ_r, θ_r metrics, θ_r train seconds) per scenario × seed."""
    ds = uk.load_dataset("digits")
    cache = ModelCache(cache_dir)
    dev = torch.device("cpu")
    build = lambda: uk.build_model("mlp", ds.input_shape, ds.num_classes)  # noqa: E731
    out = []
    for scen, seed in itertools.product(SCENARIOS, seeds):
        kind, kw = SCENARIOS[scen]
        split = uk.make_split(ds, kind, seed=seed, **kw)
        models = {}
        for part in ("train", "retain"):
            key = fingerprint({"part": part, "split": getattr(split, part), "cfg": TRAIN, "seed": seed})

            def fit(m, part=part):
                torch.manual_seed(seed)
                return uk.train_model(m, ds, getattr(split, part), TRAIN, dev, seed=seed)

            def fresh():
                torch.manual_seed(seed)
                return build()

            models[part] = cache.get_or_train(key, fresh, fit, part)
        (orig, _), (retr, meta) = models["train"], models["retain"]
        ev = Evaluation(ds, split, dev, seed, original=orig, retrained=retr)
        ref = metrics(retr, ev)
        out.append(
            dict(
                scenario=scen,
                seed=seed,
                ds=ds,
                split=split,
                original=orig,
                retrained=retr,
                ref=ref,
                retrain_s=meta["train_s"],
                build=build,
            )
        )
    return out


def metrics(model, ev) -> dict:
    row = {}
    for name in ("accuracy", "mia_efficacy"):
        row.update(METRICS.get(name)().compute(model, ev))
    return {c: row[c] for c in COLS}


def run(setup, method, options=None) -> dict:
    if method == "retrain":
        row = dict(setup["ref"], gap=0.0, dtheta=float("nan"), seconds=setup["retrain_s"])
        return row
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = uk.unlearn(
                setup["original"],
                setup["ds"],
                setup["split"],
                method,
                options=options,
                device="cpu",
                seed=setup["seed"],
                new_model=setup["build"],
            )
    except uk.UnlearnkitError as e:  # e.g. a NaN loss: report the row as failed, keep going
        print(f"  {method} {setup['scenario']} seed {setup['seed']}: {e}")
        return {**{c: float("nan") for c in COLS}, "gap": float("nan"), "dtheta": float("nan"), "seconds": float("nan")}
    ev = Evaluation(
        setup["ds"], setup["split"], torch.device("cpu"), setup["seed"], setup["original"], setup["retrained"]
    )
    row = metrics(res.model, ev)
    row["gap"] = avg_gap(row, setup["ref"])
    row["dtheta"] = res.param_change
    row["seconds"] = res.seconds
    return row


def table(all_setups, method, options=None) -> dict[str, dict]:
    out = {}
    for scen in SCENARIOS:
        rows = [run(s, method, options) for s in all_setups if s["scenario"] == scen]
        out[scen] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", nargs="*", default=METHODS)
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--grid", default=None, help="JSON {option: [values]} swept for every listed method")
    ap.add_argument("--classes", nargs="*", type=int, default=[3], help="forgotten class of each class scenario")
    ap.add_argument("--cache-dir", default="/tmp/unlearnkit-baselines-cache")
    ap.add_argument("--compact", action="store_true", help="one line per setting: each scenario's FA/RA/Gap/dθ")
    args = ap.parse_args()
    set_classes(args.classes)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    all_setups = setups(args.seeds, args.cache_dir)
    base = table(all_setups, "original")
    grid = json.loads(args.grid) if args.grid else {}
    combos = [dict(zip(grid, v)) for v in itertools.product(*grid.values())] if grid else [None]
    print(
        f"{'method':<14}{'options':<40}{'scenario':<8}"
        + "".join(f"{c:>7}" for c in COLS)
        + f"{'Gap':>7}{'dθ':>7}{'RTE s':>7}  beats original"
    )
    for method in args.methods:
        for opts in combos:
            if method in ("original", "retrain") and opts:
                continue
            res = table(all_setups, method, opts)
            ok = all(res[s]["gap"] < base[s]["gap"] for s in SCENARIOS)
            if args.compact:
                print(
                    f"{method:<14}{json.dumps(opts or {}):<56}"
                    + "  ".join(
                        f"{s}: FA {r['FA']:6.2f} RA {r['RA']:6.2f} Gap {r['gap']:5.2f} dθ {r['dtheta']:6.1f}"
                        for s, r in res.items()
                    )
                    + f"  {'yes' if ok else 'NO'}",
                    flush=True,
                )
                continue
            for scen, r in res.items():
                print(
                    f"{method:<14}{json.dumps(opts or {}):<40}{scen:<8}"
                    + "".join(f"{r[c]:7.2f}" for c in COLS)
                    + f"{r['gap']:7.2f}{r['dtheta']:7.2f}{r['seconds']:7.2f}"
                    + (f"  {'yes' if ok else 'NO'}" if scen == list(res)[-1] else ""),
                    flush=True,
                )
    print(f"wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
