"""Run a bench grid: validate, train/cached θ_o and θ_r, run jobs on an executor, store each row."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..cache import file_lock
from ..errors import UnlearnkitError
from .config import BenchConfig
from .executor import make_executor
from .job import expand, prepare, run_job
from .store import ResultStore


def default_cache_dir() -> Path:
    """Trained-model cache shared by runs: ``$UNLEARNKIT_CACHE`` or the user cache directory."""
    return Path(os.environ.get("UNLEARNKIT_CACHE") or Path(platformdirs.user_cache_dir("unlearnkit")) / "models")


@dataclass
class BenchOutcome:
    run_dir: Path
    total: int
    ran: int
    skipped_done: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    trained: int = 0
    reused: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    unmet_metrics: list[str] = field(default_factory=list)


def _prepare_key(spec: dict) -> str:
    return json.dumps(
        [spec["dataset"], spec["scenario"], spec["seed"], spec["model"], spec["train"], spec["unseen_fraction"]],
        sort_keys=True,
    )


def check_writable(folder: Path, what: str, fix: str) -> None:
    """Create ``folder`` if needed and prove a file can be written there, else one UnlearnkitError (before any
    training, rather than failing when the first result or model is saved)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise UnlearnkitError(f"{what} {folder} is not writable ({e.strerror or e}); {fix}") from None


@contextmanager
def run_dir_lock(run_dir: Path):
    """Hold ``RUN_DIR/.lock`` (``fcntl.flock``) for the whole bench: a second bench on the same run directory
    stops at once with a message instead of racing the first one's rows. The lock dies with its holder."""
    path = run_dir / ".lock"
    with ExitStack() as stack:
        try:
            fd = stack.enter_context(file_lock(path, blocking=False))
        except BlockingIOError:
            try:
                holder = path.read_text().strip() or "?"
            except OSError:
                holder = "?"
            raise UnlearnkitError(
                f"run directory {run_dir} is in use by another bench (pid {holder}); wait for it "
                f"to finish, or pass another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield


def run_bench(
    cfg: BenchConfig,
    out: str | Path,
    executor: str = "local",
    jobs: int = 1,
    device: str = "auto",
    data_dir: str | None = None,
    download: bool = False,
    cache_dir: str | Path | None = None,
    ray_address: str | None = None,
    quiet: bool | None = None,
    console: Console | None = None,
    threads: int | None = None,
) -> BenchOutcome:
    """Run the grid into ``out``. ``threads``: torch threads per job (default ``$UNLEARNKIT_THREADS`` or 1; the
    same count for every executor and --jobs, so their rows are bit-identical)."""
    out = Path(out)
    cache = Path(cache_dir or default_cache_dir())
    t0 = time.perf_counter()
    grid = expand(cfg, str(cache), device, data_dir, download)  # bad input fails here: nothing written yet
    check_writable(out, "run directory", "pass a writable --out")
    check_writable(cache, "model cache folder", "pass a writable --cache-dir or set $UNLEARNKIT_CACHE")
    with run_dir_lock(out):
        return _run_bench(cfg, grid, out, executor, jobs, ray_address, quiet, console, threads, t0)


def _run_bench(cfg, grid, out, executor, jobs, ray_address, quiet, console, threads, t0) -> BenchOutcome:
    """Run the validated ``grid`` into ``out`` (the run directory lock is held by the caller)."""
    console = console or Console(stderr=True)
    quiet = (not sys.stderr.isatty()) if quiet is None else quiet
    store = ResultStore(out)
    store.set_meta("config", cfg.model_dump(mode="json"))
    store.set_meta("skipped", grid.skipped)
    store.set_meta("unmet_metrics", grid.unmet_metrics)
    done = store.done_keys()
    todo = [s | {"executor": executor} for s in grid.specs if s["key"] not in done]
    outcome = BenchOutcome(Path(out), len(grid.specs), 0, len(grid.specs) - len(todo), notes=list(grid.skipped))
    outcome.unmet_metrics = list(grid.unmet_metrics)
    if not quiet and outcome.skipped_done:
        console.print(f"[dim]{outcome.skipped_done} of {outcome.total} jobs already in {store.path}; skipping them[/]")
    with make_executor(executor, jobs, ray_address, threads) as ex:
        _run_grid(ex, store, todo, outcome, quiet, console)
    store.export_csv()
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _run_grid(ex, store: ResultStore, todo: list[dict], outcome: BenchOutcome, quiet: bool, console) -> None:
    """θ_o/θ_r training, then the jobs, on one executor (a local pool is started once for both)."""
    prep = list({_prepare_key(s): s for s in todo}.values())
    if todo:
        ex.start()  # pool workers fork now, before the progress display starts its refresh thread

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as bar:
        t_prep = bar.add_task("train θ_o/θ_r", total=len(prep), info="")

        def prepared(spec, result, error):
            if error is not None:
                raise error
            outcome.trained += result["trained"]
            outcome.reused += result["reused"]
            bar.advance(t_prep)

        ex.run(prepare, prep, prepared)
        t_jobs = bar.add_task("unlearn + evaluate", total=len(todo), info="")

        def progress(p):
            bar.update(t_jobs, info=f"epoch {p['epoch']}/{p['epochs']} loss {p['loss']:.3f}")

        def finished(spec, row, error):
            if error is not None:
                store.fail(spec["key"], spec, f"{type(error).__name__}: {error}")
                outcome.failed.append(
                    (
                        f"{spec['method']['label'] or spec['method']['name']} seed {spec['seed']} "
                        f"on {spec['scenario_label']}",
                        str(error),
                    )
                )
            else:
                store.add(spec["key"], row)
                outcome.ran += 1
            bar.update(t_jobs, advance=1, info=f"{spec['method']['name']} seed {spec['seed']}")

        ex.run(run_job, todo, finished, **({} if quiet else {"progress": progress}))
