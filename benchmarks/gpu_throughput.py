"""Throughput of unlearnkit vs a bare PyTorch loop doing the same updates (goal: ratio ≥ 0.9).

ResNet-18 (``resnet18``, CIFAR stem) on Fashion-MNIST (and CIFAR-10 where its files exist), batch 128:

* training: ``unlearnkit.train_model`` vs a bare SGD + CE loop (same batches, same optimiser), samples/s
  over one epoch of the training set;
* one unlearning epoch of ``rl`` / ``salun`` / ``scrub`` through ``unlearnkit.unlearn`` vs a bare loop
  doing the same updates (RL: CE to random labels on a forget batch + CE on a retain batch per step;
  SalUn: the same after a gradient-saliency mask over the forget set, gradients masked, unmasked
  weights restored after each step; SCRUB: one max pass over D_f (−KL to θ_o) then one min pass over
  D_r (CE + KL)), samples/s = samples forwarded with gradient / seconds;

each with AMP off (fp32) and on (``--amp bf16`` by default: autocast, no scaler; ``fp16`` adds the
gradient scaler). Unlearning through unlearnkit runs the fixed schedule (``stop="none"``, as the bare loop)
with the method's ``precision`` option. Measured on an H200: README, "On a GPU".

    python benchmarks/gpu_throughput.py --data-dir /path/with/fashion-mnist          # on a GPU
    python benchmarks/gpu_throughput.py --tiny --data-dir ../shared/data             # CPU smoke: 1 step each

Every time is wall seconds between ``torch.cuda.synchronize()`` calls, after one warm-up run; the two sides
run interleaved ``--repeats`` times and the table shows median samples/s and the median (and range) of the
per-pair ratios.
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import unlearnkit as uk
from unlearnkit.amp import Precision, channels_last, to_format
from unlearnkit.device import host_syncs as uk_host_syncs
from unlearnkit.methods import METHODS
from unlearnkit.methods.salun import saliency_mask
from unlearnkit.training import batches


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (torch {torch.__version__})"
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads (torch {torch.__version__})"


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, dev) -> float:
    sync(dev)
    t0 = time.perf_counter()
    fn()
    sync(dev)
    return time.perf_counter() - t0


def paired(run_uk, run_bare, dev, repeats: int) -> tuple[float, float, float, float, float]:
    """Interleaved timings (unlearnkit, bare, unlearnkit, bare, …), so drift of the machine (clocks, other
    tenants) hits both sides alike: the median time of each side and the median, min and max of the
    per-pair ratios bare ÷ unlearnkit."""
    t_uk, t_bare = [], []
    for _ in range(repeats):
        t_uk.append(timed(run_uk, dev))
        t_bare.append(timed(run_bare, dev))
    ratios = [b / u for u, b in zip(t_uk, t_bare)]
    return statistics.median(t_uk), statistics.median(t_bare), statistics.median(ratios), min(ratios), max(ratios)


# ------------------------------------------------------------------------------- bare loops
def bare_train(model, ds, idx, bs, lr, dev, prec: Precision, seed=0):
    model.to(dev).train()
    nhwc = channels_last(model, dev)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(seed)
    for b in batches(idx, bs, gen):
        b = b.to(dev, non_blocking=True)
        with prec.autocast():
            loss = F.cross_entropy(model(to_format(ds.inputs(b), nhwc)), ds.y[b])
        if not math.isfinite(loss.item()):
            raise RuntimeError("nan")
        prec.backward_step(loss, opt)


def bare_unlearn(method, model, original, ds, split, bs, lr, dev, prec: Precision, seed=0, epochs=1):
    model.to(dev).train()
    nhwc = channels_last(model, dev)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(seed)
    C = int(ds.y.max()) + 1
    x = lambda b: to_format(ds.inputs(b), nhwc)  # noqa: E731
    masked = []
    if method == "salun":
        mask = saliency_mask(model, ds, split.forget, 0.5)
        frozen = dict(original.named_parameters())
        masked = [(p, mask[n], frozen[n]) for n, p in model.named_parameters() if n in mask]
        hooks = [p.register_hook(lambda g, m=m: g * m) for p, m, _ in masked]

    def stream(idx):
        while True:
            yield from batches(idx, bs, gen)

    def step(loss):
        if not math.isfinite(loss.item()):
            raise RuntimeError("nan")
        prec.backward_step(loss, opt)
        if masked:
            with torch.no_grad():
                for p, m, p0 in masked:
                    p.copy_(torch.where(m, p, p0))

    fs, rs = stream(split.forget), stream(split.retain)
    if method in ("rl", "salun"):
        for _ in range(epochs * math.ceil(len(split.retain) / bs)):
            f, r = next(fs).to(dev), next(rs).to(dev)
            with prec.autocast():
                rand = (ds.y[f] + torch.randint(1, C, (len(f),), device=dev)) % C
                loss = F.cross_entropy(model(x(f)), rand) + F.cross_entropy(model(x(r)), ds.y[r])
            step(loss)
    elif method == "scrub":

        def kl(logits, b):
            with torch.no_grad():
                t = original(x(b))
            return F.kl_div(F.log_softmax(logits, 1), F.log_softmax(t, 1), log_target=True, reduction="batchmean")

        for _ in range(math.ceil(len(split.forget) / bs)):  # msteps = 1: the first epoch only
            f = next(fs).to(dev)
            with prec.autocast():
                loss = -kl(model(x(f)), f)
            step(loss)
        for _ in range(epochs * math.ceil(len(split.retain) / bs)):
            r = next(rs).to(dev)
            with prec.autocast():
                logits = model(x(r))
                loss = F.cross_entropy(logits, ds.y[r]) + kl(logits, r)
            step(loss)
    if method == "salun":
        for h in hooks:
            h.remove()


def unlearn_samples(method, split, bs) -> int:
    if method in ("rl", "salun"):
        return math.ceil(len(split.retain) / bs) * 2 * bs
    return len(split.forget) + len(split.retain)


def host_syncs(fn, dev) -> str:
    """The host's waits for the GPU during one run of ``fn``, by source line, most first."""
    import os

    if dev.type != "cuda":
        return "n/a (CPU)"
    lines = uk_host_syncs(fn)
    return f"{sum(lines.values())} in all; " + ", ".join(
        f"{os.path.basename(f)}:{n} ×{c}" for (f, n), c in lines.most_common(6)
    )


# ------------------------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--datasets", nargs="+", default=["fashion_mnist", "cifar10"])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--amp", default=None, choices=["bf16", "fp16"], help="the AMP setting (default bf16 on CUDA, bf16 on CPU too)"
    )
    p.add_argument("--methods", nargs="+", default=["rl", "salun", "scrub"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--subset", type=int, default=None, help="training-pool subset (default: all)")
    p.add_argument("--width", type=int, default=64, help="resnet18 base width")
    p.add_argument("--repeats", type=int, default=5, help="interleaved timed pairs per row")
    p.add_argument("--tiny", action="store_true", help="CPU smoke: 200 samples, width 8, batch = one step")
    p.add_argument(
        "--marginal",
        action="store_true",
        help="also time 2-epoch unlearning runs: the steady ratio (2nd epoch only), each side's per-call setup "
        "(seconds outside the epochs), and unlearnkit's host syncs by source line (CUDA sync debug mode)",
    )
    args = p.parse_args()
    if args.tiny:
        args.subset, args.width = 200, 8
    dev = torch.device(args.device)
    amp = args.amp or "bf16"
    print(f"device: {device_name(dev)}")
    lines = [
        "| dataset | what | precision | unlearnkit samples/s | bare samples/s | ratio | ratio range |",
        "|---|---|---|---|---|---|---|",
    ]
    steady = [
        "| dataset | method | precision | steady ratio (2nd epoch) | unlearnkit setup s | bare setup s | "
        "unlearnkit host syncs (one 1-epoch call) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets:
        try:
            ds = uk.load_dataset(name, data_dir=args.data_dir, **({"subset": args.subset} if args.subset else {}))
        except uk.UnlearnkitError as e:
            print(f"{name}: skipped ({str(e)[:120]}…)")
            continue
        data = ds.to(dev)
        split = uk.make_split(ds, "random", seed=0, fraction=0.1, unseen_fraction=0.0)
        bs = args.batch_size
        train_idx = split.train
        if args.tiny:  # one step of each
            bs = len(split.retain)
            train_idx = split.train[:bs]
        new = lambda: uk.build_model("resnet18", ds.input_shape, ds.num_classes, width=args.width)  # noqa: E731
        torch.manual_seed(0)
        init = new()
        for prec in ("fp32", amp):
            cfg = uk.TrainConfig(epochs=1, lr=0.05, batch_size=bs, schedule="none", precision=prec)
            run_uk = lambda: uk.train_model(copy.deepcopy(init), data, train_idx, cfg, dev)  # noqa: E731
            run_bare = lambda: bare_train(copy.deepcopy(init), data, train_idx, bs, 0.05, dev, Precision(prec, dev))  # noqa: E731
            run_uk(), run_bare()  # warm-up (cuDNN autotune, allocator)
            t_uk, t_bare, r, lo, hi = paired(run_uk, run_bare, dev, args.repeats)
            n = len(train_idx)
            lines.append(
                f"| {name} | train | {prec} | {n / t_uk:.0f} | {n / t_bare:.0f} | {r:.2f} | {lo:.2f}–{hi:.2f} |"
            )
            print(lines[-1], flush=True)
        original = uk.train_model(
            copy.deepcopy(init), data, train_idx, uk.TrainConfig(epochs=1, lr=0.05, batch_size=bs), dev
        )
        for method in args.methods:
            has_prec = "precision" in METHODS.get(method).Options.model_fields
            for prec in ("fp32", amp):
                cls = METHODS.get(method)  # batch sizes of the sets it reads (an ignored option is an error)
                opts = {"epochs": 1, "lr": 1e-3} | ({"batch_size": bs} if cls.uses_forget else {})
                opts |= {"retain_batch_size": bs} if cls.uses_retain else {}
                if method == "scrub":
                    opts["msteps"] = 1
                if prec != "fp32":
                    if not has_prec:
                        lines.append(
                            f"| {name} | unlearn {method} | {prec} | n/a (loop has no precision option) | | | |"
                        )
                        print(lines[-1], flush=True)
                        continue
                    opts["precision"] = prec

                def runs(epochs: int):
                    """unlearnkit (the fixed schedule, as the bare loop: auto would add proxy evaluations) and
                    the bare loop, each for ``epochs`` epochs."""
                    o = {**opts, "epochs": epochs}
                    return (
                        lambda: uk.unlearn(original, data, split, method, "uniform", options=o, device=dev, seed=0, stop="none"),
                        lambda: bare_unlearn(
                            method, copy.deepcopy(original), original, data, split, bs, 1e-3, dev, Precision(prec, dev),
                            epochs=epochs,
                        ),
                    )  # fmt: skip

                run_uk, run_bare = runs(1)
                run_uk(), run_bare()
                t_uk, t_bare, r, lo, hi = paired(run_uk, run_bare, dev, args.repeats)
                n = unlearn_samples(method, split, bs)
                lines.append(
                    f"| {name} | unlearn {method} | {prec} | {n / t_uk:.0f} | {n / t_bare:.0f} | {r:.2f} | "
                    f"{lo:.2f}–{hi:.2f} |"
                )
                print(lines[-1], flush=True)
                if args.marginal:  # a second epoch: the steady per-epoch rate, without the per-call setup
                    run_uk2, run_bare2 = runs(2)
                    t_uk2, t_bare2, *_ = paired(run_uk2, run_bare2, dev, args.repeats)
                    d_uk, d_bare = t_uk2 - t_uk, t_bare2 - t_bare
                    steady.append(
                        f"| {name} | {method} | {prec} | {d_bare / d_uk:.2f} | {t_uk - d_uk:.3f} | "
                        f"{t_bare - d_bare:.3f} | {host_syncs(run_uk, dev)} |"
                    )
                    print(steady[-1], flush=True)
    print("\n" + "\n".join(lines))
    if args.marginal:
        print("\n" + "\n".join(steady))
    print(
        "\nratio = median over interleaved pairs of bare time ÷ unlearnkit time (goal ≥ 0.9). unlearnkit's unlearn() time includes "
        "its setup (model copy, weighting/target prepare, SalUn's mask — the bare SalUn computes it too)."
    )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
