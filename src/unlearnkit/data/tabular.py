"""Tabular data from a CSV: standardised numerics, one-hot categoricals, optional sensitive group."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..errors import UnlearnkitError
from .split import stratified_split
from .dataset import ArrayDataset
from .registry import DATASETS


def encode_table(
    df: pd.DataFrame,
    label: str,
    group: str | None = None,
    drop: list[str] | tuple = (),
    name: str = "tabular",
    test_fraction: float = 0.2,
    test_rows: np.ndarray | None = None,
    seed: int = 0,
) -> ArrayDataset:
    """Turn a clean DataFrame into an ArrayDataset.

    Numeric columns are standardised with the training pool's mean/std, other columns one-hot
    encoded; the label is mapped to 0..C-1 (sorted values); ``group`` is kept as a feature and
    exposed as ``dataset.group`` (mapped to 0/1). ``test_rows`` fixes the test set, else a
    stratified ``test_fraction`` with ``seed``.
    """
    for col in [label, *([group] if group else []), *drop]:
        if col not in df.columns:
            raise UnlearnkitError(f"column {col!r} not in the table; columns are: {list(df.columns)}")
    if df.empty:
        raise UnlearnkitError(f"table for {name!r} has no rows")
    classes = sorted(df[label].unique().tolist())
    if len(classes) < 2:
        raise UnlearnkitError(f"label column {label!r} has a single value {classes}; need at least 2 classes")
    y = df[label].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    g = None
    if group:
        values = sorted(df[group].unique().tolist())
        if len(values) != 2:
            raise UnlearnkitError(f"group column {group!r} must have 2 values, found {values[:10]}")
        g = torch.tensor(df[group].map({v: i for i, v in enumerate(values)}).to_numpy(np.int64))
    feats = df.drop(columns=[label, *drop])
    numeric = feats.select_dtypes(include="number").columns.tolist()
    categorical = [c for c in feats.columns if c not in numeric]
    feats = pd.get_dummies(feats, columns=categorical, dtype=float)
    n = len(df)
    if test_rows is None:
        pool, test = stratified_split(np.arange(n), y, seed, test_size=test_fraction, what="the test split")
    else:
        test = np.asarray(test_rows)
        pool = np.setdiff1d(np.arange(n), test)
    x = feats.to_numpy(np.float64)
    cols = [feats.columns.get_loc(c) for c in numeric]
    if cols:
        mu = x[pool][:, cols].mean(0)
        sd = x[pool][:, cols].std(0)
        x[:, cols] = (x[:, cols] - mu) / np.where(sd > 0, sd, 1.0)
    ds = ArrayDataset(
        name,
        torch.tensor(x, dtype=torch.float32),
        torch.tensor(y),
        len(classes),
        pool=np.sort(pool),
        test=np.sort(test),
        group=g,
        class_names=[str(c) for c in classes],
    )
    ds.extra["feature_names"] = list(feats.columns)
    return ds


def check_table(
    df: pd.DataFrame, source: str, categorical: list[str] | tuple = (), dropna: bool = False
) -> pd.DataFrame:
    """Refuse what pandas would otherwise misread silently: missing cells (rows dropped), a text cell
    in an otherwise numeric column (the whole column one-hot encoded as categories) and infinite
    numbers. Line numbers count the header as line 1."""
    for col in categorical:
        if col not in df.columns:
            raise UnlearnkitError(f"categorical column {col!r} not in {source}; columns are: {list(df.columns)}")
    missing = df.isna()
    if missing.any().any():
        if dropna:
            df = df.dropna()
        else:
            cols = missing.any()[lambda c: c].index.tolist()
            rows = missing.any(axis=1)
            first = int(np.flatnonzero(rows.to_numpy())[0]) + 2
            raise UnlearnkitError(
                f"{source} has missing values in column(s) {cols} ({int(rows.sum())} row(s), first "
                f"at line {first}); fill them, or pass dropna=true to drop those rows"
            )
    for col in df.columns:
        if col in categorical or pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        as_num = pd.to_numeric(df[col], errors="coerce")
        text = as_num.isna().to_numpy()
        if 0 < text.sum() <= len(df) // 2:  # mostly numbers: a typo, not a category
            i = int(np.flatnonzero(text)[0])
            raise UnlearnkitError(
                f"column {col!r} of {source} is numeric except for {df[col].iloc[i]!r} (line "
                f"{i + 2}{f' and {int(text.sum()) - 1} more' if text.sum() > 1 else ''}); fix the "
                f"cell, or pass categorical=[{col}] to one-hot encode the column as categories"
            )
    for col in df.select_dtypes(include="number").columns:
        inf = ~np.isfinite(df[col].to_numpy(np.float64))
        if inf.any():
            i = int(np.flatnonzero(inf)[0])
            raise UnlearnkitError(
                f"column {col!r} of {source} holds an infinite value ({df[col].iloc[i]}) at line "
                f"{i + 2}; replace it with a finite number"
            )
    for col in categorical:
        df[col] = df[col].astype(str)
    return df


@DATASETS.register("tabular_csv")
def load_tabular_csv(
    data_dir=None,
    download=False,
    path: str | None = None,
    label: str | None = None,
    group: str | None = None,
    drop: list[str] | None = None,
    test_fraction: float = 0.2,
    categorical: list[str] | None = None,
    dropna: bool = False,
) -> ArrayDataset:
    """A CSV file: ``path`` (relative paths are looked up under the data dir too), ``label`` column,
    optional ``group`` (sensitive attribute) and columns to ``drop``. Missing cells are an error unless
    ``dropna=True`` (then those rows are dropped); a column that is numeric but for a few text cells is
    an error unless listed in ``categorical`` (columns one-hot encoded as categories, numbers included)."""
    if not path or not label:
        raise UnlearnkitError("tabular_csv needs options path=<file.csv> and label=<column>")
    if not isinstance(dropna, bool):
        raise UnlearnkitError(f"tabular_csv option dropna must be true or false, got {dropna!r}")
    p = Path(path).expanduser()
    if not p.exists() and data_dir:
        p = Path(data_dir) / path
    if not p.exists():
        raise UnlearnkitError(f"CSV file {path!r} not found; give an existing path (or one under --data-dir)")
    try:
        df = pd.read_csv(p, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise UnlearnkitError(
            f"{p} is not a readable CSV ({str(e).strip()}); give a comma-separated file with a header row"
        ) from None
    df = check_table(df, p.name, list(categorical or []), dropna)
    return encode_table(df, label, group, drop or [], name=p.stem, test_fraction=test_fraction)
