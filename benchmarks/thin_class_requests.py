"""Requests that remove most of a class: 80 %, 90 % or 97 % of one class (``subclass``), the rest of it left in D_r. A
model retrained on the few samples left learns the class far less well than θ_o did (digits, 97 % of class 7: θ_r's
FA 35 % where θ_o's held-out accuracy reads 97 %), which θ_o's held-out targets cannot show; ``proxy.thin_below`` reads
such a class with a retrained probe instead.

    python benchmarks/thin_class_requests.py [--dataset digits | fashion_mnist --data-dir DIR --subset 3000]
        [--seeds 0 1 2] [--fractions 0.8 0.9 0.97] [--methods ft ga ...] [--no-thin] [--out F.csv]

The class is 7, 3 and 2 for seeds 0, 1 and 2 (then again). θ_o, θ_r (``seed + 100``) and a second θ_r (``seed +
200``, the noise floor) are trained with the ``quick`` preset's schedule (``mlp``, SGD 0.05, 30 epochs); every method
runs at its library defaults under ``stop="auto"`` (``--no-thin``: with ``stopping: {proxy: {thin_below: null}}``,
the proxy before the probe existed).
"""

from __future__ import annotations

import warnings

import torch

import unlearnkit as uk
from library_grid import finish, quick_mlp, request_grid_args, run_cell

CLASSES = (7, 3, 2)


def main() -> None:
    ap = request_grid_args(__doc__.splitlines()[0], [0, 1, 2])
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.8, 0.9, 0.97])
    ap.add_argument("--no-thin", action="store_true", help="the proxy without proxy.thin_below")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # auto's warnings (a nearly removed class, θ_o kept): the table says it
    data = uk.load_dataset(args.dataset, data_dir=args.data_dir, subset=args.subset)

    train = quick_mlp(data)

    options = {"stopping": {"proxy": {"thin_below": None}}} if args.no_thin else None
    rows = []
    for fraction in args.fractions:
        for seed in args.seeds:
            c = CLASSES[seed % len(CLASSES)]
            split = uk.make_split(data, "subclass", seed=seed, classes=[c], fraction=fraction)
            cell = {"removed": f"{100 * fraction:g} %", "cls": c}
            rows += run_cell(data, split, train, seed, cell, args.methods, options=options)
    finish(rows, ["removed", "method"], args.out)


if __name__ == "__main__":
    main()
