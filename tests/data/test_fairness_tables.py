"""Fairness tables: Adult (spec preprocessing, fixed validation split), COMPAS, German; the
loader-fixed validation set becomes the split's `unseen`."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import unlearnkit as uk

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
needs = lambda sub: pytest.mark.skipif(not (DATA / sub).exists(), reason=f"{DATA / sub} not available")


@pytest.fixture(scope="module")
def adult():
    return uk.load_dataset("adult", data_dir=str(DATA))


@needs("adult")
def test_adult_rows_columns_and_group(adult):
    ds = adult
    assert len(ds.pool) == 30162
    assert len(ds.extra["unseen"]) == 7530 and len(ds.test) == 7530
    assert len(np.intersect1d(ds.extra["unseen"], ds.test)) == 0 and len(np.intersect1d(ds.pool, ds.test)) == 0
    names = ds.extra["feature_names"]
    assert ds.x.shape == (45222, len(names))
    for col in [
        "age",
        "education-num",
        "capital-gain",
        "capital-loss",
        "hours-per-week",
        "sex",
        "workclass_Private",
        "marital-status_Never-married",
        "race_White",
        "native-country_United-States",
    ]:
        assert col in names, col
    assert not any(n.startswith(("fnlwgt", "income", "sex_")) for n in names)
    # group = sex (1 = Male), also kept as a (standardised) feature; raw counts from adult.data
    raw = pd.read_csv(DATA / "adult/adult.data", header=None, skipinitialspace=True, na_values="?").dropna()
    assert int(ds.group[ds.pool].sum()) == int((raw[9] == "Male").sum())
    sex_col = ds.x[ds.pool, names.index("sex")].numpy()
    assert np.array_equal(sex_col > 0, ds.group[ds.pool].numpy() == 1)
    assert int(ds.y[ds.pool].sum()) == int((raw[14] == ">50K").sum())
    assert ds.num_classes == 2 and abs(float(ds.x[ds.pool].mean())) < 1e-3  # standardised on the training rows
    # the validation half is the split's unseen set (not carved from the training pool)
    split = uk.make_split(ds, "correction", seed=3)
    assert np.array_equal(split.unseen, ds.extra["unseen"]) and np.array_equal(split.train, ds.pool)
    assert np.array_equal(uk.load_dataset("adult", data_dir=str(DATA)).test, ds.test)  # fixed seed


def test_make_split_without_fixed_unseen_is_unchanged():
    ds = uk.load_dataset("digits")
    split = uk.make_split(ds, "random", fraction=0.1, unseen_fraction=0.1)
    assert len(split.unseen) > 0 and len(np.intersect1d(split.unseen, split.train)) == 0


@needs("compas")
def test_compas():
    ds = uk.load_dataset("compas", data_dir=str(DATA))
    assert len(ds) == 5278 and ds.num_classes == 2 and set(ds.group.unique().tolist()) == {0, 1}
    assert len(ds.pool) + len(ds.extra["unseen"]) + len(ds.test) == 5278


@needs("german")
def test_german():
    ds = uk.load_dataset("german", data_dir=str(DATA))
    assert len(ds) == 1000 and int(ds.y.sum()) == 700  # 700 good credits
    assert int(ds.group.sum()) == 690  # 690 men (A91/A93/A94)
    raw = pd.read_csv(DATA / "german/german.data", sep=" ", header=None)
    assert int(uk.load_dataset("german", data_dir=str(DATA), group="age").group.sum()) == int((raw[12] >= 25).sum())
