"""Fairness benchmark tables: Adult (UCI census income), COMPAS (ProPublica), German credit (UCI
Statlog), with the sensitive attribute exposed as ``dataset.group``.

Adult preprocessing follows the influence-fairness line of work used by Qiao et al. 2025 ("Soft
Weighted Machine Unlearning", §Data): drop ``fnlwgt`` and rows with '?', strip the trailing '.'
of ``adult.test`` labels (and skip its first line), one-hot categoricals with more than two
values, sex and income → 0/1 (sex kept as a feature *and* the group), standardise; 30,162
training rows; ``adult.test``'s 15,060 rows split 50/50 into validation and test with a fixed
seed. The validation half is ``dataset.extra["unseen"]``: :func:`~unlearnkit.data.make_split`
uses it as the split's ``unseen`` set instead of carving one from the training pool.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..errors import UnlearnkitError
from .dataset import ArrayDataset
from .locations import data_root, download as fetch, find_files
from .registry import DATASETS
from .tabular import encode_table

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]
ADULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
ADULT_FILES = ["adult.data", "adult.test"]


def _holdout(ds: ArrayDataset, heldout: np.ndarray, val_fraction: float, seed: int) -> ArrayDataset:
    """Split the held-out rows into validation (``extra["unseen"]``) and test with a fixed seed."""
    perm = np.random.default_rng(seed).permutation(np.asarray(heldout))
    n_val = int(round(val_fraction * len(perm)))
    ds.extra["unseen"] = np.sort(perm[:n_val])
    ds.test = np.sort(perm[n_val:])
    return ds


def _encode(
    df: pd.DataFrame, label: str, group: str, name: str, heldout: np.ndarray, standardize: Literal["all", "numeric"]
) -> ArrayDataset:
    """One-hot (>2 values) then encode; ``standardize="all"`` also standardises the one-hot columns."""
    text = [c for c in df.columns if c not in (label, group) and not pd.api.types.is_numeric_dtype(df[c])]
    multi = [c for c in text if df[c].nunique() > 2]
    binary = [c for c in text if df[c].nunique() <= 2]
    for c in binary:
        df[c] = (df[c] == sorted(df[c].unique())[-1]).astype(float)
    if standardize == "all":
        df = pd.get_dummies(df, columns=multi, dtype=float)
    return encode_table(df, label, group, name=name, test_rows=heldout)


@DATASETS.register("adult")
def load_adult(
    data_dir=None, download: bool = False, seed: int = 0, standardize: Literal["all", "numeric"] = "all"
) -> ArrayDataset:
    """UCI Adult from ``<data>/adult/{adult.data, adult.test}``; group = sex (1 = Male), label
    income > 50K. ``seed`` fixes the 50/50 validation/test split of ``adult.test``;
    ``standardize="all"`` (default) standardises every column, one-hot ones included, with the
    training rows' statistics."""
    if download:
        target = data_root(data_dir) / "adult"
        for name in ADULT_FILES:
            if not (target / name).exists():
                fetch(ADULT_URL + name, target / name)
    d = find_files("adult", ADULT_FILES, data_dir)
    read = dict(header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?")
    train = pd.read_csv(d / "adult.data", **read).dropna()
    test = pd.read_csv(d / "adult.test", skiprows=1, **read).dropna()
    test["income"] = test["income"].str.rstrip(".")
    df = pd.concat([train, test], ignore_index=True).drop(columns=["fnlwgt"])
    df["sex"] = (df["sex"] == "Male").astype(np.int64)
    df["income"] = (df["income"] == ">50K").astype(np.int64)
    heldout = np.arange(len(train), len(df))
    ds = _encode(df, "income", "sex", "adult", heldout, standardize)
    return _holdout(ds, heldout, 0.5, seed)


COMPAS_FEATURES = [
    "sex",
    "age",
    "age_cat",
    "race",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "priors_count",
    "c_charge_degree",
]


@DATASETS.register("compas")
def load_compas(data_dir=None, download: bool = False, seed: int = 0) -> ArrayDataset:
    """ProPublica COMPAS two-year recidivism (``<data>/compas/compas-scores-two-years.csv``) with
    ProPublica's filters (|days_b_screening_arrest| ≤ 30, is_recid ≠ −1, charge degree ≠ 'O',
    score present), African-American vs Caucasian defendants; group = race (1 = Caucasian), label
    two_year_recid. 60/20/20 train/validation/test with ``seed``."""
    if download:
        raise UnlearnkitError(
            "compas has no stable direct download; fetch compas-scores-two-years.csv from "
            "github.com/propublica/compas-analysis into <data>/compas/"
        )
    d = find_files("compas", ["compas-scores-two-years.csv"], data_dir)
    df = pd.read_csv(d / "compas-scores-two-years.csv")
    df = df[
        (df.days_b_screening_arrest.abs() <= 30)
        & (df.is_recid != -1)
        & (df.c_charge_degree != "O")
        & (df.score_text != "N/A")
        & df.race.isin(["African-American", "Caucasian"])
    ]
    df = df[COMPAS_FEATURES + ["two_year_recid"]].dropna().reset_index(drop=True)
    df["race"] = (df["race"] == "Caucasian").astype(np.int64)
    heldout = np.random.default_rng(seed).permutation(len(df))[: int(round(0.4 * len(df)))]
    ds = _encode(df, "two_year_recid", "race", "compas", heldout, "all")
    return _holdout(ds, heldout, 0.5, seed)


GERMAN_COLUMNS = [
    "status",
    "duration",
    "credit_history",
    "purpose",
    "amount",
    "savings",
    "employment",
    "installment_rate",
    "personal_status",
    "debtors",
    "residence",
    "property",
    "age",
    "installment_plans",
    "housing",
    "existing_credits",
    "job",
    "liable",
    "telephone",
    "foreign",
    "credit",
]


@DATASETS.register("german")
def load_german(
    data_dir=None, download: bool = False, seed: int = 0, group: Literal["sex", "age"] = "sex"
) -> ArrayDataset:
    """UCI Statlog German credit (``<data>/german/german.data``, coded values); label 1 = good credit;
    group = sex from personal_status (A92/A95 female → 0, male → 1) or age ≥ 25 → 1.
    60/20/20 train/validation/test with ``seed``."""
    if download:
        target = data_root(data_dir) / "german"
        if not (target / "german.data").exists():
            fetch(
                "https://archive.ics.uci.edu/ml/machine-learning-databases/statlog/german/german.data",
                target / "german.data",
            )
    d = find_files("german", ["german.data"], data_dir)
    df = pd.read_csv(d / "german.data", sep=" ", header=None, names=GERMAN_COLUMNS)
    df["credit"] = (df["credit"] == 1).astype(np.int64)
    df["sex"] = (~df["personal_status"].isin(["A92", "A95"])).astype(np.int64)
    df["age_group"] = (df["age"] >= 25).astype(np.int64)
    gcol = "sex" if group == "sex" else "age_group"
    df = df.drop(columns=["age_group" if group == "sex" else "sex"])
    heldout = np.random.default_rng(seed).permutation(len(df))[: int(round(0.4 * len(df)))]
    ds = _encode(df, "credit", gcol, "german", heldout, "all")
    return _holdout(ds, heldout, 0.5, seed)
