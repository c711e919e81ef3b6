"""Deletion requests that are a *kind* of sample, not a random one: D_f = one k-means cluster of the training pool's
inputs, passed as an explicit request (scenario ``indices``), the way a user would delete one writer's samples.

    python benchmarks/cluster_requests.py [--dataset digits | fashion_mnist --data-dir DIR --subset 3000]
        [--seeds 0 1 2] [--methods ft ga ...] [--out F.csv]

Two kinds of request a seed:

- ``inclass``: a seeded class's training samples split into 3 k-means clusters (pixels); D_f = the middle-sized one
  (a style of that class: digits 29–65 samples, Fashion-MNIST 79–137).
- ``cross``: the whole pool in 30 k-means clusters; D_f = the median-sized one (mostly one class, a few of others).

No random or class scenario is exchangeable with such a request: θ_r may classify the cluster far worse than
held-out samples of its class (digits class 8, seed 0: FA 48.9 % where θ_o's held-out accuracy is 77 %), which is
what the retrain-free proxy cannot see unless the inputs' neighbourhoods show it (``proxy.label_check``).

θ_o, θ_r (``seed + 100``) and a second θ_r (``seed + 200``, the noise floor) are trained with the ``quick`` preset's
schedule (``mlp``, SGD 0.05, 30 epochs); every method runs at its library defaults under ``stop="auto"``; Avg.Gap is
read with ``accuracy`` and ``mia_efficacy`` against θ_r. "won": below θ_o's Avg.Gap; "beyond floor": above it by
more than the floor.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.cluster import KMeans

import unlearnkit as uk
from library_grid import finish, quick_mlp, request_grid_args, run_cell

KINDS = ("inclass", "cross")


def cluster_request(data, kind: str, seed: int) -> tuple[np.ndarray, str]:
    """The dataset indices of one k-means cluster of the training pool's flattened inputs, and a description."""
    pool = np.asarray(data.pool)
    x, y = data.x[pool].reshape(len(pool), -1).numpy(), data.labels[pool]
    if kind == "inclass":
        c = int(np.random.default_rng(seed).integers(data.num_classes))
        inside = y == c
        lab = KMeans(3, n_init=4, random_state=seed).fit_predict(x[inside])
        k = int(np.argsort(np.bincount(lab))[1])  # the middle-sized of the three
        return pool[inside][lab == k], f"class {c}, cluster sizes {np.bincount(lab).tolist()}"
    if kind != "cross":
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    lab = KMeans(30, n_init=2, random_state=seed).fit_predict(x)
    sizes = np.bincount(lab)
    k = int(np.argsort(sizes)[len(sizes) // 2])
    mix = np.bincount(y[lab == k], minlength=data.num_classes)
    return pool[lab == k], "classes " + ", ".join(f"{c}: {n}" for c, n in enumerate(mix) if n)


def main() -> None:
    ap = request_grid_args(__doc__.splitlines()[0], [0, 1, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # auto's "kept θ_o" warnings: the table says it
    data = uk.load_dataset(args.dataset, data_dir=args.data_dir, subset=args.subset)

    train = quick_mlp(data)

    rows = []
    for kind in KINDS:
        for seed in args.seeds:
            forget, desc = cluster_request(data, kind, seed)
            split = uk.make_split(data, "indices", seed=seed, indices=forget.tolist())
            cell = {"kind": kind, "request": f"{desc}; {len(forget)} samples"}
            rows += run_cell(data, split, train, seed, cell, args.methods)
    finish(rows, ["kind", "method"], args.out)


if __name__ == "__main__":
    main()
