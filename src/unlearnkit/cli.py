"""The ``unlearnkit`` command line (typer): bench, list, report."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import UnlearnkitError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Machine unlearning for classifiers, measured against retraining.")
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


def _fail(e: Exception) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(str(e))}")  # a message may hold [brackets]
    raise typer.Exit(2)


def print_summary(df, title: str) -> None:
    from .bench.summary import GROUP, SUMMARY_COLUMNS, fmt, summarize

    s = summarize(df)
    table = Table(title=title, title_justify="left")
    varying = [g for g in GROUP if s[g].nunique() > 1 or g in ("method",)]
    for g in varying:
        table.add_column(g)
    cols = [c for c in SUMMARY_COLUMNS if f"{c}_mean" in s]
    for c in cols:
        table.add_column("Avg.Gap" if c == "avg_gap" else c, justify="right")
    table.add_column("seeds", justify="right")
    for _, r in s.iterrows():
        table.add_row(*[str(r[g]) for g in varying],
                      *[fmt(r[f"{c}_mean"], r[f"{c}_std"], 3 if c in ("unlearn_s", "RTE") else 1) for c in cols],
                      str(r["n"]))
    console.print(table)
    console.print("[dim]FA/RA/TA: accuracy (%) on forget/retain/test; MIA: MIA-efficacy (% of D_f an attack trained "
                  "on D_r vs D_t calls non-member); Avg.Gap: mean |Δ| to retrain over FA, RA, TA, MIA (lower is "
                  "better); RTE: unlearn time / retrain time.[/]")


@app.command()
def bench(
    preset: Optional[str] = typer.Option(None, help="a preset in unlearnkit/configs (quick, …); see `unlearnkit list`"),
    config: Optional[Path] = typer.Option(None, help="a bench YAML file"),
    out: Path = typer.Option(Path("runs/bench"), help="run directory (results.db, results.csv, report)"),
    executor: str = typer.Option("local", help="local (process pool) or ray"),
    jobs: int = typer.Option(1, help="parallel jobs (local processes or Ray tasks)"),
    ray_address: Optional[str] = typer.Option(None, help="address of an existing Ray cluster (else a local ray.init)"),
    device: str = typer.Option("auto", help="auto | cpu | cuda | mps"),
    data_dir: Optional[Path] = typer.Option(None, help="data directory (else $UNLEARNKIT_DATA, else the user cache)"),
    download: bool = typer.Option(False, help="download missing datasets (needs internet)"),
    cache_dir: Optional[Path] = typer.Option(None, help="trained-model cache (else $UNLEARNKIT_CACHE or the user cache)"),
    seeds: Optional[str] = typer.Option(None, help="override the seeds, e.g. 0,1"),
    options: Optional[Path] = typer.Option(None, help="a YAML with method_options (e.g. tuned.yaml from `tune`)"),
    report: bool = typer.Option(True, help="write the report (md, html, png) at the end"),
    quiet: bool = typer.Option(False, help="no progress bars (also when stderr is not a terminal)"),
) -> None:
    """Run a grid of datasets × scenarios × methods × weightings × targets × seeds."""
    from .bench.config import check_out_dir, load_config, parse_seeds
    from .bench.executor import EXECUTORS
    from .bench.runner import run_bench
    from .bench.store import ResultStore
    from .device import resolve_device

    try:
        overrides = {"seeds": parse_seeds(seeds)} if seeds is not None else {}
        cfg = load_config(preset, config, overrides, options_file=options)
        resolve_device(device)
        EXECUTORS.get(executor)
        if jobs < 1:
            raise UnlearnkitError(f"--jobs must be at least 1, got {jobs}")
        check_out_dir(out)
        outcome = run_bench(cfg, out, executor, jobs, device, str(data_dir) if data_dir else None, download,
                            cache_dir, ray_address, quiet=True if quiet else None, console=err_console)
    except UnlearnkitError as e:
        _fail(e)
    except ValueError as e:  # e.g. a malformed --seeds
        _fail(UnlearnkitError(str(e)))
    store = ResultStore(out)
    df = store.frame()
    print_summary(df, f"{cfg.name}: {len(df)} rows in {out}/results.csv")
    msg = (f"{outcome.ran} jobs run, {outcome.skipped_done} already done; models trained {outcome.trained}, "
           f"reused from cache {outcome.reused}; {outcome.seconds:.1f} s")
    console.print(msg)
    if outcome.notes:
        console.print(f"[dim]{len(outcome.notes)} method × weighting × target combinations don't apply and ran plain "
                      f"instead (first: {outcome.notes[0]})[/]")
    unmoved = df[df["moved"].eq(False) & ~df["method"].isin(["original"])] if "moved" in df else df.iloc[0:0]
    if len(unmoved):
        console.print(f"[yellow]warning:[/] {len(unmoved)} run(s) left the model unchanged: "
                      f"{sorted(set(unmoved['method']))}")
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
    from .bench.tune import tune as run_tune

    try:
        cfg = load_config(preset, config)
        seeds = parse_seeds(tuning_seeds, "--tuning-seeds")
        check_out_dir(out)
        res = run_tune(cfg, out, trials, seeds, str(cache_dir) if cache_dir else None, device,
                       str(data_dir) if data_dir else None,
                       on_trial=lambda m, i, v: err_console.print(f"[dim]{m} trial {i}: Avg.Gap {v:.3f}[/]"))
    except (UnlearnkitError, ValueError) as e:
        _fail(e)
    table = Table(title=f"tuned on seeds {tuning_seeds}", title_justify="left")
    for c in ("method", "Avg.Gap default", "Avg.Gap tuned", "options"):
        table.add_column(c)
    for m, r in res.items():
        table.add_row(m, f"{r['default_avg_gap']:.3f}", f"{r['avg_gap']:.3f}",
                      ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["options"].items()))
    console.print(table)
    console.print(f"wrote {out / 'tuned.yaml'}; evaluate on fresh seeds with: unlearnkit bench "
                  f"{'--preset ' + preset if preset else '--config ' + str(config)} --options {out / 'tuned.yaml'}")


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
            raise UnlearnkitError(f"{what} {item!r}: the value {v!r} is not valid YAML ({problem}); write numbers, "
                                  f"true/false, or lists like [3, 8]") from None
    return out


@app.command("unlearn")
def unlearn_cmd(
    method: str = typer.Option(..., help="unlearning method (see `unlearnkit list`)"),
    weighting: str = typer.Option("uniform"),
    target: str = typer.Option("none"),
    dataset: str = typer.Option("digits"),
    model: str = typer.Option("mlp"),
    scenario: str = typer.Option("random", help="random | class | subclass | long_tail | indices | …"),
    set_: list[str] = typer.Option([], "--set", help="scenario option key=value, repeatable: fraction=0.1, "
                                                     "classes=[3], file=forget_ids.txt"),
    option: list[str] = typer.Option([], "--option", help="method option key=value, repeatable: lr=0.01"),
    weighting_option: list[str] = typer.Option([], "--weighting-option", help="e.g. tau=0.15"),
    target_option: list[str] = typer.Option([], "--target-option", help="e.g. beta=10"),
    seed: int = typer.Option(0),
    train_from: str = typer.Option("quick", help="preset whose `train` settings train θ_o and θ_r"),
    save: Optional[Path] = typer.Option(None, help="write the unlearned model (.safetensors) and its split (.json)"),
    device: str = typer.Option("auto"),
    data_dir: Optional[Path] = typer.Option(None),
    cache_dir: Optional[Path] = typer.Option(None),
) -> None:
    """One unlearning run: train (or reuse) θ_o and θ_r, unlearn, and compare with retraining."""
    import json

    from safetensors.torch import save_file

    from .bench.config import load_config, make_config
    from .bench.job import expand, run_job
    from .bench.runner import default_cache_dir
    from .unlearn import Plan

    try:
        m_opts, w_opts, t_opts = _pairs(option, "--option"), _pairs(weighting_option, "--weighting-option"), \
            _pairs(target_option, "--target-option")
        scenario_opts = _pairs(set_, "--set")
        reserved = sorted({"kind", "label"} & set(scenario_opts))
        if reserved:
            raise UnlearnkitError(f"--set {reserved[0]}=… is not a scenario option; choose the scenario with "
                                  f"--scenario NAME")
        Plan.make(method, weighting, target, m_opts, w_opts, t_opts)  # reject a composition up front
        cfg = make_config(dict(name="unlearn", datasets=[dataset], model=model, train=load_config(train_from).train,
                               scenarios=[{"kind": scenario, **scenario_opts}],
                               methods=[{"name": method, "options": m_opts}],
                               weightings=[{"name": weighting, "options": w_opts}],
                               targets=[{"name": target, "options": t_opts}], seeds=[seed], include_original=False),
                          "options")
        spec, = expand(cfg, str(cache_dir or default_cache_dir()), device,
                       str(data_dir) if data_dir else None).specs
        row = run_job(spec, keep_model=True)
    except UnlearnkitError as e:
        _fail(e)
    table = Table(title=f"{method} ∘ {weighting} ∘ {target} on {dataset} · {spec['scenario_label']} · seed {seed}",
                  title_justify="left")
    for c in ("", "FA", "RA", "TA", "MIA"):
        table.add_column(c, justify="right")
    table.add_row("unlearned", *(f"{row[c]:.2f}" for c in ("FA", "RA", "TA", "MIA")))
    table.add_row("retrained", *(f"{row[c + '_retrain']:.2f}" for c in ("FA", "RA", "TA", "MIA")))
    console.print(table)
    console.print(f"Avg.Gap to retrain {row['avg_gap']:.2f} · unlearn {row['unlearn_s']:.3f} s · retrain "
                  f"{row['retrain_s']:.3f} s (RTE {row['RTE']:.3f}) · |D_f| = {row['n_forget']}")
    if not row["moved"]:
        console.print("[yellow]warning:[/] the method left the model unchanged")
    if save:
        save.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in row["_model"].state_dict().items()}
        save_file(state, str(save.with_suffix(".safetensors")))
        meta = {"spec": {k: v for k, v in spec.items() if k not in ("cache_dir",)}, "split": row["_split"].to_dict()}
        save.with_suffix(".json").write_text(json.dumps(meta, default=str))
        console.print(f"saved {save.with_suffix('.safetensors')} and {save.with_suffix('.json')}")


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
    for title, reg in [("datasets", DATASETS), ("scenarios", SCENARIOS), ("models", MODELS), ("methods", METHODS),
                       ("weightings", WEIGHTINGS), ("targets", TARGETS), ("metrics", METRICS),
                       ("executors", EXECUTORS)]:
        table = Table(title=title, title_justify="left", show_header=False)
        for name, obj in reg.items():
            table.add_row(name, doc(obj))
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


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        app()
    except UnlearnkitError as e:  # raised outside a command's own handler
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/] {escape(str(e))}")
        sys.exit(2)


if __name__ == "__main__":
    main()
