"""Write the synthetic 20-class data set of ``benchmarks/unnamed_grid_syn20.yaml`` (docs/safe_by_default.md, "The collapse guard").

A model that generalises poorly, to test the stopping rules where retraining itself costs test accuracy:
scikit-learn's ``make_classification`` (5 000 rows, 40 features, 20 classes, 2 % flipped labels, seed 7); the
first 4 000 rows are the training pool, the rest the test split. The MLP of the grid reaches 100 % train and
about 68 % test accuracy on it.

    python benchmarks/make_syn20.py --out DIR            # writes DIR/syn20.npz
    unlearnkit bench --config benchmarks/unnamed_grid_syn20.yaml --data-dir DIR --out runs/syn20 --jobs 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification


def make(path: Path) -> Path:
    x, y = make_classification(
        n_samples=5000,
        n_features=40,
        n_informative=25,
        n_redundant=5,
        n_classes=20,
        n_clusters_per_class=2,
        class_sep=1.5,
        flip_y=0.02,
        random_state=7,
    )
    x = x.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x[:4000], y_train=y[:4000], x_test=x[4000:], y_test=y[4000:])
    return path


def make_many(path: Path, classes: int = 100, per_class: int = 60, test_per_class: int = 20) -> Path:
    """Many classes with few samples each (identities: "forget this person"): one Gaussian cluster a class in 40
    dimensions (make_classification, seed 11); ``per_class`` training and ``test_per_class`` test rows a class."""
    n = classes * (per_class + test_per_class)
    x, y = make_classification(
        n_samples=n,
        n_features=40,
        n_informative=30,
        n_redundant=5,
        n_classes=classes,
        n_clusters_per_class=1,
        class_sep=2.0,
        flip_y=0.0,
        weights=None,
        random_state=11,
    )
    x = x.astype(np.float32)
    test = np.zeros(n, dtype=bool)
    for c in range(classes):  # the first test_per_class rows of each class are its test rows
        test[np.flatnonzero(y == c)[:test_per_class]] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x[~test], y_train=y[~test], x_test=x[test], y_test=y[test])
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="directory for syn20.npz (pass it as --data-dir)")
    ap.add_argument(
        "--many", action="store_true", help="also write syn100.npz: 100 classes of 60 training rows (identities)"
    )
    a = ap.parse_args()
    print(make(a.out / "syn20.npz"))
    if a.many:
        print(make_many(a.out / "syn100.npz"))


if __name__ == "__main__":
    main()
