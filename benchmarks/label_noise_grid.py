"""Data with label noise: a share of every label in the data set (training, held-out and test alike, as in a
crowd-labelled set) flipped to another class, uniformly, with a fixed seed. θ_o fits some of the flipped labels; a
model retrained without D_f gets D_f's flipped samples wrong. Counts, per cell, how often the state ``stop="auto"``
kept is still short of the retrained model (``stopping.short_z``'s check, read from the auto summary) next to whether
it won against θ_o.

    python benchmarks/label_noise_grid.py [--dataset digits | fashion_mnist --data-dir DIR --subset 3000]
        [--rate 0.2] [--seeds 0 1] [--methods ft ga ...] [--out F.csv]

Scenarios: random 10 %, class 4, half of class 2. θ_o, θ_r (``seed + 100``) and a second θ_r (``seed + 200``, the
noise floor) are trained with the ``quick`` preset's schedule (``mlp``, SGD 0.05, 30 epochs); every method runs at
its library defaults under ``stop="auto"``.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch

import unlearnkit as uk
from library_grid import finish, quick_mlp, request_grid_args, run_cell

SCENARIOS = {
    "random 10 %": ("random", {"fraction": 0.1}),
    "class 4": ("class", {"classes": [4]}),
    "half of class 2": ("subclass", {"classes": [2], "fraction": 0.5}),
}


def noisy(data, rate: float, seed: int = 123):
    """``data`` with ``rate`` of its labels (every index) moved to another class chosen uniformly."""
    rng = np.random.default_rng(seed)
    y = data.y.clone()
    flip = rng.random(len(y)) < rate
    shift = rng.integers(1, data.num_classes, int(flip.sum()))
    y[torch.as_tensor(flip)] = torch.as_tensor((y.numpy()[flip] + shift) % data.num_classes)
    return dataclasses.replace(data, name=f"{data.name} ({100 * rate:g} % of labels flipped)", y=y)


def main() -> None:
    ap = request_grid_args(__doc__.splitlines()[0], [0, 1])
    ap.add_argument("--rate", type=float, default=0.2, help="the share of labels flipped")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = noisy(uk.load_dataset(args.dataset, data_dir=args.data_dir, subset=args.subset), args.rate)
    train = quick_mlp(data)
    rows = []
    for seed in args.seeds:
        for name, (kind, kw) in SCENARIOS.items():
            split = uk.make_split(data, kind, seed=seed, **kw)
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                cell_rows = run_cell(data, split, train, seed, {"scenario": name}, args.methods)
            short = [str(w.message).split("'")[1] for w in said if "removed only part" in str(w.message)]
            for r in cell_rows:
                r["short"] = r["method"] in short
            rows += cell_rows
    df = finish(rows, ["scenario", "method"], args.out)
    m = df[~df.method.isin(["original", "retrain"])].copy()
    m["above"] = m.FA.to_numpy() - df[df.method == "retrain"].set_index("cell").FA.loc[m.cell].to_numpy()
    for said, part in ((True, m[m.short]), (False, m[~m.short])):
        print(
            f"{'warned' if said else 'not warned'} 'removed only part': {len(part)} of {len(m)} rows, mean Avg.Gap "
            f"{part.avg_gap.mean():.2f}, mean FA above θ_r's {part.above.mean():.1f} (more than 5 above: "
            f"{int((part.above > 5).sum())})"
        )


if __name__ == "__main__":
    main()
