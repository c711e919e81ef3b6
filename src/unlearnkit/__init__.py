"""unlearnkit — machine unlearning for classifiers, measured against retraining."""

__version__ = "0.1.0"

from .data import ArrayDataset, Split, from_torch_dataset, load_dataset, make_split  # noqa: E402
from .errors import UnlearnkitError  # noqa: E402
from .models import build_model  # noqa: E402
from .training import TrainConfig, train_model  # noqa: E402
from .unlearn import UnlearnResult, unlearn  # noqa: E402
from .eval import METRICS, Evaluation, avg_gap  # noqa: E402
from .checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from .audit import audit  # noqa: E402  (the function; the module stays importable as unlearnkit.audit)
from .baseline import Baseline  # noqa: E402

__all__ = [
    "ArrayDataset",
    "Baseline",
    "METRICS",
    "Evaluation",
    "Split",
    "TrainConfig",
    "UnlearnResult",
    "UnlearnkitError",
    "audit",
    "avg_gap",
    "build_model",
    "from_torch_dataset",
    "load_checkpoint",
    "load_dataset",
    "make_split",
    "save_checkpoint",
    "train_model",
    "unlearn",
    "__version__",
]
