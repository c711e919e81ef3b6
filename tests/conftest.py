"""Shared small fixtures: digits, a quickly trained MLP θ_o, and splits."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import unlearnkit as uk

FAST_TRAIN = uk.TrainConfig(epochs=15, lr=0.05, batch_size=64)


@pytest.fixture(scope="session")
def digits():
    return uk.load_dataset("digits")


def train_mlp(ds, indices, seed=0, cfg=FAST_TRAIN):
    torch.manual_seed(seed)
    model = uk.build_model("mlp", ds.input_shape, ds.num_classes)
    return uk.train_model(model, ds, indices, cfg, torch.device("cpu"), seed=seed)


@pytest.fixture(scope="session")
def random_split(digits):
    return uk.make_split(digits, "random", seed=0, fraction=0.1)


@pytest.fixture(scope="session")
def class_split(digits):
    return uk.make_split(digits, "class", seed=0, classes=[3])


@pytest.fixture(scope="session")
def theta_o(digits, random_split):
    """θ_o trained on the training set (the same for random and class splits of seed 0)."""
    return train_mlp(digits, random_split.train)


@pytest.fixture
def original(theta_o):
    return copy.deepcopy(theta_o)


def overlap_subclass(model: str = "logreg"):
    """Data a model cannot memorise, where only the class prior shifts: two overlapping Gaussians (5-d,
    4000 samples, 400 held out as unseen, 600 test); D_f = 40 % of class 1's training samples. Returns
    (dataset, split, θ_o, θ_r), both trained with the same seed and schedule (``model``: logreg or mlp)."""
    g = torch.Generator().manual_seed(0)
    n = 4000
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 5, generator=g) + (y.float() * 2 - 1).unsqueeze(1) * 0.35
    ds = uk.ArrayDataset("overlap", x, y, 2, pool=np.arange(3400), test=np.arange(3400, n))
    rng = np.random.default_rng(0)
    unseen = np.sort(rng.choice(3400, 400, replace=False))
    train = np.setdiff1d(np.arange(3400), unseen)
    ones = train[y[train].numpy() == 1]
    split = uk.Split(train, np.arange(3400, n), unseen, np.sort(rng.choice(ones, int(0.4 * len(ones)), replace=False)))
    cfg = uk.TrainConfig(epochs=10, lr=0.05, batch_size=64)

    def fit(idx):
        torch.manual_seed(0)
        return uk.train_model(uk.build_model(model, ds.input_shape, 2), ds, idx, cfg, torch.device("cpu"), seed=0)

    return ds, split, fit(train), fit(split.retain)


@pytest.fixture(scope="session")
def overlap_logreg():
    return overlap_subclass("logreg")


@pytest.fixture(scope="session")
def overlap_mlp():
    return overlap_subclass("mlp")
