"""Your own data from files: an ``.npz`` of arrays, or a folder of images with a labels CSV.

Sample indices (what ``--forget`` and ``--holdout`` files list) are positions: for ``npz``, ``x_train`` rows
are 0..N-1 and ``x_test`` rows follow (N..N+M-1); for ``image_folder``, the CSV's data rows in file order
(0 = the first row after the header). Neither loader runs code from a file (``np.load(allow_pickle=False)``;
images are decoded by Pillow).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import UnlearnkitError
from .dataset import ArrayDataset
from .registry import DATASETS


def _labels(y: np.ndarray, where: str) -> np.ndarray:
    if y.ndim != 1:
        raise UnlearnkitError(f"{where}: labels must be a 1-d array of class indices, got shape {list(y.shape)}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise UnlearnkitError(f"{where}: labels must be integers 0..C-1, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise UnlearnkitError(f"{where}: labels must be ≥ 0 (class indices), found {int(y.min())}")
    return y.astype(np.int64)


@DATASETS.register("npz")
def load_npz(data_dir=None, download=False, path: str | None = None, num_classes: int | None = None) -> ArrayDataset:
    """Arrays in an ``.npz``: ``x_train``, ``y_train`` and optionally ``x_test``, ``y_test`` (``path``;
    relative paths are also looked up under the data dir). uint8 inputs are scaled to [0, 1]; others are
    used as float32. Classes: ``num_classes`` or max label + 1."""
    if not path:
        raise UnlearnkitError("dataset 'npz' needs path=<file.npz> (arrays x_train, y_train[, x_test, y_test])")
    p = Path(path).expanduser()
    if not p.exists() and data_dir:
        p = Path(data_dir) / path
    if not p.exists():
        raise UnlearnkitError(f"npz file {path!r} not found")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as e:  # object arrays need pickle: refused
        raise UnlearnkitError(f"{p.name}: cannot read without unpickling ({e}); store plain numeric arrays") from None
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise UnlearnkitError(
            f"{p.name} lacks {missing}; it holds {sorted(arrays)}. Save it with "
            f"np.savez(path, x_train=…, y_train=…, x_test=…, y_test=…)"
        )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise UnlearnkitError(f"{p.name}: give both x_test and y_test, or neither")
    xtr, ytr = arrays["x_train"], _labels(arrays["y_train"], f"{p.name} y_train")
    xte = arrays.get("x_test", np.empty((0, *xtr.shape[1:]), dtype=xtr.dtype))
    yte = _labels(arrays.get("y_test", np.empty(0, np.int64)), f"{p.name} y_test")
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise UnlearnkitError(
            f"{p.name}: {len(xtr)} x_train rows but {len(ytr)} y_train labels, "
            f"{len(xte)} x_test rows but {len(yte)} y_test labels"
        )
    if xtr.shape[1:] != xte.shape[1:]:
        raise UnlearnkitError(f"{p.name}: x_train samples are {list(xtr.shape[1:])} but x_test {list(xte.shape[1:])}")
    if xtr.dtype != xte.dtype and len(xte):
        xte = xte.astype(xtr.dtype)
    if not (np.issubdtype(xtr.dtype, np.number) or xtr.dtype == bool):
        raise UnlearnkitError(f"{p.name}: x_train must be numeric, got {xtr.dtype}")
    x = np.concatenate([xtr, xte])
    x_t = torch.from_numpy(x.copy()) if x.dtype == np.uint8 else torch.from_numpy(x.astype(np.float32))
    y = np.concatenate([ytr, yte])
    c = int(num_classes) if num_classes else int(y.max()) + 1
    if y.max() >= c:
        raise UnlearnkitError(f"{p.name}: label {int(y.max())} ≥ num_classes={c}")
    n = len(ytr)
    return ArrayDataset(p.stem, x_t, torch.from_numpy(y), c, pool=np.arange(n), test=np.arange(n, len(y)))


@DATASETS.register("image_folder")
def load_image_folder(
    data_dir=None,
    download=False,
    path: str | None = None,
    labels: str = "labels.csv",
    mode: str = "auto",
    size: list[int] | None = None,
) -> ArrayDataset:
    """A folder of images and a CSV (``labels``, default ``<path>/labels.csv``) with columns ``file`` and
    ``label`` and optionally ``split`` (``train``/``test``; default train). Images are decoded with Pillow to
    ``mode`` L or RGB (``auto``: L when every image is grayscale), resized to ``size`` = [H, W] if given (else
    all must share one size), stored as uint8 and scaled to [0, 1]. Integer labels are class indices; other
    labels are mapped to 0..C-1 in sorted order (``class_names``)."""
    import pandas as pd
    from PIL import Image, UnidentifiedImageError

    if not path:
        raise UnlearnkitError("dataset 'image_folder' needs path=<folder> (and a labels CSV: file,label[,split])")
    root = Path(path).expanduser()
    if not root.exists() and data_dir:
        root = Path(data_dir) / path
    if not root.is_dir():
        raise UnlearnkitError(f"image folder {path!r} not found")
    csv = Path(labels).expanduser()
    csv = csv if csv.is_absolute() else root / csv
    if not csv.exists():
        raise UnlearnkitError(f"labels CSV {str(csv)!r} not found; write one with columns file,label[,split]")
    if mode not in ("auto", "L", "RGB"):
        raise UnlearnkitError(f"image_folder mode {mode!r}: use auto, L or RGB")
    df = pd.read_csv(csv, dtype={"file": str})
    for col in ("file", "label"):
        if col not in df.columns:
            raise UnlearnkitError(f"{csv.name} lacks a {col!r} column; columns are {list(df.columns)}")
    if df.empty:
        raise UnlearnkitError(f"{csv.name} has no rows")
    images = []
    for f in df["file"]:
        fp = root / f
        try:
            with Image.open(fp) as im:
                im.load()
                images.append(im.copy())
        except FileNotFoundError:
            raise UnlearnkitError(f"{csv.name} lists {f!r} but {fp} does not exist") from None
        except UnidentifiedImageError:
            raise UnlearnkitError(f"{fp} is not an image Pillow can read") from None
    if mode == "auto":
        mode = "L" if all(im.mode in ("L", "1", "I;16", "I") for im in images) else "RGB"
    arrays = []
    for im in images:
        im = im.convert(mode)
        if size is not None:
            im = im.resize((int(size[1]), int(size[0])))
        arrays.append(np.asarray(im, dtype=np.uint8))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        odd = next(f for f, a in zip(df["file"], arrays) if a.shape != first)
        raise UnlearnkitError(
            f"images differ in size ({df['file'].iloc[0]!r} is {list(first[:2])}, {odd!r} is "
            f"{list(next(a.shape for a in arrays if a.shape != first)[:2])}); pass size=[H,W]"
        )
    x = np.stack(arrays)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    raw = df["label"]
    if pd.api.types.is_integer_dtype(raw):
        y = _labels(raw.to_numpy(), csv.name)
        names, c = None, int(y.max()) + 1
    else:
        names = sorted(raw.astype(str).unique().tolist())
        y = raw.astype(str).map({v: i for i, v in enumerate(names)}).to_numpy(np.int64)
        c = len(names)
    split = df["split"].astype(str).str.strip().str.lower() if "split" in df.columns else pd.Series(["train"] * len(df))
    bad = sorted(set(split) - {"train", "test"})
    if bad:
        raise UnlearnkitError(f"{csv.name}: split values must be train or test, found {bad}")
    rows = np.arange(len(df))
    pool, test = rows[split.to_numpy() == "train"], rows[split.to_numpy() == "test"]
    if len(pool) == 0:
        raise UnlearnkitError(f"{csv.name}: no training rows (split=train)")
    return ArrayDataset(
        root.name,
        torch.from_numpy(np.ascontiguousarray(x)),
        torch.tensor(y, dtype=torch.int64),
        c,
        pool=pool,
        test=test,
        class_names=names,
    )
