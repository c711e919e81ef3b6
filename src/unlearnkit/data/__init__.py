"""Datasets (a registry of loaders), splits and forget scenarios."""

from . import images, tabular  # noqa: F401  (register loaders)
from . import fairness_tables  # noqa: F401
from . import files  # noqa: F401  (npz, image_folder)
from .dataset import ArrayDataset, from_torch_dataset
from .registry import DATASETS, load_dataset
from .scenarios import SCENARIOS, long_tail_counts, make_split
from .split import Split

__all__ = [
    "ArrayDataset",
    "DATASETS",
    "SCENARIOS",
    "Split",
    "from_torch_dataset",
    "load_dataset",
    "long_tail_counts",
    "make_split",
]
