"""The columns of a bench row: the identity of a job, the bench's own columns (Avg.Gap, times), and
every registered metric's declared columns. Report, summary, store, CLI and tuner read them here."""
from __future__ import annotations

from ..eval.base import Column, gap_columns, registered_columns

IDENTITY = ["dataset", "scenario", "method", "weighting", "target", "seed"]

BENCH_COLUMNS: tuple[Column, ...] = (
    Column("avg_gap", "min", "Avg.Gap: mean over the gap columns (FA, RA, TA, MIA) of |metric(unlearned) − "
           "metric(retrained)|; lower is better. The untouched original is the baseline to beat.", "pp",
           header="Avg.Gap"),
    Column("unlearn_s", "min", "Wall time of the unlearning step in seconds (retrain: its training time).", "s",
           digits=3),
    Column("RTE", "min", "Run-time efficiency: unlearn time / retrain time.", digits=3),
    Column("retrain_s", "info", "Training time of θ_r (seconds; cached from when it was trained).", "s", show=False),
    Column("train_s", "info", "Training time of θ_o (seconds; cached from when it was trained).", "s", show=False),
    Column("eval_s", "info", "Time spent in the metrics (seconds).", "s", show=False),
    Column("param_change", "info", "‖θ_u − θ_o‖₂ over floating-point parameters and buffers.", show=False),
)
HEADLINE_BENCH = ("avg_gap", "unlearn_s", "RTE")


def all_columns(metrics: list[str] | None = None) -> dict[str, Column]:
    """name → Column: the bench's columns and those of the given metrics (all registered when None)."""
    return {**{c.name: c for c in BENCH_COLUMNS}, **registered_columns(metrics)}


def headline(metrics: list[str] | None = None) -> list[str]:
    """The columns every summary shows: the gap columns, Avg.Gap, unlearn time and RTE."""
    return [*gap_columns(metrics), *HEADLINE_BENCH]


def table_columns(metrics: list[str] | None = None) -> list[str]:
    """Number columns shown in report tables: the headline, then the other shown metric columns."""
    head = headline(metrics)
    rest = [c.name for c in registered_columns(metrics).values()
            if c.kind == "number" and c.show and c.name not in head]
    return head + rest


def required_columns(metrics: list[str] | None = None) -> list[str]:
    """Columns every stored row has, first in the CSV (NaN where a run lacks them)."""
    return IDENTITY + [*gap_columns(metrics), "avg_gap", "unlearn_s", "retrain_s"]
