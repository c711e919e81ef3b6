"""θ_o from the user's own training loop with label smoothing — the default of many training recipes — then every
method at its library defaults under ``stop="auto"``.

    python benchmarks/label_smoothing_grid.py [--dataset digits | fashion_mnist --data-dir DIR --subset 3000]
        [--smoothing 0.2] [--seeds 0 1] [--methods ft ga ...] [--plain-retain] [--raw-prior] [--out F.csv]

The loop (not ``uk.train_model``): the registered ``mlp``, AdamW (lr 1e-3, weight decay 0.01), batch 64, 40 epochs
on digits and 30 on Fashion-MNIST, ``F.cross_entropy(..., label_smoothing=s)``; θ_r (``seed + 100``) and a second
θ_r (``seed + 200``, the noise floor) by the same loop on D_r. Scenarios: random 10 %, long-tail 20 % ratio 30,
class [3], half of class 5.

The user knows the recipe and says so: ``train_config={"label_smoothing": s}``, so the methods' retain terms train
on θ_o's objective. ``--plain-retain`` leaves it out (plain cross-entropy on D_r, which sharpens the model; the
library warns). Such a θ_o is compressed toward uniform (smoothing 0.2: about 0.82 on a clear sample's class, 0.02
on each other); ``--raw-prior`` runs the proxy with ``smoothing_z: null``, its prior-shift correction applied to
those probabilities as they are (the proxy before ``smoothing_z``). The README compares the three.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
import torch.nn.functional as F

import unlearnkit as uk
from library_grid import METHODS, finish, run_cell

SCENARIOS = [
    ("random", {"fraction": 0.1}),
    ("long_tail", {"fraction": 0.2, "ratio": 30}),
    ("class", {"classes": [3]}),
    ("subclass", {"classes": [5], "fraction": 0.5}),
]


def smoothed_trainer(data, smoothing: float, epochs: int):
    """``train(seed, indices)``: the registered mlp trained by a plain loop with label smoothing."""

    def train(seed: int, idx: np.ndarray) -> torch.nn.Module:
        torch.manual_seed(seed)
        model = uk.build_model("mlp", data.input_shape, data.num_classes)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
        idx, gen = torch.as_tensor(idx), torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(epochs):
            for b in idx[torch.randperm(len(idx), generator=gen)].split(64):
                loss = F.cross_entropy(model(data.inputs(b)), data.y[b], label_smoothing=smoothing)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return model.eval()

    return train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--subset", type=int, default=None, help="fashion_mnist: a stratified subset (3000 in the README)")
    ap.add_argument("--smoothing", type=float, default=0.2)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--plain-retain", action="store_true", help="no train_config: retain terms without smoothing")
    ap.add_argument("--raw-prior", action="store_true", help="the proxy's prior correction without smoothing_z")
    ap.add_argument("--out", default=None, help="CSV of every row")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # auto's "kept θ_o" warnings: the table says it
    data = uk.load_dataset(args.dataset, data_dir=args.data_dir, subset=args.subset)
    train = smoothed_trainer(data, args.smoothing, 40 if args.dataset == "digits" else 30)
    extra: dict = {"options": {"stopping": {"proxy": {"smoothing_z": None}}}} if args.raw_prior else {}
    if not args.plain_retain:
        extra["train_config"] = {"label_smoothing": args.smoothing}
    rows = []
    for scenario, options in SCENARIOS:
        for seed in args.seeds:
            split = uk.make_split(data, scenario, seed=seed, **options)
            rows += run_cell(data, split, train, seed, {"scenario": scenario}, args.methods, **extra)
    finish(rows, ["scenario", "method"], args.out)


if __name__ == "__main__":
    main()
