"""Operators per unlearning step through unlearnkit vs the bare loop of ``gpu_throughput.py`` — a cost that does
not depend on the machine's load (each top-level ``aten::`` operator is a kernel launch or more on a GPU).

Counted with the torch profiler as the difference between a 3-epoch and a 1-epoch call (so each side's per-call
setup cancels), divided by the steps of those two epochs; ResNet-18 (``--width``) on digits, ``stop: none``,
as the throughput benchmark runs it. Prints the totals and the operators whose counts differ by half a step or
more.

    python benchmarks/op_count.py [--method rl|salun|scrub] [--width 4]

fp32 only: under autocast the weight casts run inside each operator (below its top-level profiler event), so a
count of top-level operators reads the same with bf16 and cannot show what mixed precision adds.
"""

from __future__ import annotations

import argparse
import collections
import copy
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

import unlearnkit as uk
from unlearnkit.amp import Precision
from unlearnkit.methods import METHODS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_throughput import bare_unlearn  # noqa: E402


def top_level_ops(fn) -> collections.Counter:
    with profile(activities=[ProfilerActivity.CPU]) as p:
        fn()
    return collections.Counter(e.name for e in p.events() if e.cpu_parent is None and e.name.startswith("aten::"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="rl", choices=["rl", "salun", "scrub"])
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dev = torch.device("cpu")
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "random", seed=0, fraction=0.1, unseen_fraction=0.0)
    torch.manual_seed(0)
    model = uk.build_model("resnet18", ds.input_shape, ds.num_classes, width=args.width)
    cfg = uk.TrainConfig(epochs=1, lr=0.05, batch_size=args.batch_size)
    original = uk.train_model(copy.deepcopy(model), ds, split.train[:256], cfg, dev)
    bs = args.batch_size
    cls = METHODS.get(args.method)  # batch sizes of the sets it reads (an ignored option is an error)
    opts: dict = {"lr": 1e-3} | ({"batch_size": bs} if cls.uses_forget else {})
    opts |= {"retain_batch_size": bs} if cls.uses_retain else {}
    if args.method == "scrub":
        opts["msteps"] = 1

    def through_unlearnkit(epochs: int) -> collections.Counter:
        o = {**opts, "epochs": epochs}
        return top_level_ops(
            lambda: uk.unlearn(original, ds, split, args.method, "uniform", options=o, device=dev, seed=0, stop="none")
        )

    def bare(epochs: int) -> collections.Counter:
        prec = Precision("fp32", dev)
        return top_level_ops(
            lambda: bare_unlearn(args.method, copy.deepcopy(original), original, ds, split, bs, 1e-3, dev, prec, epochs=epochs)
        )  # fmt: skip

    a, b = through_unlearnkit(3), bare(3)
    a.subtract(through_unlearnkit(1))
    b.subtract(bare(1))
    steps = 2 * -(-len(split.retain) // bs)  # the two extra epochs (scrub's retain steps; its max step is epoch 1)
    print(f"{args.method} fp32, {steps} steps: unlearnkit {sum(a.values()) / steps:.1f} operators a step, "
          f"bare loop {sum(b.values()) / steps:.1f}")  # fmt: skip
    diff = {k: (a[k] - b[k]) / steps for k in set(a) | set(b) if abs(a[k] - b[k]) >= steps / 2}
    for k, v in sorted(diff.items(), key=lambda kv: -abs(kv[1])):
        print(f"  {k:40s} {v:+.1f}")


if __name__ == "__main__":
    main()
