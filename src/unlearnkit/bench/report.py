"""Reports: results.csv, report.md, report.html (filled in by the report module work)."""
from __future__ import annotations

from pathlib import Path

from ..errors import UnlearnkitError
from .store import ResultStore


def write_report(run_dir: str | Path) -> dict[str, Path]:
    run_dir = Path(run_dir)
    if not (run_dir / "results.db").exists():
        raise UnlearnkitError(f"{run_dir} has no results.db; run `unlearnkit bench --out {run_dir}` first")
    store = ResultStore(run_dir)
    return {"csv": store.export_csv(), "html": run_dir / "report.html"}
