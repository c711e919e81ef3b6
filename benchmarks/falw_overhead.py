"""FaLW's time overhead over the plain method, paper setting vs. the subsampled reference.

Fashion-MNIST subset (default 5000, stratified), ``cnn``, a long-tailed forget set (exp profile,
f = 0.2, ratio 10), unseen split 10 %. Per seed: θ_o and θ_r trained once; then RL with ``uniform``,
RL + FaLW with the paper's setting (the whole unseen split re-estimated every step,
``falw.PAPER``) and RL + FaLW with the library default (``unseen_per_class`` =
``falw.UNSEEN_PER_CLASS``, ``refresh_every`` = ``falw.REFRESH_EVERY``) plus any ``--per-class`` /
``--refresh`` variants. Reports, per setting, the process CPU seconds of ``unlearn`` (minimum over
``--repeats`` interleaved runs; CPU time rather than wall time because a shared machine's load
inflates wall time at random — on a GPU pass ``--wall``), the ratio to plain RL, and Avg.Gap to θ_r (FA/RA/TA/MIA) mean ± std over seeds; the
seed spread of the paper setting's Avg.Gap is the noise the default must stay within.

    python benchmarks/falw_overhead.py --data-dir ../shared/data                # 3 seeds, 5000 samples
    python benchmarks/falw_overhead.py --data-dir ../shared/data --seeds 0 --subset 2000 --repeats 1
    python benchmarks/falw_overhead.py --dataset digits --model mlp              # no files needed
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import unlearnkit as uk
from unlearnkit.eval import METRICS, Evaluation, avg_gap
from unlearnkit.weighting import falw


def evaluate(model, ev: Evaluation) -> dict:
    ev = Evaluation(ev.dataset, ev.split, ev.device, ev.seed, ev.original, ev.retrained)
    row = {}
    for name in ("accuracy", "mia_efficacy"):
        row.update(METRICS.get(name)().compute(model, ev))
    return row


def settings(args) -> list[tuple[str, str, dict]]:
    out = [
        ("plain", "uniform", {}),
        ("falw paper (whole V, every step)", "falw", dict(falw.PAPER)),
        (f"falw default ({falw.UNSEEN_PER_CLASS}/class, refresh {falw.REFRESH_EVERY})", "falw", {}),
    ]
    for k in args.per_class:
        for r in args.refresh:
            if (k, r) != (falw.UNSEEN_PER_CLASS, falw.REFRESH_EVERY):
                out.append((f"falw {k}/class, refresh {r}", "falw", {"unseen_per_class": k, "refresh_every": r}))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--subset", type=int, default=5000)
    p.add_argument("--model", default="cnn")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--train-epochs", type=int, default=8)
    p.add_argument("--method", default="rl")
    p.add_argument("--lr", type=float, default=0.003, help="unlearning lr (1 epoch)")
    p.add_argument("--epochs", type=int, default=1, help="unlearning epochs")
    p.add_argument("--per-class", type=int, nargs="*", default=[], help="extra unseen_per_class caps to try")
    p.add_argument("--refresh", type=int, nargs="*", default=[1], help="refresh_every values for the extra caps")
    p.add_argument("--repeats", type=int, default=2, help="interleaved timing repeats (min is reported)")
    p.add_argument("--wall", action="store_true", help="time wall seconds (GPU) instead of process CPU seconds")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", str(torch.get_num_threads()))))
    t0 = time.perf_counter()
    ds = uk.load_dataset(
        args.dataset,
        data_dir=args.data_dir,
        **({"subset": args.subset} if args.subset and args.dataset != "digits" else {}),
    )
    train_cfg = uk.TrainConfig(lr=0.05, epochs=args.train_epochs, batch_size=128, schedule="cosine")
    cpu = torch.device(args.device)
    S = settings(args)
    secs = {s[0]: [] for s in S}
    gaps = {s[0]: [] for s in S}
    for seed in args.seeds:
        split = uk.make_split(ds, "long_tail", seed=seed, unseen_fraction=0.1, fraction=0.2, profile="exp", ratio=10)
        torch.manual_seed(seed)
        orig = uk.train_model(
            uk.build_model(args.model, ds.input_shape, ds.num_classes), ds, split.train, train_cfg, cpu, seed=seed
        )
        torch.manual_seed(seed)
        retr = uk.train_model(
            uk.build_model(args.model, ds.input_shape, ds.num_classes), ds, split.retain, train_cfg, cpu, seed=seed
        )
        ev = Evaluation(ds, split, cpu, seed=seed, original=orig, retrained=retr)
        ref = evaluate(retr, ev)
        print(
            f"seed {seed}: train {len(split.train)}, forget {len(split.forget)} "
            f"(counts {split.info['forget_counts']}), unseen {len(split.unseen)}; "
            f"original Avg.Gap {avg_gap(evaluate(orig, ev), ref):.2f}  [{time.perf_counter() - t0:.0f}s]",
            flush=True,
        )
        best = {s[0]: float("inf") for s in S}
        for rep in range(args.repeats):
            for label, w, wo in S:
                c0 = time.process_time()
                res = uk.unlearn(
                    orig,
                    ds,
                    split,
                    args.method,
                    w,
                    options={"lr": args.lr, "epochs": args.epochs},
                    weighting_options=wo,
                    device=args.device,
                    seed=seed,
                )
                best[label] = min(best[label], res.seconds if args.wall else time.process_time() - c0)
                if rep == 0:
                    gaps[label].append(avg_gap(evaluate(res.model, ev), ref))
        for label in best:
            secs[label].append(best[label])
            print(
                f"  {label:38s} {best[label]:6.2f}s  x{best[label] / best['plain']:.2f}  Avg.Gap {gaps[label][-1]:.2f}",
                flush=True,
            )
    print(
        f"\n{args.dataset} subset {args.subset}, {args.model}, {args.method} lr {args.lr} × {args.epochs} epoch(s), "
        f"seeds {args.seeds}, torch threads {torch.get_num_threads()}"
    )
    print(f"time: {'wall' if args.wall else 'process CPU'} seconds of unlearn(), min of {args.repeats}")
    print("| setting | seconds | × plain | Avg.Gap mean ± std |\n|---|---|---|---|")
    plain = np.array(secs["plain"])
    for label, _, _ in S:
        s, g = np.array(secs[label]), np.array(gaps[label])
        print(f"| {label} | {s.mean():.2f} | {np.mean(s / plain):.2f} | {g.mean():.2f} ± {g.std():.2f} |")
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
