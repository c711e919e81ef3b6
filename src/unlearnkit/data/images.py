"""Image datasets: digits (embedded default), Fashion-MNIST (idx .gz), CIFAR-10/100 (python pickles)."""
from __future__ import annotations

import gzip
import pickle
import tarfile

import numpy as np
import torch

from .dataset import ArrayDataset
from .locations import data_root, download as fetch, find_files
from .registry import DATASETS


@DATASETS.register("digits")
def load_digits(data_dir=None, download=False, test_fraction: float = 0.2) -> ArrayDataset:
    """scikit-learn's bundled 8×8 digits (1,797 images, 10 classes); fixed stratified test split."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    d = sk_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - 0.3) / 0.4  # roughly zero-mean, unit-scale pixels
    y = torch.tensor(d.target)
    idx = np.arange(len(y))
    pool, test = train_test_split(idx, test_size=test_fraction, stratify=d.target, random_state=0)
    return ArrayDataset("digits", x, y, 10, pool=np.sort(pool), test=np.sort(test))


FASHION_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path) -> np.ndarray:
    """An idx file (optionally gzipped): magic, dims, big-endian uint8 payload."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(data_dir=None, download=False) -> ArrayDataset:
    """Fashion-MNIST from ``<data>/fashion-mnist/`` or Debian's ``/usr/share/datasets/fashion-mnist/``."""
    if download:
        target = data_root(data_dir) / "fashion-mnist"
        for name in FASHION_FILES:
            if not (target / name).exists():
                fetch(FASHION_URL + name, target / name)
    d = find_files("fashion-mnist", FASHION_FILES, data_dir, fallbacks=("/usr/share/datasets/fashion-mnist",))
    xtr, ytr, xte, yte = (read_idx(d / n) for n in FASHION_FILES)
    x = torch.from_numpy(np.concatenate([xtr, xte])).unsqueeze(1).contiguous()
    y = torch.from_numpy(np.concatenate([ytr, yte]).astype(np.int64))
    n = len(ytr)
    return ArrayDataset("fashion_mnist", x, y, 10, pool=np.arange(n), test=np.arange(n, len(y)),
                        mean=0.2860, std=0.3530, class_names=FASHION_CLASSES)


CIFAR = {
    "cifar10": dict(folder="cifar-10-batches-py", url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    train=[f"data_batch_{i}" for i in range(1, 6)], test=["test_batch"], key=b"labels",
                    classes=10, meta=("batches.meta", b"label_names")),
    "cifar100": dict(folder="cifar-100-python", url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                     train=["train"], test=["test"], key=b"fine_labels", classes=100, meta=("meta", b"fine_label_names")),
}
CIFAR_MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
CIFAR_STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def _load_cifar(kind: str, data_dir, download: bool) -> ArrayDataset:
    spec = CIFAR[kind]
    root = data_root(data_dir)
    if download and not (root / spec["folder"]).exists():
        archive = fetch(spec["url"], root / spec["url"].rsplit("/", 1)[1])
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    d = find_files(spec["folder"], spec["train"] + spec["test"], data_dir)

    def read(names):
        xs, ys = [], []
        for n in names:
            with open(d / n, "rb") as f:
                batch = pickle.load(f, encoding="bytes")  # the format is pickled dicts of arrays/lists
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[spec["key"]], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    xtr, ytr = read(spec["train"])
    xte, yte = read(spec["test"])
    names = None
    meta_file, meta_key = spec["meta"]
    if (d / meta_file).exists():
        with open(d / meta_file, "rb") as f:
            names = [s.decode() for s in pickle.load(f, encoding="bytes")[meta_key]]
    x = torch.from_numpy(np.concatenate([xtr, xte]))
    y = torch.from_numpy(np.concatenate([ytr, yte]))
    n = len(ytr)
    return ArrayDataset(kind, x, y, spec["classes"], pool=np.arange(n), test=np.arange(n, len(y)),
                        mean=CIFAR_MEAN, std=CIFAR_STD, class_names=names)


@DATASETS.register("cifar10")
def load_cifar10(data_dir=None, download=False) -> ArrayDataset:
    """CIFAR-10 python batches from ``<data>/cifar-10-batches-py/`` (downloads only with --download)."""
    return _load_cifar("cifar10", data_dir, download)


@DATASETS.register("cifar100")
def load_cifar100(data_dir=None, download=False) -> ArrayDataset:
    """CIFAR-100 python batches from ``<data>/cifar-100-python/`` (fine labels; downloads only with --download)."""
    return _load_cifar("cifar100", data_dir, download)
