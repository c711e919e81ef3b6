"""The ``unlearnkit`` command line (typer): bench, list, report."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import UnlearnkitError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Machine unlearning for classifiers, measured against retraining."
)
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def _fail(e: Exception) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(str(e))}")  # a message may hold [brackets]
    raise typer.Exit(2)


def print_summary(df, title: str) -> None:
    from .bench.columns import all_columns
    from .bench.summary import GROUP, fmt, summarize

    s = summarize(df)
    declared = all_columns()
    table = Table(title=title, title_justify="left")
    varying = [g for g in GROUP if s[g].nunique() > 1 or g in ("method",)]
    for g in varying:
        table.add_column(g)
    cols = [declared[c] for c in s.columns.str.removesuffix("_mean") if c in declared and f"{c}_mean" in s]
    for c in cols:
        table.add_column(c.label, justify="right")
    table.add_column("seeds", justify="right")
    for _, r in s.iterrows():
        table.add_row(
            *[str(r[g]) for g in varying],
            *[fmt(r[f"{c.name}_mean"], r[f"{c.name}_ci"], 3 if c.digits > 2 else 1) for c in cols],
            str(r["n"]),
        )
    console.print(table)
    console.print("[dim]mean ± 95 % CI over seeds. " + "; ".join(f"{c.label}: {c.short}" for c in cols) + "[/]")


@app.command()
def bench(
    preset: Optional[str] = typer.Option(None, help="a preset in unlearnkit/configs (quick, …); see `unlearnkit list`"),
    config: Optional[Path] = typer.Option(None, help="a bench YAML file"),
    out: Path = typer.Option(Path("runs/bench"), help="run directory (results.db, results.csv, report)"),
    executor: str = typer.Option("local", help="local (process pool) or ray"),
    jobs: int = typer.Option(1, help="parallel jobs (local processes or Ray tasks)"),
    threads: Optional[int] = typer.Option(
        None,
        help="torch threads per job (default $UNLEARNKIT_THREADS or 1): the "
        "same for every --jobs and executor, so rows are bit-identical",
    ),
    ray_address: Optional[str] = typer.Option(None, help="address of an existing Ray cluster (else a local ray.init)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps"),
    data_dir: Optional[Path] = typer.Option(None, help="data directory (else $UNLEARNKIT_DATA, else the user cache)"),
    download: bool = typer.Option(False, help="download missing datasets (needs internet)"),
    cache_dir: Optional[Path] = typer.Option(
        None, help="trained-model cache (else $UNLEARNKIT_CACHE or the user cache)"
    ),
    seeds: Optional[str] = typer.Option(None, help="override the seeds, e.g. 0,1"),
    options: Optional[Path] = typer.Option(None, help="a YAML with method_options (e.g. tuned.yaml from `tune`)"),
    report: bool = typer.Option(True, help="write the report (md, html, png) at the end"),
    quiet: bool = typer.Option(False, help="no progress bars (also when stderr is not a terminal)"),
    stop: Optional[str] = typer.Option(
        None,
        help="auto | none: override the config's `stop` (auto: pick each "
        "run's step and lr, or strength, by the retrain-free proxy)",
    ),
) -> None:
    """Run a grid of datasets × scenarios × methods × weightings × targets × seeds."""
    from .bench.config import check_out_dir, load_config, parse_seeds
    from .bench.executor import EXECUTORS
    from .bench.runner import run_bench
    from .bench.store import ResultStore
    from .device import resolve_device

    try:
        overrides = {"seeds": parse_seeds(seeds)} if seeds is not None else {}
        if stop is not None:
            from .stopping import check_stop

            overrides["stop"] = check_stop(stop, "--stop")
        cfg = load_config(preset, config, overrides, options_file=options)
        resolve_device(device)
        EXECUTORS.get(executor)
        if jobs < 1:
            raise UnlearnkitError(f"--jobs must be at least 1, got {jobs}")
        if threads is not None and threads < 1:
            raise UnlearnkitError(f"--threads must be at least 1, got {threads}")
        check_out_dir(out)
        outcome = run_bench(
            cfg,
            out,
            executor,
            jobs,
            device,
            str(data_dir) if data_dir else None,
            download,
            cache_dir,
            ray_address,
            quiet=True if quiet else None,
            console=err_console,
            threads=threads,
        )
    except UnlearnkitError as e:
        _fail(e)
    except ValueError as e:  # e.g. a malformed --seeds
        _fail(UnlearnkitError(str(e)))
    store = ResultStore(out)
    df = store.frame()
    print_summary(df, f"{cfg.name}: {len(df)} rows in {out}/results.csv")
    msg = (
        f"{outcome.ran} jobs run, {outcome.skipped_done} already done; models trained {outcome.trained}, "
        f"reused from cache {outcome.reused}; {outcome.seconds:.1f} s"
    )
    console.print(msg)
    if "peak_rss_mb" in df and df["peak_rss_mb"].notna().any():
        gpu = df["gpu_peak_mb"].max() if "gpu_peak_mb" in df else float("nan")
        console.print(
            f"peak memory of the largest job: CPU RSS {df['peak_rss_mb'].max():.0f} MiB"
            + ("" if gpu != gpu else f", GPU max allocated {gpu:.0f} MiB")
        )
    if outcome.notes:
        console.print(
            f"[dim]{len(outcome.notes)} method × weighting × target combinations don't apply and ran plain "
            f"instead (first: {outcome.notes[0]})[/]"
        )
    for note in outcome.unmet_metrics:
        console.print(f"[dim]{note}[/]")
    unmoved = df[df["moved"].eq(False) & ~df["method"].isin(["original"])] if "moved" in df else df.iloc[0:0]
    if len(unmoved):
        console.print(
            f"[yellow]warning:[/] {len(unmoved)} run(s) left the model unchanged: {sorted(set(unmoved['method']))}"
        )
    if report:
        from .bench.report import write_report

        files = write_report(out)
        console.print(f"report: {files['html']}")
    if outcome.failed:
        for what, error in outcome.failed:
            err_console.print(f"[red]failed:[/] {what}: {error}")
        raise typer.Exit(1)


@app.command()
def tune(
    preset: Optional[str] = typer.Option(None, help="a preset to tune"),
    config: Optional[Path] = typer.Option(None, help="a bench YAML file to tune"),
    out: Path = typer.Option(Path("runs/tune"), help="run directory (trials in results.db, tuned.yaml)"),
    trials: int = typer.Option(20, help="Optuna trials per method"),
    tuning_seeds: str = typer.Option("1000,1001", help="seeds (own splits) used for tuning only"),
    device: str = typer.Option("auto"),
    data_dir: Optional[Path] = typer.Option(None),
    cache_dir: Optional[Path] = typer.Option(None),
) -> None:
    """Pick each method's hyperparameters by minimising Avg.Gap to retrain on tuning seeds; writes
    OUT/tuned.yaml, to pass back with `unlearnkit bench --options OUT/tuned.yaml` (fresh seeds)."""
    from .bench.config import check_out_dir, load_config, parse_seeds
    from .bench.tune import tune as run_tune, untuned

    try:
        cfg = load_config(preset, config)
        seeds = parse_seeds(tuning_seeds, "--tuning-seeds")
        check_out_dir(out)
        res = run_tune(
            cfg,
            out,
            trials,
            seeds,
            str(cache_dir) if cache_dir else None,
            device,
            str(data_dir) if data_dir else None,
            on_trial=lambda m, i, v: err_console.print(f"[dim]{m} trial {i}: Avg.Gap {v:.3f}[/]"),
        )
    except (UnlearnkitError, ValueError) as e:
        _fail(e)
    table = Table(title=f"tuned on seeds {tuning_seeds}", title_justify="left")
    for c in ("method", "Avg.Gap default", "Avg.Gap tuned", "options"):
        table.add_column(c)
    for m, r in res.items():
        table.add_row(
            m,
            f"{r['default_avg_gap']:.3f}",
            f"{r['avg_gap']:.3f}",
            ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["options"].items()),
        )
    console.print(table)
    if skipped := untuned(cfg):
        console.print(f"not tuned (nothing in their search space; they keep their options): {', '.join(skipped)}")
    console.print(
        f"wrote {out / 'tuned.yaml'}; evaluate on fresh seeds with: unlearnkit bench "
        f"{'--preset ' + preset if preset else '--config ' + str(config)} --options {out / 'tuned.yaml'}"
    )


def _pairs(items: list[str], what: str) -> dict:
    """``key=value`` strings → dict, values parsed as YAML (numbers, lists, booleans)."""
    import yaml

    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise UnlearnkitError(f"{what} {item!r} must look like key=value (e.g. fraction=0.1 or classes=[3])")
        try:
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError as e:
            problem = str(getattr(e, "problem", None) or e).splitlines()[0]
            raise UnlearnkitError(
                f"{what} {item!r}: the value {v!r} is not valid YAML ({problem}); write numbers, "
                f"true/false, or lists like [3, 8]"
            ) from None
    return out


@app.command("unlearn")
def unlearn_cmd(
    method: str = typer.Option(..., help="unlearning method (see `unlearnkit list`)"),
    weighting: str = typer.Option("uniform"),
    target: str = typer.Option("none"),
    dataset: Optional[str] = typer.Option(
        None, help="a registered dataset (default digits; with --checkpoint, the one in the JSON beside it)"
    ),
    model: str = typer.Option("mlp"),
    scenario: str = typer.Option("random", help="random | class | subclass | long_tail | indices | …"),
    set_: list[str] = typer.Option(
        [], "--set", help="scenario option key=value, repeatable: fraction=0.1, classes=[3], file=forget_ids.txt"
    ),
    option: list[str] = typer.Option([], "--option", help="method option key=value, repeatable: lr=0.01"),
    weighting_option: list[str] = typer.Option([], "--weighting-option", help="e.g. tau=0.15"),
    target_option: list[str] = typer.Option([], "--target-option", help="e.g. beta=10"),
    seed: int = typer.Option(0),
    stop: str = typer.Option(
        "auto",
        help="auto (keep the step, lr or strength the retrain-free proxy likes best, θ_o "
        "included) | none (the configured run exactly)",
    ),
    train_from: str = typer.Option("quick", help="preset whose `train` settings train θ_o and θ_r"),
    label_smoothing: Optional[float] = typer.Option(
        None,
        help="the label smoothing θ_o was trained with: θ_o's and θ_r's objective and the one the methods' retain "
        "terms keep (default: the --train-from preset's, or what a checkpoint folder records)",
    ),
    save: Optional[Path] = typer.Option(None, help="write the unlearned model (.safetensors) and its split (.json)"),
    device: str = typer.Option("auto"),
    data_dir: Optional[Path] = typer.Option(None),
    cache_dir: Optional[Path] = typer.Option(None),
    checkpoint: Optional[Path] = typer.Option(
        None,
        help="unlearn YOUR model: a .safetensors or .pt/.pth state dict, or the folder `unlearnkit train --out` "
        "wrote (then no θ_r is trained unless --verify-retrain)",
    ),
    arch: Optional[str] = typer.Option(
        None,
        help="with --checkpoint: a registered model (mlp, cnn, …) or "
        "module:function called as f(input_shape, num_classes, **options); "
        "default: the JSON written beside it by `unlearnkit train`",
    ),
    arch_option: list[str] = typer.Option(
        [], "--arch-option", help="architecture option key=value, e.g. hidden=[256,128]"
    ),
    data: Optional[Path] = typer.Option(
        None,
        help="with --checkpoint: an .npz (x_train, y_train[, x_test, y_test]) or a folder of images with labels.csv",
    ),
    dataset_option: list[str] = typer.Option([], "--dataset-option", help="dataset loader option key=value"),
    subset: Optional[int] = typer.Option(None, help="stratified subset of the training pool (as at training)"),
    forget: Optional[Path] = typer.Option(
        None, help="with --checkpoint: file of training indices to forget, one per line"
    ),
    forget_where: Optional[str] = typer.Option(
        None, help="with --checkpoint: forget every training sample with label=3 (or label=3,5)"
    ),
    holdout: Optional[Path] = typer.Option(
        None,
        help="indices of samples the model never trained on (default: the "
        "unseen split from training, else the test split)",
    ),
    verify_retrain: bool = typer.Option(
        False, help="also retrain θ_r on D_r and report the true Avg.Gap (small models; cached under --cache-dir)"
    ),
    out: Optional[Path] = typer.Option(
        None, help="with --checkpoint: output folder (unlearned.safetensors, audit.json/.md/.html)"
    ),
    augment: Optional[str] = typer.Option(
        None,
        help="with --checkpoint: θ_o's data augmentation, module:function (a batch of model-ready inputs → the "
        "batch trained on), applied to the methods' training batches and to --verify-retrain's θ_r; default: what "
        "model.json records (`unlearnkit train --augment`); none: without",
    ),
    audit_option: list[str] = typer.Option(
        [], "--audit-option", help="retain_sample=2000, seed=0, mia_feature=confidence, mia_fits=1"
    ),
) -> None:
    """One unlearning run: train (or reuse) θ_o and θ_r, unlearn, and compare with retraining — or, with
    --checkpoint, unlearn your own model and write an audit (no retraining unless --verify-retrain)."""
    import json

    if checkpoint is not None:
        _unlearn_checkpoint(
            checkpoint=checkpoint,
            method=method,
            weighting=weighting,
            target=target,
            option=option,
            weighting_option=weighting_option,
            target_option=target_option,
            seed=seed,
            train_from=train_from,
            label_smoothing=label_smoothing,
            device=device,
            data_dir=data_dir,
            cache_dir=cache_dir,
            dataset=dataset,
            data=data,
            dataset_option=dataset_option,
            subset=subset,
            arch=arch,
            arch_option=arch_option,
            forget=forget,
            forget_where=forget_where,
            holdout=holdout,
            verify_retrain=verify_retrain,
            out=out,
            augment=augment,
            stop=stop,
            audit_option=audit_option,
            save=save,
            set_=set_,
        )
        return
    only_with_checkpoint = {
        "--arch": arch,
        "--arch-option": arch_option,
        "--data": data,
        "--dataset-option": dataset_option,
        "--subset": subset,
        "--forget": forget,
        "--forget-where": forget_where,
        "--holdout": holdout,
        "--verify-retrain": verify_retrain,
        "--out": out,
        "--audit-option": audit_option,
        "--augment": augment,
    }
    given = [k for k, v in only_with_checkpoint.items() if v]
    if given:
        _fail(
            UnlearnkitError(
                f"{', '.join(given)} only apply with --checkpoint (unlearning your own model); "
                f"without it use --scenario/--set (e.g. --scenario indices --set file=ids.txt)"
            )
        )
    dataset = dataset or "digits"

    from safetensors.torch import save_file

    from .bench.config import load_config, make_config
    from .bench.job import expand, run_job
    from .bench.runner import default_cache_dir
    from .unlearn import Plan

    try:
        m_opts, w_opts, t_opts = (
            _pairs(option, "--option"),
            _pairs(weighting_option, "--weighting-option"),
            _pairs(target_option, "--target-option"),
        )
        from .stopping import check_stop

        check_stop(stop, "--stop")
        scenario_opts = _pairs(set_, "--set")
        reserved = sorted({"kind", "label"} & set(scenario_opts))
        if reserved:
            raise UnlearnkitError(
                f"--set {reserved[0]}=… is not a scenario option; choose the scenario with --scenario NAME"
            )
        Plan.make(method, weighting, target, m_opts, w_opts, t_opts)  # reject a composition up front
        cfg = make_config(
            dict(
                name="unlearn",
                datasets=[dataset],
                model=model,
                train=_train_settings(load_config(train_from).train, label_smoothing),
                scenarios=[{"kind": scenario, **scenario_opts}],
                methods=[{"name": method, "options": m_opts}],
                weightings=[{"name": weighting, "options": w_opts}],
                targets=[{"name": target, "options": t_opts}],
                seeds=[seed],
                include_original=False,
                stop=stop,
            ),
            "options",
        )
        (spec,) = expand(cfg, str(cache_dir or default_cache_dir()), device, str(data_dir) if data_dir else None).specs
        row = run_job(spec, keep_model=True)
    except UnlearnkitError as e:
        _fail(e)
    table = Table(
        title=f"{method} ∘ {weighting} ∘ {target} on {dataset} · {spec['scenario_label']} · seed {seed}",
        title_justify="left",
    )
    for c in ("", "FA", "RA", "TA", "MIA"):
        table.add_column(c, justify="right")
    table.add_row("unlearned", *(f"{row[c]:.2f}" for c in ("FA", "RA", "TA", "MIA")))
    table.add_row("retrained", *(f"{row[c + '_retrain']:.2f}" for c in ("FA", "RA", "TA", "MIA")))
    console.print(table)
    console.print(
        f"Avg.Gap to retrain {row['avg_gap']:.2f} · unlearn {row['unlearn_s']:.3f} s · retrain "
        f"{row['retrain_s']:.3f} s (RTE {row['RTE']:.3f}) · |D_f| = {row['n_forget']}"
    )
    if not row["moved"]:
        console.print("[yellow]warning:[/] the method left the model unchanged")
    if save:
        save.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in row["_model"].state_dict().items()}
        save_file(state, str(save.with_suffix(".safetensors")))
        meta = {"spec": {k: v for k, v in spec.items() if k not in ("cache_dir",)}, "split": row["_split"].to_dict()}
        save.with_suffix(".json").write_text(json.dumps(meta, default=str))
        console.print(f"saved {save.with_suffix('.safetensors')} and {save.with_suffix('.json')}")


# ------------------------------------------------------------------------------- your own model (checkpoints)
def _load_request(
    checkpoint: Path,
    *,
    dataset,
    data,
    dataset_option,
    subset,
    arch,
    arch_option,
    forget,
    forget_where,
    holdout,
    data_dir,
):
    """(dataset spec, dataset, loaded checkpoint, split, request source) for a deletion request on a checkpoint:
    every input is validated here, before any unlearning."""
    from .checkpoint import (
        dataset_spec,
        deletion_split,
        load_checkpoint,
        load_spec,
        read_ids,
        read_meta,
        select_where,
        trained_on,
    )

    if (forget is None) == (forget_where is None):
        raise UnlearnkitError(
            "give exactly one of --forget FILE (training indices, one per line) or --forget-where label=<class>"
        )
    meta = read_meta(checkpoint) if checkpoint.exists() else None
    d_opts = _pairs(dataset_option, "--dataset-option")
    if dataset is None and data is None and not d_opts and subset is None:
        if meta is None or meta.dataset is None:
            raise UnlearnkitError(
                f"which data was {checkpoint.name} trained on? pass --dataset NAME (see "
                f"`unlearnkit list`) or --data PATH (.npz or an image folder with labels.csv)"
            )
        spec = meta.dataset
    else:
        spec = dataset_spec(dataset, data, d_opts, subset)
    ds = load_spec(spec, str(data_dir) if data_dir else None)
    ckpt = load_checkpoint(checkpoint, ds, arch, _pairs(arch_option, "--arch-option") if arch_option else None)
    held = read_ids(holdout, "--holdout") if holdout is not None else None
    if forget is not None:
        ids, source = read_ids(forget), f"ids from {forget.name}"
    else:
        train, _, _ = trained_on(ds, ckpt.meta, held)
        ids, source = select_where(ds, train, forget_where), forget_where
        if len(ids) == 0:
            raise UnlearnkitError(f"--forget-where {forget_where}: no training sample matches")
    split = deletion_split(ds, ids, ckpt.meta, held)
    return spec, ds, ckpt, split, source


def _audit_command(
    unlearned: Path,
    original: Path,
    forget_file: Path,
    holdout: Optional[Path],
    spec,
    arch,
    arch_option,
    audit_opts: dict,
    device: str,
) -> str:
    import shlex

    parts = [
        "unlearnkit",
        "audit",
        "--checkpoint",
        str(unlearned),
        "--original",
        str(original),
        "--forget",
        str(forget_file),
    ]
    if holdout is not None:
        parts += ["--holdout", str(holdout)]
    if spec is not None:
        parts += ["--dataset", spec.name] + [
            a for k, v in spec.options.items() for a in ("--dataset-option", f"{k}={json.dumps(v)}")
        ]
        if spec.subset is not None:
            parts += ["--subset", str(spec.subset)]
    if arch is not None:
        parts += ["--arch", arch] + [a for o in arch_option for a in ("--arch-option", o)]
    parts += [a for k, v in audit_opts.items() for a in ("--audit-option", f"{k}={v}")]
    parts += ["--device", device, "--compare", str(unlearned.parent / "audit.json")]
    return shlex.join(parts)


def _train_settings(train, label_smoothing: float | None):
    """``train`` (a TrainConfig) with ``--label-smoothing`` where given (validated: one clear error)."""
    from .options import parse_options
    from .training import TrainConfig

    if label_smoothing is None:
        return train
    return parse_options(TrainConfig, {**train.model_dump(), "label_smoothing": label_smoothing}, "--label-smoothing")


def _unlearn_checkpoint(
    *,
    checkpoint,
    method,
    weighting,
    target,
    option,
    weighting_option,
    target_option,
    seed,
    train_from,
    label_smoothing,
    device,
    data_dir,
    cache_dir,
    dataset,
    data,
    dataset_option,
    subset,
    arch,
    arch_option,
    forget,
    forget_where,
    holdout,
    verify_retrain,
    out,
    augment,
    stop,
    audit_option,
    save,
    set_,
) -> None:
    import time

    from .audit import AuditOptions, audit, ids_sha256, verify_retrain as run_verify_retrain, write_audit
    from .checkpoint import (
        CheckpointMeta,
        DatasetSpec,
        data_fingerprint,
        file_sha256,
        import_augment,
        load_checkpoint,
        resolve_weights,
        save_checkpoint,
        versions,
    )
    from .device import resolve_device
    from .training import TrainConfig
    from .unlearn import Plan, unlearn

    try:
        checkpoint = resolve_weights(checkpoint, "--checkpoint")  # a folder `unlearnkit train --out` wrote: its weights
        if out is None:
            raise UnlearnkitError("--checkpoint needs --out DIR (for unlearned.safetensors and the audit)")
        if save is not None or set_:
            raise UnlearnkitError(
                "with --checkpoint, choose the request with --forget/--forget-where and the output "
                "with --out (not --set/--save)"
            )
        m_opts, w_opts, t_opts = (
            _pairs(option, "--option"),
            _pairs(weighting_option, "--weighting-option"),
            _pairs(target_option, "--target-option"),
        )
        a_opts = _pairs(audit_option, "--audit-option")
        Plan.make(method, weighting, target, m_opts, w_opts, t_opts)
        from .options import parse_options

        parse_options(AuditOptions, a_opts, "--audit-option")
        from .stopping import check_stop

        stop = check_stop(stop, "--stop")
        dev = resolve_device(device)
        spec, ds, ckpt, split, source = _load_request(
            checkpoint,
            dataset=dataset,
            data=data,
            dataset_option=dataset_option,
            subset=subset,
            arch=arch,
            arch_option=arch_option,
            forget=forget,
            forget_where=forget_where,
            holdout=holdout,
            data_dir=data_dir,
        )
        from .bench.config import load_config

        aug_ref = augment if augment is not None else (ckpt.meta.augment if ckpt.meta is not None else None)
        aug = import_augment(aug_ref)  # θ_o's data augmentation: the methods' batches and θ_r's training
        aug_ref = aug_ref if aug is not None else None  # "none" is no augmentation
        if aug is not None and augment is None:
            console.print(f"applying θ_o's data augmentation {aug_ref} (recorded in its JSON; --augment none: without)")
        tcfg = _train_settings(
            TrainConfig(**ckpt.meta.train)
            if ckpt.meta is not None and ckpt.meta.train
            else load_config(train_from).train,
            label_smoothing,
        )
        from .baseline import Baseline

        # a chain of requests: the answers of the model before the first, carried in the checkpoint's JSON (measured
        # here on the first request: one pass over its training and held-out data), so that auto counts damage
        # against that model and not against each request's starting point
        chained = ckpt.meta is not None and "baseline" in ckpt.meta.extra
        first = (
            Baseline.from_dict(ckpt.meta.extra["baseline"])
            if chained
            else Baseline.measure(ckpt.model, ds, split.train, split.unseen, device=dev)
        )
        if not chained and ckpt.meta is not None and ckpt.meta.extra.get("forgotten"):
            import warnings

            warnings.warn(  # an unlearned checkpoint from before baselines were carried: the chain starts here
                f"{checkpoint.name} already had {len(ckpt.meta.extra['forgotten'])} samples unlearned, but its JSON "
                f"holds no baseline (the answers of the model before the first request): damage is counted from this "
                f"model on, and what earlier requests cost is not seen",
                RuntimeWarning,
                stacklevel=1,
            )
        t0 = time.perf_counter()
        result = unlearn(
            ckpt.model,
            ds,
            split,
            method,
            weighting,
            target,
            options=m_opts,
            weighting_options=w_opts,
            target_options=t_opts,
            device=dev,
            seed=seed,
            train_config=tcfg,
            new_model=ckpt.new_model,
            stop=stop,
            augment=aug,
            baseline=first if chained and (m_opts or {}).get("stop", stop) == "auto" else None,  # the proxy's only
        )
        wall = time.perf_counter() - t0
        out.mkdir(parents=True, exist_ok=True)
        meta = ckpt.meta or CheckpointMeta(
            architecture=ckpt.arch,
            input_shape=list(ds.input_shape),
            num_classes=ds.num_classes,
            dataset=DatasetSpec(**spec.model_dump()),
            data_fingerprint=data_fingerprint(ds),
            versions=versions(),
        )
        forgotten = sorted(set(meta.extra.get("forgotten", [])) | set(split.forget.tolist()))
        meta = meta.model_copy(
            update={
                "architecture": ckpt.arch,
                "augment": aug_ref,  # a later request on this model applies it too
                "extra": {
                    **meta.extra,
                    "unlearned_from": str(checkpoint.resolve()),
                    "forget_sha256": ids_sha256(split.forget),
                    "method": method,
                    "forgotten": forgotten,
                    "baseline": first.without(forgotten).to_dict(),  # no per-sample trace of what was removed
                },
            }
        )  # a later request on this model trains on none of these
        unlearned_path = save_checkpoint(result.model, out / "unlearned.safetensors", meta, like=ckpt.state)
        forget_file = out / "forget_ids.txt"
        forget_file.write_text("\n".join(map(str, split.forget.tolist())) + "\n")
        twins = sorted({r for h in result.history for _, r in (h.get("auto_stop") or {}).get("twin_pairs", [])})
        if twins:  # proxy.twin_check: copies of requested samples left in D_r, for the user's next request
            (out / "twin_ids.txt").write_text("\n".join(map(str, twins)) + "\n")
            console.print(
                f"wrote {out / 'twin_ids.txt'}: the {len(twins)} retained copies of requested samples the proxy found; "
                f"to remove them too, request forget_ids.txt and twin_ids.txt together"
            )
        # measure the model as saved: the audit is then exactly what `unlearnkit audit` recomputes from the files
        saved = load_checkpoint(unlearned_path, ds, arch, _pairs(arch_option, "--arch-option") if arch_option else None)
        record = audit(saved.model, ckpt.model, ds, split, options=a_opts, device=dev)
        record["request_source"] = source
        record["run"] = {
            "method": method,
            "weighting": weighting,
            "target": target,
            "options": {"method": m_opts, "weighting": w_opts, "target": t_opts},
            "seed": seed,
            "device": str(dev),
            "wall_s": wall,
            "unlearn_s": result.seconds,
            "passes": result.passes,
            "stop": stop,
            "moved": result.moved,
            "history": json.loads(json.dumps(result.history, default=_jsonable)),
        }
        record["verify_retrain"] = None
        if verify_retrain:
            from .bench.runner import default_cache_dir

            record["verify_retrain"] = run_verify_retrain(
                saved.model,
                ckpt.model,
                ds,
                split,
                ckpt.new_model,
                tcfg,
                seed,
                dev,
                cache_dir or default_cache_dir(),
                dict(arch=ckpt.arch.model_dump(), data=record["data"]["fingerprint"], augment=aug_ref),
                augment=aug,
            )
        record["files"] = {
            "original": str(checkpoint),
            "original_sha256": file_sha256(checkpoint),
            "unlearned": str(unlearned_path),
            "unlearned_sha256": file_sha256(unlearned_path),
            "forget_ids": str(forget_file),
        }
        record["versions"] = versions()
        record["command"] = _audit_command(
            unlearned_path,
            checkpoint,
            forget_file,
            holdout,
            None if ckpt.meta is not None and ckpt.meta.dataset == spec else spec,
            arch,
            arch_option,
            a_opts,
            device,
        )
        paths = write_audit(record, out)
    except UnlearnkitError as e:
        _fail(e)
    _print_audit(
        record,
        title=f"{method} ∘ {weighting} ∘ {target} on {checkpoint.name} · forget "
        f"{record['request']['n_forget']} ({source})",
    )
    console.print(
        f"unlearn {record['run']['wall_s']:.3f} s, {record['run']['passes'] or '—'} pass(es); wrote "
        f"{unlearned_path}, {paths['json']}, {paths['md']}, {paths['html']}"
    )
    if not result.moved:
        console.print("[yellow]warning:[/] the method left the model unchanged")


def _jsonable(o):
    """History values for JSON: numpy / torch scalars and arrays as numbers and lists, anything else as text."""
    import numpy as np
    import torch

    if isinstance(o, (np.generic, np.ndarray)):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.detach().cpu().tolist()
    return str(o)


def _print_audit(record: dict, title: str) -> None:
    from .audit import _rows

    table = Table(title=title, title_justify="left")
    for c in ("measure", "before", "after", "change"):
        table.add_column(c, justify="right")
    for r in _rows(record):
        table.add_row(*r)
    console.print(table)
    vr = record.get("verify_retrain")
    if vr:
        console.print(
            f"true Avg.Gap to retrain {vr['avg_gap']:.2f} (original {vr['avg_gap_original']:.2f}); "
            f"retraining took {vr['train_s']:.2f} s"
        )


@app.command("train")
def train_cmd(
    out: Path = typer.Option(..., help="folder for model.safetensors and model.json"),
    dataset: Optional[str] = typer.Option(None, help="a registered dataset (default digits)"),
    data: Optional[Path] = typer.Option(
        None, help="an .npz (x_train, y_train[, x_test, y_test]) or an image folder with labels.csv"
    ),
    dataset_option: list[str] = typer.Option([], "--dataset-option", help="dataset loader option key=value"),
    subset: Optional[int] = typer.Option(None, help="stratified subset of the training pool"),
    model: str = typer.Option("mlp", help="a registered model or module:function"),
    model_option: list[str] = typer.Option([], "--model-option", help="model option key=value, e.g. hidden=[256,128]"),
    preset: str = typer.Option("quick", help="preset whose `train` settings to use"),
    train_option: list[str] = typer.Option([], "--train-option", help="override a train setting: epochs=20, lr=0.05"),
    seed: int = typer.Option(0, help="seed of the split (train / test / unseen) and of training"),
    unseen_fraction: float = typer.Option(
        0.1, help="share of the training pool held out as unseen data (the audit's non-members)"
    ),
    augment: Optional[str] = typer.Option(
        None,
        help="data augmentation: module:function mapping a batch of model-ready inputs to the batch trained on "
        "(recorded in model.json; `unlearnkit unlearn --checkpoint` applies it too)",
    ),
    device: str = typer.Option("auto"),
    data_dir: Optional[Path] = typer.Option(None),
) -> None:
    """Train a model on a dataset and save it as OUT/model.safetensors + OUT/model.json (architecture, data,
    split seed, train settings, data fingerprint) — ready for `unlearnkit unlearn --checkpoint`."""
    import time

    from .bench.config import load_config
    from .checkpoint import ArchSpec, dataset_spec, load_spec, train_and_save

    try:
        spec = dataset_spec(
            dataset if (dataset or data) else "digits", data, _pairs(dataset_option, "--dataset-option"), subset
        )
        cfg = load_config(preset).train.model_copy(update=_pairs(train_option, "--train-option"))
        from .options import parse_options
        from .training import TrainConfig

        cfg = parse_options(TrainConfig, cfg.model_dump(), "--train-option")
        arch = ArchSpec(name=model, options=_pairs(model_option, "--model-option"))
        ds = load_spec(spec, str(data_dir) if data_dir else None)
        t0 = time.perf_counter()
        _, meta, path = train_and_save(ds, spec, arch, cfg, out, seed, unseen_fraction, device, augment)
    except UnlearnkitError as e:
        _fail(e)
    console.print(
        f"trained {model} on {ds.name} ({len(ds.pool)} pool samples, seed {seed}) in "
        f"{time.perf_counter() - t0:.2f} s; wrote {path}, {path.with_suffix('.json')} and "
        f"{path.parent / 'train_ids.txt'} (the training indices a request may name)"
    )


@app.command("audit")
def audit_cmd(
    checkpoint: Path = typer.Option(
        ..., help="the unlearned weights (a file, or the --out folder of `unlearn --checkpoint`)"
    ),
    original: Path = typer.Option(..., help="the original weights (a file, or the --out folder of `unlearnkit train`)"),
    forget: Optional[Path] = typer.Option(None, help="the forgotten training indices, one per line"),
    forget_where: Optional[str] = typer.Option(None, help="or label=<class>"),
    holdout: Optional[Path] = typer.Option(None, help="indices of samples the model never trained on"),
    dataset: Optional[str] = typer.Option(None),
    data: Optional[Path] = typer.Option(None),
    dataset_option: list[str] = typer.Option([], "--dataset-option"),
    subset: Optional[int] = typer.Option(None),
    arch: Optional[str] = typer.Option(None),
    arch_option: list[str] = typer.Option([], "--arch-option"),
    audit_option: list[str] = typer.Option(
        [], "--audit-option", help="retain_sample=…, seed=…, mia_feature=…, mia_fits=…"
    ),
    device: str = typer.Option("auto"),
    data_dir: Optional[Path] = typer.Option(None),
    out: Optional[Path] = typer.Option(None, help="write audit.json/.md/.html here"),
    compare: Optional[Path] = typer.Option(
        None, help="an audit.json to check the recomputed numbers against (exit 1 on any difference)"
    ),
) -> None:
    """Recompute an unlearning audit from the saved files (no training): FA, RA, held-out accuracy,
    MIA-efficacy, per-class FA vs held-out accuracy, proxy gap, parameter change — before and after."""
    from .audit import audit, differences, measurements, write_audit
    from .checkpoint import load_checkpoint, resolve_weights

    try:
        checkpoint, original = resolve_weights(checkpoint, "--checkpoint"), resolve_weights(original, "--original")
        _, ds, orig, split, source = _load_request(
            original,
            dataset=dataset,
            data=data,
            dataset_option=dataset_option,
            subset=subset,
            arch=arch,
            arch_option=arch_option,
            forget=forget,
            forget_where=forget_where,
            holdout=holdout,
            data_dir=data_dir,
        )
        try:
            unl = load_checkpoint(checkpoint, ds, arch, _pairs(arch_option, "--arch-option") if arch_option else None)
        except UnlearnkitError as e:  # the data comes from --original's record: say which file does not fit it
            raise UnlearnkitError(
                f"--checkpoint {checkpoint.name} does not fit the data of --original {original.name}: {e}"
            ) from None
        record = audit(unl.model, orig.model, ds, split, options=_pairs(audit_option, "--audit-option"), device=device)
        record["request_source"] = source
        record["files"] = {"original": str(original), "unlearned": str(checkpoint)}
        diffs = None
        if compare is not None:
            if not compare.exists():
                raise UnlearnkitError(f"--compare {str(compare)!r} not found")
            saved = json.loads(compare.read_text())
            diffs = differences(measurements(record), measurements(saved))
        if out is not None:
            write_audit(record, out)
    except UnlearnkitError as e:
        _fail(e)
    _print_audit(
        record,
        title=f"audit of {checkpoint.name} vs {original.name} · forget {record['request']['n_forget']} ({source})",
    )
    if diffs is not None:
        if diffs:
            for d in diffs[:20]:
                err_console.print(f"[red]differs:[/] {d}")
            raise typer.Exit(1)
        console.print(f"every measurement matches {compare}")


@app.command("list")
def list_registries() -> None:
    """Print every registry: datasets, scenarios, models, methods, weightings, targets, metrics, presets."""
    from .bench.config import PRESET_DIR
    from .bench.executor import EXECUTORS
    from .data import DATASETS, SCENARIOS
    from .eval import METRICS
    from .methods import METHODS
    from .models import MODELS
    from .targets import TARGETS
    from .weighting import WEIGHTINGS

    def doc(obj) -> str:
        return ((obj.__doc__ or "").strip().splitlines() or [""])[0]

    presets = {p.stem: p for p in sorted(PRESET_DIR.glob("*.yaml"))}
    for title, reg in [
        ("datasets", DATASETS),
        ("scenarios", SCENARIOS),
        ("models", MODELS),
        ("methods", METHODS),
        ("weightings", WEIGHTINGS),
        ("targets", TARGETS),
        ("metrics", METRICS),
        ("executors", EXECUTORS),
    ]:
        table = Table(title=title, title_justify="left", show_header=False)
        for name, obj in reg.items():
            table.add_row(name, doc(obj))
        console.print(table)
    table = Table(title="metric columns", title_justify="left")
    for c in ("metric", "column", "goal", "in Avg.Gap", "needs", "definition"):
        table.add_column(c)
    for name, cls in METRICS.items():
        needs = ", ".join(sorted(n.name.lower() for n in cls.needs)) or "—"
        for col in cls.columns:
            goal = col.goal + (" |·|" if col.absolute else "")
            table.add_row(name, col.name, goal, "yes" if col.in_gap else "", needs, col.short)
    console.print(table)
    table = Table(title="presets", title_justify="left", show_header=False)
    import yaml

    for name, p in presets.items():
        table.add_row(name, (yaml.safe_load(p.read_text()) or {}).get("description", ""))
    console.print(table)


@app.command("report")
def report_cmd(run_dir: Path = typer.Argument(..., help="a bench run directory")) -> None:
    """Write report.md, report.html, results.csv and PNG plots for a run directory."""
    from .bench.report import write_report

    try:
        files = write_report(run_dir)
    except UnlearnkitError as e:
        _fail(e)
    for kind, path in files.items():
        console.print(f"{kind}: {path}")


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """The CLI's form of a warning: ``warning: <message>`` on stderr, without Python's file, line number and
    source line (``warnings.showwarning`` under ``main()``; the library keeps Python's default)."""
    from rich.markup import escape

    err_console.print(f"[yellow]warning:[/] {escape(str(message))}")


def main() -> None:
    import warnings

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    warnings.showwarning = show_warning
    try:
        app()
    except UnlearnkitError as e:  # raised outside a command's own handler
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/] {escape(str(e))}")
        sys.exit(2)


if __name__ == "__main__":
    main()
