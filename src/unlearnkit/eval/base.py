"""The metric contract: a metric *describes itself* — the columns it fills (with their meaning, unit,
goal, Avg.Gap membership and per-epoch use) and the models it needs — and ``compute(model, ev)``
returns exactly those columns. Report, summary, store, per-epoch evaluation, tuning and Avg.Gap read
these declarations from the registry; nothing else keeps a list of metric columns.

An :class:`Evaluation` carries what metrics read (dataset, split, θ_o, θ_r, the run's weighting) and a
typed :class:`~unlearnkit.sources.ModelSource` for extra models (K retrained models, shadows, the
run's unlearning function); logits are cached per (model, part) so metrics share forward passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from ..errors import UnlearnkitError
from ..predict import predict_logits
from ..registry import Registry

if TYPE_CHECKING:
    from ..data.dataset import ArrayDataset
    from ..data.split import Split
    from ..sources import ModelSource
    from ..weighting.base import Weighting

METRICS: Registry = Registry("metric")

Goal = Literal["match_retrain", "min", "max", "info"]
GOALS: tuple[str, ...] = ("match_retrain", "min", "max", "info")


@dataclass(frozen=True)
class Column:
    """One result column and what it means.

    ``goal``: ``match_retrain`` (best = closest to the retrained model's value), ``min``, ``max``, or
    ``info`` (never ranked). ``absolute``: the goal applies to |value| (a signed deviation whose best is
    0). ``in_gap``: the column enters Avg.Gap (|θ_u − θ_r|; the retrained value is stored as
    ``<name>_retrain``). ``reference``: also compute it on θ_r and store ``<name>_retrain`` (implied by
    ``in_gap``). ``per_epoch``: cheap enough to evaluate after every unlearning epoch (curves).
    ``kind``: ``number``, ``json`` (a JSON list, e.g. per-class values) or ``text``. ``show``: a
    number column shown in report tables (False: kept in the CSV only). ``digits``: decimals shown.
    ``machine``: the value depends on the machine and its load (times, memory), not only on the job.
    """

    name: str
    goal: Goal
    definition: str
    unit: str = ""
    in_gap: bool = False
    per_epoch: bool = False
    reference: bool = False
    absolute: bool = False
    kind: Literal["number", "json", "text"] = "number"
    digits: int = 2
    header: str | None = None
    show: bool = True
    machine: bool = False

    def __post_init__(self):
        if self.goal not in GOALS:
            raise ValueError(f"column {self.name!r}: goal {self.goal!r} is not one of {GOALS}")

    @property
    def label(self) -> str:
        """The name shown in tables (e.g. ``Avg.Gap`` for ``avg_gap``)."""
        return self.header or self.name

    @property
    def short(self) -> str:
        """The definition's first sentence, without a leading "Name: " (for terminal legends)."""
        first = re.split(r"\.\s+(?=[A-Z])", self.definition)[0].rstrip(".")
        head, sep, rest = first.partition(": ")
        return rest if sep and len(head) < 40 else first

    @property
    def stores_reference(self) -> bool:
        return self.in_gap or self.reference


class Need(str, Enum):
    """What a metric needs beyond the unlearned model, the dataset and the split."""

    ORIGINAL = "θ_o (the model before unlearning)"
    RETRAINED = "θ_r (a model retrained on D_r)"
    RETRAINED_K = "K models retrained on D_r with distinct seeds"
    SHADOWS = "shadow models trained on other index sets"
    UNLEARN = "the run's unlearning function (to unlearn other models)"
    WEIGHTING = "the run's weighting"
    CLASS_FORGETTING = "a forget set of whole classes (a class scenario)"
    BINARY_GROUP = "a binary dataset with a sensitive group attribute (adult, compas, german)"
    TEST = "test samples (the split's test part is empty)"

    @property
    def fix(self) -> str:
        """How a user supplies it."""
        if self is Need.TEST:
            return (
                "give the dataset a test set (from_torch_dataset(train, test), x_test / y_test in an .npz, a "
                "'split' column in an image folder's labels.csv)"
            )
        if self in (Need.CLASS_FORGETTING, Need.BINARY_GROUP):
            return "use a scenario / dataset that has it, or leave this metric out"
        return (
            "run it through `unlearnkit bench`, or pass them to Evaluation (original=, retrained=, weighting=, "
            "models=SequentialSource(...))"
        )


#: needs the data and the split meet or not (the bench runs a metric only on the scenarios that meet them)
DATA_NEEDS = frozenset({Need.CLASS_FORGETTING, Need.BINARY_GROUP, Need.TEST})


def data_needs_met(dataset, split) -> set[Need]:
    """The :data:`DATA_NEEDS` that ``dataset`` and ``split`` meet."""
    have = {
        Need.CLASS_FORGETTING: bool(forgotten_classes(dataset.labels, split)),
        Need.BINARY_GROUP: dataset.binary_group,
        Need.TEST: len(split.test) > 0,
    }
    return {n for n, ok in have.items() if ok}


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Evaluation:
    """What metrics read. ``models`` supplies extra models (``retrained(k)``, ``trained``,
    ``trained_many``, ``unlearn``, ``map``): the bench's cached source or the library's
    :class:`~unlearnkit.sources.SequentialSource`. ``weighting`` is the run's weighting (its declared
    ``correction_target`` and ``label`` describe a correction run)."""

    dataset: ArrayDataset
    split: Split
    device: torch.device
    seed: int = 0
    original: nn.Module | None = None
    retrained: nn.Module | None = None
    weighting: Weighting | None = None
    models: ModelSource | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def indices(self, part: str) -> np.ndarray:
        return getattr(self.split, part)

    def logits(self, model: nn.Module, part: str) -> torch.Tensor:
        """Logits on a split part, computed once per (model, part) while this Evaluation lives; the
        model is kept in the entry so a freed model's id can never return another model's logits."""
        key = (id(model), part)
        hit = self._cache.get(key)
        if hit is None or hit[0] is not model:
            hit = self._cache[key] = (
                model,
                predict_logits(model, self.dataset, self.indices(part), device=self.device),
            )
        return hit[1]

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """A value computed once per Evaluation under ``key`` (e.g. θ_o's reflected features)."""
        if key not in self._cache:
            self._cache[key] = (None, compute())
        return self._cache[key][1]

    def labels(self, part: str) -> torch.Tensor:
        return torch.as_tensor(self.dataset.labels[self.indices(part)])

    def available(self) -> set[Need]:
        have = {
            Need.ORIGINAL: self.original is not None,
            Need.RETRAINED: self.retrained is not None,
            Need.WEIGHTING: self.weighting is not None,
        }
        for need in (Need.RETRAINED_K, Need.SHADOWS, Need.UNLEARN):
            have[need] = self.models is not None and self.models.provides(need)
        return {n for n, ok in have.items() if ok} | data_needs_met(self.dataset, self.split)

    def source(self, metric: str) -> ModelSource:
        """The model source, or a clear error saying how to give one."""
        if self.models is None:
            raise UnlearnkitError(
                f"metric {metric!r} needs extra models; run it through `unlearnkit bench`, or "
                f"build Evaluation(..., models=SequentialSource(...)) (unlearnkit.sources)"
            )
        return self.models


class Metric:
    """A named metric: ``columns`` (declared :class:`Column` s), ``needs`` (a set of :class:`Need`),
    ``compute(model, ev) -> {column: value}`` with exactly the declared column names."""

    name: ClassVar[str] = ""
    columns: ClassVar[tuple[Column, ...]] = ()
    needs: ClassVar[frozenset[Need]] = frozenset()
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: the cheapest meaningful options (contract tests and CI smoke runs use them)
    quick_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, options: BaseModel | None = None):
        self.options = options if options is not None else self.Options()

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(c.name for c in cls.columns)

    def check(self, ev: Evaluation) -> None:
        """Raise a clear error when ``ev`` lacks something this metric needs (before computing)."""
        missing = sorted(self.needs - ev.available(), key=lambda n: n.value)
        if missing:
            fixes = "; ".join(dict.fromkeys(n.fix for n in missing))
            raise UnlearnkitError(f"metric {self.name!r} needs {', '.join(n.value for n in missing)}; {fixes}")

    def unmet_on(self, dataset, split) -> list[Need]:
        """The :data:`DATA_NEEDS` of this metric that ``dataset`` × ``split`` do not meet (whatever else is
        supplied, it cannot run there)."""
        return sorted((self.needs & DATA_NEEDS) - data_needs_met(dataset, split), key=lambda n: n.value)

    def evaluate(self, model: nn.Module, ev: Evaluation) -> dict:
        """``check`` then ``compute``; the result must hold exactly the declared columns."""
        self.check(ev)
        return self.compute(model, ev)

    def compute(self, model: nn.Module, ev: Evaluation) -> dict:
        raise NotImplementedError


def forgotten_classes(labels: np.ndarray, split: Split) -> list[int]:
    """Classes whose every training sample is in D_f (a class scenario), from the data itself."""
    in_forget = set(np.unique(labels[split.forget]).tolist())
    in_retain = set(np.unique(labels[split.retain]).tolist())
    return sorted(in_forget - in_retain)


def registered_columns(names: list[str] | None = None) -> dict[str, Column]:
    """name → Column over the registered metrics (all, or those named), in registration order."""
    out: dict[str, Column] = {}
    for name, cls in METRICS.items():
        if names is None or name in names:
            for c in cls.columns:
                out.setdefault(c.name, c)
    return out


def gap_columns(names: list[str] | None = None) -> tuple[str, ...]:
    """The columns that enter Avg.Gap among the given metrics (all registered when None)."""
    return tuple(c.name for c in registered_columns(names).values() if c.in_gap)
