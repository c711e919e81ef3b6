"""A grid nobody chose: the user's own lr (off by 10× either way), epochs, optimizer or strength, under ``stop: auto``.

``stop: auto`` searches the lr around the one a method runs with (× 1 and × 10, lower while a run is too fast,
higher while the best run still improves at its end, or above a largest lr that never moved the proxy). A user who
passes an lr of their own moves where that search starts; this grid checks that the library still beats the
untouched θ_o from there. A user who sets ``epochs`` sets the budget the search works within (its longer re-runs go
to 4 × it at most). A user who trains with Adam may unlearn with it. Every gradient method at its library defaults but
``lr`` × each of ``--lr-factors`` (default 0.1 and 10), then with ``epochs`` each of ``--epochs`` (default 1 and 15),
then with ``optimizer: adam`` at its own lr and at 1e-3 (``--adam-lrs``); ssd and ``if`` at their strength option
(α, scale) × 0.1 and × 10 (``--one-shot``, ``--strength-factors``) — and, opt-in, both batch sizes at N
(``--batch-sizes 16 256``), a cosine schedule (``--cosine``) and the forget term's weight × F
(``--forget-weight-factors 10``) — on the defaults-transfer grid's models
and splits (``defaults_transfer.py``: the same MLP, its training, the same cache): digits random 5 %, class [7],
long-tail ratio 10, a Fashion-MNIST subset of 3000 random 5 % and class [2]; seeds 0 1. Per method and setting
(labelled ``ft@lr0.1``, ``ft@e1``, ``ft@adam``, ``ssd@s10``, …): cells won / tied / worse within and beyond the noise floor /
collapsed, mean Avg.Gap against θ_o's (``defaults_transfer.method_table``).

    OMP_NUM_THREADS=1 python benchmarks/user_options_grid.py --data-dir DIR [--lr-factors 0.1 10] [--epochs 1 15]
        [--adam-lrs 0 1e-3] [--batch-sizes 16 256 --cosine --forget-weight-factors 10]

Results (2026-11-28, the 2-core CPU) are in docs/safe_by_default.md ("Fifteenth").
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import pandas as pd

from unlearnkit.bench.config import BenchConfig
from unlearnkit.bench.runner import run_bench
from unlearnkit.methods import METHODS
from unlearnkit.methods.base import option_reads

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults_transfer import FASHION_SCENARIOS, SCENARIOS, config, method_table  # noqa: E402

GRADIENT = ["ft", "ga", "rl", "neggrad_plus", "salun", "scrub", "l1_sparse", "bad_teacher"]
DIGITS = ("random5", "class7", "long_tail_r10")
FASHION = ("random5", "class2")


def read_by(method: str, options: dict) -> dict:
    """The options ``method`` reads: one that acts only on a set the method does not read (ft and ``batch_size``,
    the forget batch) is an error there (``GradientMethod.check_options``), so it is left out."""
    cls = METHODS.get(method)
    uses = {"forget": cls.uses_forget, "retain": cls.uses_retain}
    return {k: v for k, v in options.items() if uses.get(option_reads(cls.Options, k) or "", True)}


def more_entries(methods: list[str], batch_sizes: list[int], cosine: bool, fw_factors: list[float]) -> list[dict]:
    """The opt-in settings: both batch sizes at N (``name@bsN``), a cosine schedule (``name@cos``), the forget
    term's weight × a factor (``name@fwF``, methods with a forget term)."""
    out = []
    for m in methods:
        out += [
            {"name": m, "label": f"{m}@bs{b}", "options": read_by(m, {"batch_size": b, "retain_batch_size": b})}
            for b in batch_sizes
        ]
        out += [{"name": m, "label": f"{m}@cos", "options": {"schedule": "cosine"}}] if cosine else []
        if METHODS.get(m).uses_forget:
            w = METHODS.get(m).Options().forget_weight
            out += [{"name": m, "label": f"{m}@fw{f:g}", "options": {"forget_weight": w * f}} for f in fw_factors]
    return out


def strength_entries(methods: list[str], factors: list[float]) -> list[dict]:
    """One-shot methods at their strength option × a factor (``name@sF``); a method whose default strength is None
    (fisher's step, calibrated per request) is skipped."""
    out = []
    for m in methods:
        cls = METHODS.get(m)
        value = getattr(cls.Options(), cls.strength_option)
        if value is not None:
            out += [{"name": m, "label": f"{m}@s{f:g}", "options": {cls.strength_option: value * f}} for f in factors]
    return out


def entries(methods: list[str], lr_factors: list[float], epochs: list[int], adam_lrs: list[float]) -> list[dict]:
    """One method entry per (method, setting): its library defaults with lr × a factor (``name@lrF``), with
    ``epochs`` set (``name@eN``), or with Adam at its own lr (``name@adam``) or at a given one (``name@adamLR``)."""
    lrs = [
        {"name": m, "label": f"{m}@lr{f:g}", "options": {"lr": METHODS.get(m).Options().lr * f}}
        for m in methods
        for f in lr_factors
    ]
    eps = [{"name": m, "label": f"{m}@e{e}", "options": {"epochs": e}} for m in methods for e in epochs]
    adam = [
        {
            "name": m,
            "label": f"{m}@adam{lr:g}" if lr else f"{m}@adam",
            "options": {"optimizer": "adam"} | ({"lr": lr} if lr else {}),
        }
        for m in methods
        for lr in adam_lrs
    ]
    return lrs + eps + adam


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lr-factors", type=float, nargs="*", default=[0.1, 10.0])
    ap.add_argument("--epochs", type=int, nargs="*", default=[1, 15])
    ap.add_argument(
        "--adam-lrs", type=float, nargs="*", default=[0.0, 1e-3], help="Adam at these lrs (0: the method's own)"
    )
    ap.add_argument("--one-shot", nargs="*", default=["ssd", "if"], help="one-shot methods for --strength-factors")
    ap.add_argument("--strength-factors", type=float, nargs="*", default=[0.1, 10.0])
    ap.add_argument("--batch-sizes", type=int, nargs="*", default=[], help="opt-in: both batch sizes at these")
    ap.add_argument("--cosine", action="store_true", help="opt-in: a cosine lr schedule")
    ap.add_argument("--forget-weight-factors", type=float, nargs="*", default=[], help="opt-in: forget_weight × these")
    ap.add_argument("--methods", nargs="*", default=GRADIENT)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--data-dir", default=os.environ.get("UNLEARNKIT_DATA"))
    ap.add_argument("--out", default="/tmp/user-options-grid")
    ap.add_argument("--cache-dir", default="/tmp/validate-cache")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--mia-fits", type=int, default=5)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # "kept θ_o" warnings: counted in the table instead
    fashion = [{"name": "fashion_mnist", "subset": 3000, "label": "fashion3k"}]
    parts = [
        ("digits", ["digits"], [s for s in SCENARIOS if s["label"] in DIGITS]),
        ("fashion", fashion, [s for s in FASHION_SCENARIOS if s["label"] in FASHION]),
    ]
    settings = entries(args.methods, args.lr_factors, args.epochs, args.adam_lrs)
    settings += more_entries(args.methods, args.batch_sizes, args.cosine, args.forget_weight_factors)
    settings += strength_entries(args.one_shot, args.strength_factors)
    if not settings:
        ap.error("no setting to run: every list of settings is empty")
    frames = []
    for tag, datasets, scenarios in parts:
        names = sorted({e["name"] for e in settings})  # replaced by the settings below (config wants a list)
        cfg = config(f"user_options_{tag}", datasets, scenarios, args.seeds, "auto", names, None, args.mia_fits)
        cfg = BenchConfig(**{**cfg.model_dump(), "methods": settings})
        out = Path(args.out) / tag
        run_bench(cfg, out, cache_dir=args.cache_dir, quiet=True, jobs=args.jobs, data_dir=args.data_dir)
        frames.append(pd.read_csv(out / "results.csv"))
    table = method_table(pd.concat(frames, ignore_index=True))
    cols = ["cells", "won", "tied", "worse_in_floor", "worse_beyond_floor", "collapsed", "gap", "orig_gap"]
    print(table[cols].round(2).to_string())


if __name__ == "__main__":
    main()
