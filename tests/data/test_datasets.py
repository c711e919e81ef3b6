import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

import unlearnkit as uk
from unlearnkit.data.locations import ENV_VAR, data_root

from helpers import write_cifar

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_digits_is_deterministic_with_a_held_out_test_set(digits):
    again = uk.load_dataset("digits")
    assert np.array_equal(digits.test, again.test)
    assert len(digits.pool) + len(digits.test) == 1797
    assert digits.input_shape == (1, 8, 8) and digits.num_classes == 10
    s = uk.make_split(digits, "random", seed=0, unseen_fraction=0.25)
    assert len(s.unseen) == pytest.approx(0.25 * len(digits.pool), abs=1)


def write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files_from_data_dir(tmp_path):
    d = tmp_path / "fashion-mnist"
    d.mkdir()
    rng = np.random.default_rng(0)
    xtr, ytr = rng.integers(0, 255, (30, 28, 28)), np.arange(30) % 10
    xte, yte = rng.integers(0, 255, (10, 28, 28)), np.arange(10) % 10
    for name, arr in zip(
        [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ],
        [xtr, ytr, xte, yte],
    ):
        write_idx(d / name, arr)
    ds = uk.load_dataset("fashion_mnist", data_dir=tmp_path)
    assert len(ds) == 40 and len(ds.pool) == 30 and ds.input_shape == (1, 28, 28)
    assert np.array_equal(ds.x[0, 0].numpy(), xtr[0])
    x = ds.inputs(np.array([0]))
    assert x.dtype == torch.float32
    assert float(x[0, 0, 0, 0]) == pytest.approx((xtr[0, 0, 0] / 255 - 0.2860) / 0.3530, rel=1e-5)


@pytest.mark.skipif(not (SHARED / "fashion-mnist").exists(), reason="shared Fashion-MNIST files not present")
def test_fashion_mnist_real_files_via_env(monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(SHARED))
    ds = uk.load_dataset("fashion_mnist")
    assert len(ds.pool) == 60000 and len(ds.test) == 10000
    assert np.bincount(ds.labels[ds.pool]).tolist() == [6000] * 10


def test_missing_data_names_the_places_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert data_root() == tmp_path
    with pytest.raises(uk.UnlearnkitError, match="no data found for 'cifar-10-batches-py'.*--download"):
        uk.load_dataset("cifar10")


@pytest.mark.parametrize("kind,n_train,n_test,classes", [("cifar10", 20, 4, 10), ("cifar100", 6, 3, 100)])
def test_cifar_pickle_batches(tmp_path, kind, n_train, n_test, classes):
    write_cifar(tmp_path, kind)
    ds = uk.load_dataset(kind, data_dir=tmp_path)
    assert len(ds.pool) == n_train and len(ds.test) == n_test
    assert ds.num_classes == classes and ds.input_shape == (3, 32, 32)
    assert ds.inputs(np.arange(2)).shape == (2, 3, 32, 32)
    model = uk.build_model("resnet18", ds.input_shape, ds.num_classes, width=8)
    assert model(ds.inputs(np.arange(2))).shape == (2, classes)


def test_tabular_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    import pandas as pd

    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50, 10, n),
            "city": rng.choice(["a", "b", "c"], n),
            "sex": rng.choice(["F", "M"], n),
            "label": rng.choice(["no", "yes"], n),
        }
    )
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    ds = uk.load_dataset("tabular_csv", path=str(path), label="label", group="sex")
    names = ds.extra["feature_names"]
    assert {"age", "income", "city_a", "city_b", "city_c"} <= set(names)
    x = ds.x.numpy()
    assert x[ds.pool, names.index("age")].mean() == pytest.approx(0, abs=1e-6)
    assert x[ds.pool, names.index("age")].std() == pytest.approx(1, abs=1e-3)
    assert ds.num_classes == 2 and ds.class_names == ["no", "yes"]
    assert ds.group is not None and set(ds.group.tolist()) == {0, 1}
    with pytest.raises(uk.UnlearnkitError, match="column 'target' not in the table"):
        uk.load_dataset("tabular_csv", path=str(path), label="target")
    with pytest.raises(uk.UnlearnkitError, match="takes no option"):
        uk.load_dataset("digits", path="x")


def test_moving_a_dataset_copies_it_once_per_device():
    """Every job and metric calls ``ds.to(device)``: the tensors must be copied once per process and device,
    not once per call (a per-call copy of the whole dataset on a GPU)."""
    import torch

    from unlearnkit.data import load_dataset

    ds = load_dataset("digits")
    assert ds.to("cpu") is ds and ds.to(torch.device("cpu")) is ds
    meta = ds.to("meta")  # a second device without a GPU: shapes only, no data
    assert meta is not ds and meta.x.device.type == "meta" and meta.x.shape == ds.x.shape
    assert ds.to(torch.device("meta")) is meta  # the same copy, not a new one
    assert meta.to("meta") is meta


def test_uint8_inputs_are_normalised_exactly_as_the_out_of_place_formula():
    """ArrayDataset.inputs normalises uint8 images in place on its one new float tensor; the values are those of
    (x / 255 − mean) / std bit for bit, with a scalar and with a per-channel mean and std, and the stored uint8
    tensor is untouched."""
    import numpy as np
    import torch

    from unlearnkit.data.dataset import ArrayDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (40, 3, 4, 4), dtype=torch.uint8, generator=g)
    y = torch.arange(40) % 4
    kept = x.clone()
    for mean, std in (
        (0.286, 0.353),
        (torch.tensor([0.49, 0.48, 0.45])[:, None, None], torch.tensor([0.25, 0.24, 0.26])[:, None, None]),
    ):
        ds = ArrayDataset("u8", x, y, 4, np.arange(30), np.arange(30, 40), mean=mean, std=std)
        idx = torch.tensor([5, 0, 39, 5])
        assert torch.equal(ds.inputs(idx), (x[idx].float() / 255.0 - mean) / std)
    assert torch.equal(x, kept)
