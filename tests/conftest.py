"""Shared small fixtures: digits, a quickly trained MLP θ_o, and splits."""

from __future__ import annotations

import copy

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
