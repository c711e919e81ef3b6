"""TrainConfig's label smoothing: training is torch's label-smoothed cross-entropy, and models cached before the
option existed keep their keys."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import unlearnkit as uk
from unlearnkit.bench.sources import BenchSource
from unlearnkit.cache import fingerprint
from unlearnkit.training import TrainConfig, training_identity


def bare_train(model, ds, idx, lr, batch_size, seed, label_smoothing):
    """SGD without momentum, weight decay or schedule, one epoch, the batches train_model draws."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    order = torch.as_tensor(idx)[torch.randperm(len(idx), generator=gen)]
    model.train()
    for b in order.split(batch_size):
        loss = F.cross_entropy(model(ds.inputs(b)), ds.y[b], label_smoothing=label_smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_train_model_trains_on_torchs_label_smoothed_cross_entropy(digits, smoothing):
    idx = np.arange(200)
    torch.manual_seed(0)
    start = uk.build_model("mlp", digits.input_shape, digits.num_classes)
    cfg = TrainConfig(lr=0.05, momentum=0.0, weight_decay=0.0, epochs=1, batch_size=32, schedule="none")
    ours = uk.train_model(
        copy.deepcopy(start), digits, idx, cfg.model_copy(update={"label_smoothing": smoothing}), "cpu"
    )
    ref = bare_train(copy.deepcopy(start), digits, idx, 0.05, 32, 0, smoothing)
    for (k, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), k
    if smoothing:  # and it is not plain cross-entropy
        plain = uk.train_model(copy.deepcopy(start), digits, idx, cfg, "cpu")
        assert not all(torch.equal(a, plain.state_dict()[k]) for k, a in ours.state_dict().items())


def test_label_smoothing_at_its_default_leaves_the_model_cache_key_as_it_was(digits, random_split, tmp_path):
    """The key of a model trained without label smoothing is the key it had before the option existed (its
    fingerprint without the field), so cached models are found; with it, the key differs."""
    train = TrainConfig().model_dump()
    assert "label_smoothing" in train and "label_smoothing" not in training_identity(train)
    spec = {
        "cache_dir": str(tmp_path),
        "train": train,
        "dataset": {"name": "digits"},
        "model": {"name": "mlp", "options": {}},
        "version": "0.1.0",
    }
    src = BenchSource(spec, digits, random_split, torch.device("cpu"))
    before = {k: v for k, v in train.items() if k != "label_smoothing"}
    assert src.key(random_split.train, 0) == fingerprint(
        dict(src.ident, train=before, indices=np.asarray(random_split.train), seed=0)
    )
    smoothed = BenchSource({**spec, "train": {**train, "label_smoothing": 0.1}}, digits, random_split, "cpu")
    assert smoothed.key(random_split.train, 0) != src.key(random_split.train, 0)
