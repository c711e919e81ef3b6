"""The columns of a bench row: the identity of a job, the bench's own columns (Avg.Gap, times), and
every registered metric's declared columns. Report, summary, store, CLI and tuner read them here."""

from __future__ import annotations

from ..eval.base import Column, gap_columns, registered_columns

IDENTITY = ["dataset", "scenario", "method", "weighting", "target", "seed"]

BENCH_COLUMNS: tuple[Column, ...] = (
    Column(
        "avg_gap",
        "min",
        "Avg.Gap: mean over the gap columns (FA, RA, TA, MIA) of |metric(unlearned) − "
        "metric(retrained)|; lower is better. The untouched original is the baseline to beat.",
        "pp",
        header="Avg.Gap",
    ),
    Column(
        "avg_gap_floor",
        "info",
        "Noise floor of Avg.Gap: Avg.Gap of a second retrained model θ_r′ (another "
        "seed) against θ_r. A method whose Avg.Gap is within it is indistinguishable from retraining at this "
        "sample size.",
        "pp",
        header="floor",
    ),
    Column(
        "unlearn_s",
        "min",
        "Wall time of the unlearning step in seconds (retrain: its training time).",
        "s",
        digits=3,
        machine=True,
    ),
    Column(
        "RTE",
        "min",
        "Run-time efficiency: unlearn time / retrain time. The retrain time is cached from when θ_r "
        "was trained (retrain_timed_here says whether that was this run): compare cost_ratio for a "
        "load-independent number.",
        digits=3,
        machine=True,
    ),
    Column(
        "cost_ratio",
        "min",
        "Deterministic cost: per-sample forward + backward passes of the unlearning method / "
        "those of retraining (2 · epochs · |D_r|); evaluation passes (stop: auto) are not included.",
        digits=3,
    ),
    Column("unlearn_passes", "info", "Per-sample forward + backward passes of the unlearning method.", show=False),
    Column(
        "eval_passes",
        "info",
        "Per-sample forward passes spent evaluating during unlearning (stop: auto, per-epoch curves).",
        show=False,
    ),
    Column("retrain_passes", "info", "Per-sample passes of retraining θ_r: 2 · epochs · |D_r|.", show=False),
    Column(
        "retrain_s",
        "info",
        "Training time of θ_r (seconds; cached from when it was trained).",
        "s",
        show=False,
        machine=True,
    ),
    Column(
        "train_s",
        "info",
        "Training time of θ_o (seconds; cached from when it was trained).",
        "s",
        show=False,
        machine=True,
    ),
    Column("eval_s", "info", "Time spent in the metrics (seconds).", "s", show=False, machine=True),
    Column(
        "peak_rss_mb",
        "info",
        "Resident-memory high-water mark of the process that ran the job (MiB).",
        "MiB",
        show=False,
        machine=True,
    ),
    Column(
        "gpu_peak_mb",
        "info",
        "Peak GPU memory allocated by torch during the job (MiB; CUDA only).",
        "MiB",
        show=False,
        machine=True,
    ),
    Column("param_change", "info", "‖θ_u − θ_o‖₂ over floating-point parameters and buffers.", show=False),
)
HEADLINE_BENCH = ("avg_gap", "avg_gap_floor", "unlearn_s", "RTE", "cost_ratio")


def all_columns(metrics: list[str] | None = None) -> dict[str, Column]:
    """name → Column: the bench's columns and those of the given metrics (all registered when None)."""
    return {**{c.name: c for c in BENCH_COLUMNS}, **registered_columns(metrics)}


def headline(metrics: list[str] | None = None) -> list[str]:
    """The columns every summary shows: the gap columns, Avg.Gap, unlearn time and RTE."""
    return [*gap_columns(metrics), *HEADLINE_BENCH]


def table_columns(metrics: list[str] | None = None) -> list[str]:
    """Number columns shown in report tables: the headline, then the other shown metric columns."""
    head = headline(metrics)
    rest = [
        c.name for c in registered_columns(metrics).values() if c.kind == "number" and c.show and c.name not in head
    ]
    return head + rest


def required_columns(metrics: list[str] | None = None) -> list[str]:
    """Columns every stored row has, first in the CSV (NaN where a run lacks them)."""
    return IDENTITY + [*gap_columns(metrics), "avg_gap", "unlearn_s", "retrain_s"]


def machine_columns(metrics: list[str] | None = None) -> list[str]:
    """Columns whose values depend on the machine and its load (wall times, memory): everything else in a
    row is a pure function of the job spec, identical across executors, --jobs and reruns."""
    return [c.name for c in all_columns(metrics).values() if c.machine]
