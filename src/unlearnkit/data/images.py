"""Image datasets: digits (embedded default), Fashion-MNIST (idx .gz), CIFAR-10/100 (python pickles)."""

from __future__ import annotations

import codecs
import gzip
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from ..errors import UnlearnkitError
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


FASHION_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
# The https copy of the official files (zalandoresearch/fashion-mnist, data/fashion/; the S3 website mirror
# is http only). MD5s as published in that repository's README and in torchvision's FashionMNIST.resources.
FASHION_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def read_idx(path) -> np.ndarray:
    """An idx file (optionally gzipped): magic, dims, big-endian uint8 payload."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(data_dir=None, download=False) -> ArrayDataset:
    """Fashion-MNIST from ``<data>/fashion-mnist/`` or Debian's ``/usr/share/datasets/fashion-mnist/``."""
    if download:
        target = data_root(data_dir) / "fashion-mnist"
        for name in FASHION_FILES:
            if not (target / name).exists():
                fetch(FASHION_URL + name, target / name, md5=FASHION_MD5[name])
    d = find_files("fashion-mnist", FASHION_FILES, data_dir, fallbacks=("/usr/share/datasets/fashion-mnist",))
    xtr, ytr, xte, yte = (read_idx(d / n) for n in FASHION_FILES)
    x = torch.from_numpy(np.concatenate([xtr, xte])).unsqueeze(1).contiguous()
    y = torch.from_numpy(np.concatenate([ytr, yte]).astype(np.int64))
    n = len(ytr)
    return ArrayDataset(
        "fashion_mnist",
        x,
        y,
        10,
        pool=np.arange(n),
        test=np.arange(n, len(y)),
        mean=0.2860,
        std=0.3530,
        class_names=FASHION_CLASSES,
    )


# Archive MD5s as published on https://www.cs.toronto.edu/~kriz/cifar.html (= torchvision's CIFAR10/100 tgz_md5).
CIFAR = {
    "cifar10": dict(
        folder="cifar-10-batches-py",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
        train=[f"data_batch_{i}" for i in range(1, 6)],
        test=["test_batch"],
        key=b"labels",
        classes=10,
        meta=("batches.meta", b"label_names"),
    ),
    "cifar100": dict(
        folder="cifar-100-python",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        train=["train"],
        test=["test"],
        key=b"fine_labels",
        classes=100,
        meta=("meta", b"fine_label_names"),
    ),
}
CIFAR_MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
CIFAR_STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def _safe_dtype(*args):
    """``numpy.dtype`` for the unpickler, refusing object dtypes (arrays of arbitrary Python objects)."""
    dt = np.dtype(*args)
    if dt.hasobject:
        raise pickle.UnpicklingError(f"object dtype {dt} is not allowed")
    return dt


def _latin1_encode(text, encoding="utf-8"):
    """``_codecs.encode`` as Python 3 pickles bytes at protocol ≤ 2 (``encode(str, 'latin1')``), that codec only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not allowed")
    return codecs.encode(text, "latin1")


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The numpy callables an array pickle references, taken from numpy's own ``__reduce_ex__`` (so they are
    right for numpy 1.x ``numpy.core`` and 2.x ``numpy._core``), under both module spellings (a Python 2
    era CIFAR batch names ``numpy.core.multiarray._reconstruct``; numpy ≥ 2 writes ``numpy._core``)."""
    reconstruct = np.zeros(1).__reduce_ex__(2)[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    scalar = np.int64(0).__reduce__()[0]
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): _safe_dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR python batches without running code: ``find_class`` admits only what such a batch
    references (numpy array/scalar reconstruction, ``numpy.dtype`` without object dtypes, latin-1 bytes,
    a few builtin containers). Everything else, e.g. a ``__reduce__`` to ``os.system``, is refused.

    Departure on purpose from the official loader (``pickle.load(f, encoding='bytes')`` on the dataset page
    and in torchvision's CIFAR10), which trusts the file: a crafted batch would run arbitrary code there."""

    ALLOWED: dict[tuple[str, str], object] = {
        **_numpy_globals(),
        ("_codecs", "encode"): _latin1_encode,
        **{
            (mod, name): obj
            for mod in ("builtins", "__builtin__")
            for name, obj in (("set", set), ("frozenset", frozenset), ("bytearray", bytearray))
        },
    }

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a CIFAR batch") from None


def _unpickle(path: Path) -> dict:
    """A CIFAR pickle as a dict with bytes keys; any non-conforming file is one UnlearnkitError naming it."""
    try:
        with open(path, "rb") as f:
            obj = CifarUnpickler(f, encoding="bytes").load()
    except Exception as e:  # any parse failure of an untrusted file (nothing ran: find_class is restricted)
        raise UnlearnkitError(
            f"{path} is not a CIFAR python batch ({type(e).__name__}: {e}); it was not loaded. "
            f"Replace it with the file from the official archive (or pass --download into an "
            f"empty --data-dir)"
        ) from None
    if not isinstance(obj, dict):
        raise UnlearnkitError(
            f"{path} is not a CIFAR python batch (a pickled {type(obj).__name__}, not a dict); "
            f"replace it with the file from the official archive"
        )
    return {k.encode() if isinstance(k, str) else k: v for k, v in obj.items()}


def _cifar_batch(path: Path, label_key: bytes, classes: int) -> dict:
    """``data`` (n, 3, 32, 32) uint8 and ``label_key`` (n,) int64 in [0, classes) from one batch file."""
    batch = _unpickle(path)

    def bad(why):
        return UnlearnkitError(
            f"{path} is not a CIFAR python batch ({why}); replace it with the file from the official archive"
        )

    if b"data" not in batch or label_key not in batch:
        raise bad(f"keys {sorted(batch, key=repr)}; expected b'data' and {label_key!r}")
    data, labels = batch[b"data"], batch[label_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise bad(
            f"data is {type(data).__name__} {getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}, "
            f"expected a uint8 array of shape (n, 3072)"
        )
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as e:
        raise bad(f"labels are not integers: {e}") from None
    if labels.shape != (len(data),) or (len(labels) and (labels.min() < 0 or labels.max() >= classes)):
        raise bad(f"{len(data)} images but labels of shape {labels.shape} (expected that many in 0..{classes - 1})")
    return {b"data": data.reshape(-1, 3, 32, 32), label_key: labels}


def _cifar_names(path: Path, key: bytes) -> list[str]:
    names = _unpickle(path).get(key)
    if not isinstance(names, list) or not all(isinstance(s, (bytes, str)) for s in names):
        raise UnlearnkitError(
            f"{path} has no list of class names under {key!r}; replace it with the file from the official archive"
        )
    return [s.decode() if isinstance(s, bytes) else s for s in names]


def _load_cifar(kind: str, data_dir, download: bool) -> ArrayDataset:
    spec = CIFAR[kind]
    root = data_root(data_dir)
    if download and not (root / spec["folder"]).exists():
        archive = fetch(spec["url"], root / spec["url"].rsplit("/", 1)[1], md5=spec["md5"])
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    d = find_files(spec["folder"], spec["train"] + spec["test"], data_dir)

    def read(names):
        batches = [_cifar_batch(d / n, spec["key"], spec["classes"]) for n in names]
        return (np.concatenate([b[b"data"] for b in batches]), np.concatenate([b[spec["key"]] for b in batches]))

    xtr, ytr = read(spec["train"])
    xte, yte = read(spec["test"])
    meta_file, meta_key = spec["meta"]
    names = _cifar_names(d / meta_file, meta_key) if (d / meta_file).exists() else None
    x = torch.from_numpy(np.concatenate([xtr, xte]))
    y = torch.from_numpy(np.concatenate([ytr, yte]))
    n = len(ytr)
    return ArrayDataset(
        kind,
        x,
        y,
        spec["classes"],
        pool=np.arange(n),
        test=np.arange(n, len(y)),
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
        class_names=names,
    )


@DATASETS.register("cifar10")
def load_cifar10(data_dir=None, download=False) -> ArrayDataset:
    """CIFAR-10 python batches from ``<data>/cifar-10-batches-py/`` (downloads only with --download)."""
    return _load_cifar("cifar10", data_dir, download)


@DATASETS.register("cifar100")
def load_cifar100(data_dir=None, download=False) -> ArrayDataset:
    """CIFAR-100 python batches from ``<data>/cifar-100-python/`` (fine labels; downloads only with --download)."""
    return _load_cifar("cifar100", data_dir, download)
