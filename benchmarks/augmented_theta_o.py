"""A θ_o trained with data augmentation, as a user's own training often is: Gaussian input noise (0.3 of the
normalised inputs' scale) and a random shift of up to one pixel each way, on every training batch. θ_o, θ_r and the
floor's second θ_r are trained with it (``train_model(augment=…)``); the methods run at their library defaults under
``stop="auto"`` with the same augmentation on their training batches (``unlearn(augment=…)``), or, with
``--plain``, on the inputs as they are (what a caller who does not pass it gets).

    python benchmarks/augmented_theta_o.py [--plain] [--seeds 0 1] [--methods ft ga ...] [--out F.csv]

digits; random 10 %, class 4, half of class 2.
"""

from __future__ import annotations

import warnings

import torch

import unlearnkit as uk
from library_grid import QUICK, finish, request_grid_args, run_cell

SCENARIOS = {
    "random 10 %": ("random", {"fraction": 0.1}),
    "class 4": ("class", {"classes": [4]}),
    "half of class 2": ("subclass", {"classes": [2], "fraction": 0.5}),
}


def augment(x: torch.Tensor) -> torch.Tensor:
    """Noise and a one-pixel shift (the same for the whole batch), from torch's seeded global generator."""
    dy, dx = (int(v) for v in torch.randint(-1, 2, (2,)))
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1)) + 0.3 * torch.randn_like(x)


def main() -> None:
    ap = request_grid_args(__doc__.splitlines()[0], [0, 1])
    ap.add_argument("--plain", action="store_true", help="the methods train on the inputs as they are")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = uk.load_dataset(args.dataset, data_dir=args.data_dir, subset=args.subset)

    def train(seed: int, idx) -> torch.nn.Module:
        torch.manual_seed(seed)
        model = uk.build_model("mlp", data.input_shape, data.num_classes)
        return uk.train_model(model, data, idx, QUICK, torch.device("cpu"), seed=seed, augment=augment)

    rows = []
    for seed in args.seeds:
        for name, (kind, kw) in SCENARIOS.items():
            split = uk.make_split(data, kind, seed=seed, **kw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the table says what they say
                rows += run_cell(
                    data, split, train, seed, {"scenario": name}, args.methods, augment=None if args.plain else augment
                )
    finish(rows, ["scenario", "method"], args.out)


if __name__ == "__main__":
    main()
