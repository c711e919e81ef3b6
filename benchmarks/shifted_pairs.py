"""D_f and held-out data not drawn alike, and ``proxy.shift_check``: (1) how often the check flags random held-out
splits (false alarms) and pairs drawn otherwise — each class's 12 % most atypical samples (farthest from the class
mean) or inkiest held out, and a request of each class's 10 % most atypical (an outlier clean-up) or most typical
training samples; no training; (2) with ``--grid``, what ``stop: auto`` does on the atypical held-out split and on the
outlier requests (θ_o, θ_r and a second θ_r per cell, the ten methods at their library defaults).

    python benchmarks/shifted_pairs.py [--data-dir DIR] [--seeds 0 1 2 3 4 5]
    python benchmarks/shifted_pairs.py --grid [--seeds 0 1]          # digits, about 10 min on 2 cores

The flag rates read the check's own functions (:func:`~unlearnkit.eval.proxy.twins.nearest_distances`,
:func:`~unlearnkit.eval.proxy.twins.find_twins`, :func:`~unlearnkit.eval.proxy.shift.distance_shift`) on every partial request of
six scenarios (random 5 / 10 / 20 %, long-tail ratio 10 / 50, half of a class).
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings

import numpy as np
import torch

import unlearnkit as uk
from library_grid import METHODS, finish, quick_mlp, run_cell
from unlearnkit.eval.proxy import ProxyOptions
from unlearnkit.eval.proxy.shift import distance_shift
from unlearnkit.eval.proxy.twins import find_twins, nearest_distances

SCENARIOS = {
    "random 5 %": ("random", {"fraction": 0.05}),
    "random 10 %": ("random", {"fraction": 0.1}),
    "random 20 %": ("random", {"fraction": 0.2}),
    "long-tail r10": ("long_tail", {"fraction": 0.1, "ratio": 10}),
    "long-tail r50": ("long_tail", {"fraction": 0.1, "ratio": 50}),
    "half of a class": ("subclass", {"fraction": 0.5}),
}


def scores(data, idx: np.ndarray, how: str) -> np.ndarray:
    """Per sample of ``idx``: its distance to its class's mean input (``atypical``) or its total input (``ink``)."""
    x, lab = data.x.flatten(1).float().numpy(), data.labels
    if how == "ink":
        return x[idx].sum(1)
    means = {c: x[idx[lab[idx] == c]].mean(0) for c in np.unique(lab[idx])}
    return np.array([np.linalg.norm(x[i] - means[lab[i]]) for i in idx])


def held_out_by(data, how: str, share: float = 0.12):
    """``data`` whose held-out split is each class's ``share`` of the pool scoring highest on ``how``."""
    pool, lab = np.asarray(data.pool), data.labels
    s = scores(data, pool, how)
    held = np.sort(
        np.concatenate(
            [
                pool[lab[pool] == c][np.argsort(s[lab[pool] == c])[-int(share * (lab[pool] == c).sum()) :]]
                for c in range(data.num_classes)
            ]
        )
    )
    return dataclasses.replace(data, pool=np.setdiff1d(pool, held), extra={**data.extra, "unseen": held})


def picked_request(data, seed: int, typical: bool, share: float = 0.1):
    """A request of each class's ``share`` most atypical (or most typical) training samples, a random held-out split."""
    base = uk.make_split(data, "random", seed=seed, fraction=share)
    train, lab = np.asarray(base.train), data.labels
    s = scores(data, train, "atypical")
    pick = []
    for c in range(data.num_classes):
        at = np.flatnonzero(lab[train] == c)
        order = at[np.argsort(s[at])]
        k = int(share * len(at))
        pick.append(train[order[:k]] if typical else train[order[-k:]])
    return uk.make_split(data, "indices", seed=seed, indices=np.concatenate(pick).tolist())


def flagged(data, split, o: ProxyOptions):
    lab = data.labels
    gone = np.setdiff1d(np.unique(lab[split.forget]), np.unique(lab[split.retain]))
    partial = np.asarray(split.forget)[~np.isin(lab[split.forget], gone)]
    unseen = np.asarray(split.unseen)[~np.isin(lab[split.unseen], gone)]
    dist = nearest_distances(data, split.retain, partial, unseen, o)
    twins = find_twins(data, split.retain, partial, unseen, o, dist) if dist is not None else None
    return distance_shift(data, partial, unseen, dist, o, twins.forget if twins is not None else None)


def rates(args) -> None:
    o = ProxyOptions()
    sets = [("digits", {}), ("fashion_mnist", {"data_dir": args.data_dir, "subset": 3000})]
    sets += [("adult", {"data_dir": args.data_dir, "subset": 4000}), ("german", {"data_dir": args.data_dir})]
    sets += [("compas", {"data_dir": args.data_dir})]
    for name, kw in sets:
        if name != "digits" and args.data_dir is None:
            continue
        base = uk.load_dataset(name, **kw)
        cases = [("random held-out split", base, None)]
        if name in ("digits", "fashion_mnist"):
            cases += [(f"{how} 12 % held out", held_out_by(base, how), None) for how in ("atypical", "ink")]
            cases += [("request of atypical samples", base, False), ("request of typical samples", base, True)]
        for what, data, typical in cases:
            read = []
            for seed in args.seeds:
                if typical is not None:
                    read.append(flagged(data, picked_request(data, seed, typical), o))
                    continue
                for kind, kw2 in SCENARIOS.values():
                    if kind == "subclass":
                        kw2 = {**kw2, "classes": [1 if data.num_classes == 2 else 2]}
                    read.append(flagged(data, uk.make_split(data, kind, seed=seed, **kw2), o))
            got = [r for r in read if r is not None]
            ratios = [r.ratio for r in got]
            print(
                f"{name:14s} {what:28s} flagged {sum(r.shifted for r in got)} of {len(read)}"
                + (f"; median ratio {min(ratios):.2f}–{max(ratios):.2f}" if ratios else ""),
                flush=True,
            )


def grid(args) -> None:
    data = uk.load_dataset("digits")
    train = quick_mlp(data)
    shifted = held_out_by(data, "atypical")
    rows = []
    for seed in args.seeds:
        cells = [
            (f"atypical held out: {n}", shifted, uk.make_split(shifted, k, seed=seed, **kw))
            for n, (k, kw) in SCENARIOS.items()
            if n in ("random 10 %", "long-tail r10")
        ]
        cells.append(
            (
                "atypical held out: half of class 2",
                shifted,
                uk.make_split(shifted, "subclass", seed=seed, classes=[2], fraction=0.5),
            )
        )
        cells.append(("request of atypical samples", data, picked_request(data, seed, typical=False)))
        for name, d, split in cells:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the table says what they say
                rows += run_cell(d, split, train, seed, {"where": name}, args.methods)
    finish(rows, ["where", "method"], args.out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help="Fashion-MNIST, Adult, German credit, COMPAS (digits: built in)")
    ap.add_argument("--seeds", nargs="+", type=int, default=None)
    ap.add_argument("--grid", action="store_true", help="run the methods on the shifted cells (digits)")
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--out", default=None, help="--grid: CSV of every row")
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.seeds = args.seeds or ([0, 1] if args.grid else [0, 1, 2, 3, 4, 5])
    (grid if args.grid else rates)(args)


if __name__ == "__main__":
    main()
