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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="directory for syn20.npz (pass it as --data-dir)")
    print(make(ap.parse_args().out / "syn20.npz"))


if __name__ == "__main__":
    main()
