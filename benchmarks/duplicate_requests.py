"""Deletion requests whose samples are still in D_r as copies: a random 5 % of the training pool, a copy of each (or of
half of them) appended to the pool before θ_o is trained, and the request names the originals (scenario ``indices``).
θ_r trains on D_r, copies included, so it still fits the request (digits: FA 100 %, MIA-efficacy 0–1 %).

    python benchmarks/duplicate_requests.py [--dataset digits | fashion_mnist --data-dir DIR --subset 3000]
        [--seeds 0 1] [--kinds exact100 exact50 noise10 noise30] [--methods ft ga ...] [--no-twin-check] [--out F.csv]

Kinds: ``exact100`` every sample copied, ``exact50`` half of them, ``noiseN`` every sample copied with Gaussian
noise of N % of the inputs' standard deviation (digits: noise10 puts a copy at about 0.3 × the median distance from a
held-out sample to its nearest same-label training sample, noise30 at about 0.9). The split carves its held-out set
from the pool after the request, so about a tenth of the copies land there (θ_r does not see those).

θ_o, θ_r (``seed + 100``) and a second θ_r (``seed + 200``, the noise floor) are trained with the ``quick`` preset's
schedule (``mlp``, SGD 0.05, 30 epochs); every method runs at its library defaults under ``stop="auto"``
(``--no-twin-check``: with ``stopping: {proxy: {twin_check: false}}``, the proxy before the check existed).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch

import unlearnkit as uk
from library_grid import finish, quick_mlp, request_grid_args, run_cell

KINDS = ("exact100", "exact50", "noise10", "noise30")


def copied(data, kind: str, seed: int, fraction: float = 0.05):
    """``data`` with copies of a seeded random ``fraction`` of its pool appended to the pool (``kind``), and the
    request (the originals' indices)."""
    pool = np.asarray(data.pool)
    request = np.sort(np.random.default_rng(1000 + seed).choice(pool, int(fraction * len(pool)), replace=False))
    source = request[: len(request) // 2] if kind == "exact50" else request
    x = data.x[source].clone()
    if kind.startswith("noise"):
        level = int(kind.removeprefix("noise")) / 100
        noisy = x.float() + level * data.x[pool].float().std() * torch.randn(
            x.shape, generator=torch.Generator().manual_seed(seed)
        )
        x = noisy.to(data.x.dtype) if data.x.is_floating_point() else noisy.clamp(0, 255).round().to(data.x.dtype)
    elif kind not in ("exact100", "exact50"):
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    n = len(data.y)
    group = None if data.group is None else torch.cat([data.group, data.group[source]])
    out = dataclasses.replace(
        data,
        x=torch.cat([data.x, x]),
        y=torch.cat([data.y, data.y[source]]),
        pool=np.concatenate([pool, n + np.arange(len(source))]),
        group=group,
    )
    return out, request


def main() -> None:
    ap = request_grid_args(__doc__.splitlines()[0], [0, 1])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--no-twin-check", action="store_true", help="the proxy without proxy.twin_check")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # auto's warnings (twins found, θ_o kept): the table says it
    base = uk.load_dataset(args.dataset, data_dir=args.data_dir, subset=args.subset)
    options = {"stopping": {"proxy": {"twin_check": False}}} if args.no_twin_check else None
    rows = []
    for kind in args.kinds:
        for seed in args.seeds:
            data, request = copied(base, kind, seed)
            split = uk.make_split(data, "indices", seed=seed, indices=request.tolist())
            in_retain = float(np.isin(np.arange(len(base.y), len(data.y)), split.retain).mean())
            cell = {"kind": kind, "copies_in_retain": round(in_retain, 2)}
            rows += run_cell(data, split, quick_mlp(data), seed, cell, args.methods, options=options)
    finish(rows, ["kind", "method"], args.out)


if __name__ == "__main__":
    main()
