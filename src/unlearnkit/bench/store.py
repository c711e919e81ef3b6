"""Results in an embedded SQLite database (``RUN_DIR/results.db``): one transaction per finished job,
so a killed sweep loses at most the jobs in flight and a re-run skips finished ones."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ..errors import UnlearnkitError
from .columns import required_columns


SCHEMA = """
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, row TEXT NOT NULL, finished REAL NOT NULL);
CREATE TABLE IF NOT EXISTS histories (key TEXT PRIMARY KEY, history TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, spec TEXT NOT NULL, error TEXT NOT NULL, finished REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _clean(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


class ResultStore:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "results.db"
        with self._connect() as c:
            c.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction (committed on success, rolled back on error, always closed). Any
        SQLite failure becomes one UnlearnkitError naming the file and the fix."""
        try:
            conn = sqlite3.connect(self.path, timeout=60)
            try:
                with conn:
                    yield conn
            finally:
                conn.close()
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None

    def _error(self, e: sqlite3.DatabaseError) -> UnlearnkitError:
        msg = str(e)
        if "locked" in msg or "busy" in msg:
            return UnlearnkitError(
                f"results database {self.path} stayed locked by another process ({msg}); "
                f"wait for the other bench on {self.run_dir} to finish, or pass another --out"
            )
        if isinstance(e, sqlite3.OperationalError) and "unable to open" in msg:
            return UnlearnkitError(f"cannot open results database {self.path} ({msg}); pass a writable --out")
        return UnlearnkitError(
            f"results database {self.path} is corrupt or not an unlearnkit results file ({msg}); "
            f"move it away (its rows are lost; results.csv may still hold them) and re-run to "
            f"start the run afresh, or pass another --out"
        )

    def done_keys(self) -> set[str]:
        with self._connect() as c:
            return {k for (k,) in c.execute("SELECT key FROM results")}

    def add(self, key: str, row: dict) -> None:
        """Write one finished job (and its history) in a single transaction."""
        history = row.pop("_history", [])
        clean = {k: _clean(v) for k, v in row.items()}
        with self._connect() as c:
            c.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, json.dumps(clean), time.time()))
            c.execute("INSERT OR REPLACE INTO histories VALUES (?, ?)", (key, json.dumps(history)))
            c.execute("DELETE FROM failures WHERE key = ?", (key,))

    def fail(self, key: str, spec: dict, error: str) -> None:
        with self._connect() as c:
            c.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)", (key, json.dumps(spec), error, time.time())
            )

    def set_meta(self, name: str, value) -> None:
        with self._connect() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(value)))

    def meta(self, name: str, default=None):
        with self._connect() as c:
            r = c.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(r[0]) if r else default

    def failures(self) -> list[tuple[str, str]]:
        with self._connect() as c:
            return list(c.execute("SELECT key, error FROM failures ORDER BY finished"))

    def histories(self) -> dict[str, list]:
        with self._connect() as c:
            return {k: json.loads(h) for k, h in c.execute("SELECT key, history FROM histories")}

    def frame(self) -> pd.DataFrame:
        """All rows, required columns first, in the order jobs finished."""
        with self._connect() as c:
            rows = [json.loads(r) for (r,) in c.execute("SELECT row FROM results ORDER BY finished")]
        df = pd.DataFrame(rows)
        required = required_columns()
        if df.empty:
            return pd.DataFrame(columns=required)
        for col in required:
            if col not in df:
                df[col] = float("nan")
        rest = [c for c in df.columns if c not in required]
        return df[required + rest]

    def export_csv(self) -> Path:
        out = self.run_dir / "results.csv"
        self.frame().to_csv(out, index=False)
        return out
