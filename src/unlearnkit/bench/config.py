"""Bench configuration (YAML) validated up front with pydantic, expanded into a grid of jobs."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..data.split import check_seed
from ..errors import UnlearnkitError
from ..training import TrainConfig

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"


class Entry(BaseModel):
    """A named component with its own options; ``label`` tells variants apart in results."""

    model_config = ConfigDict(extra="forbid")
    name: str
    label: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def from_string(cls, v):
        return {"name": v} if isinstance(v, str) else v

    @property
    def key(self) -> str:
        return self.label or self.name


class DatasetEntry(Entry):
    """``{name: fashion_mnist, subset: 5000, options: {...}}`` or just ``digits``."""

    subset: int | None = Field(None, ge=1)


class ScenarioEntry(BaseModel):
    """``{kind: random, fraction: 0.1}``; every key but ``kind``/``label`` is a scenario option."""

    model_config = ConfigDict(extra="allow")
    kind: str
    label: str | None = None

    @property
    def options(self) -> dict:
        return dict(self.model_extra or {})

    @property
    def key(self) -> str:
        if self.label:
            return self.label
        opts = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.kind}({opts})" if opts else self.kind


class BenchConfig(BaseModel):
    """A grid: datasets × scenarios × methods × weightings × targets × seeds."""

    model_config = ConfigDict(extra="forbid")
    name: str = "bench"
    description: str = ""
    datasets: list[DatasetEntry] = Field(default_factory=lambda: [DatasetEntry(name="digits")])
    model: Entry = Field(default_factory=lambda: Entry(name="mlp"))
    train: TrainConfig = Field(default_factory=TrainConfig)
    scenarios: list[ScenarioEntry]
    methods: list[Entry]
    method_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    weightings: list[Entry] = Field(default_factory=lambda: [Entry(name="uniform")])
    weighting_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    targets: list[Entry] = Field(default_factory=lambda: [Entry(name="none")])
    target_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0])
    metrics: list[str] = Field(default_factory=lambda: ["accuracy", "mia_efficacy", "proxy"])
    metric_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unseen_fraction: float = Field(0.1, ge=0, lt=1)
    include_original: bool = Field(True, description="add a method=original row per dataset/scenario/seed")
    epoch_eval: bool = Field(False, description="evaluate FA/RA/TA/MIA after every unlearning epoch (curves)")
    noise_floor: bool = Field(
        True,
        description="train a second retrained model θ_r′ (another seed, cached) per "
        "split and report avg_gap_floor = Avg.Gap(θ_r′ vs θ_r)",
    )
    stop: str = Field(
        "auto", description="auto | none: unlearn(stop=…) for every job; a method's method_options `stop` overrides it"
    )

    @field_validator("stop")
    @classmethod
    def known_stop(cls, v):
        from ..stopping import check_stop

        try:
            return check_stop(v)
        except UnlearnkitError as e:
            raise ValueError(str(e)) from None

    @field_validator("scenarios", "methods", "seeds", "datasets")
    @classmethod
    def non_empty(cls, v, info):
        if not v:
            raise ValueError(f"{info.field_name} is empty; list at least one")
        return v

    @field_validator("model", mode="before")
    @classmethod
    def model_from_string(cls, v):
        return {"name": v} if isinstance(v, str) else v

    @field_validator("seeds", mode="before")
    @classmethod
    def whole_seeds(cls, v):
        if isinstance(v, list):
            for s in v:
                check_seed(s, "every seed")
        return v

    @model_validator(mode="after")
    def options_name_grid_entries(self):
        """``<kind>_options`` keys must name an entry (name or label) of the grid: a key naming nothing
        would be ignored silently (a typo, or options for a method that is not run)."""
        from ..eval import METRICS
        from ..methods import METHODS
        from ..targets import TARGETS
        from ..weighting import WEIGHTINGS

        # names first: an unknown name is the real problem (then its options name nothing, too)
        for registry, names in (
            (METHODS, [e.name for e in self.methods]),
            (WEIGHTINGS, [e.name for e in self.weightings]),
            (TARGETS, [e.name for e in self.targets]),
            (METRICS, self.metrics),
        ):
            for name in names:
                registry.get(name)
        grids = {"method_options": self.methods, "weighting_options": self.weightings, "target_options": self.targets}
        for field, entries in grids.items():
            _check_option_keys(
                field,
                getattr(self, field),
                [n for e in entries for n in (e.name, e.label) if n],
                field.split("_")[0] + "s",
            )
        _check_option_keys("metric_options", self.metric_options, list(self.metrics), "metrics")
        return self


def _check_option_keys(field: str, options: dict, names: list[str], grid: str) -> None:
    for key in options:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"{field} has options for {key!r}, which is not in {grid} {sorted(set(names))}, so they "
                f"would be ignored; add {key!r} to {grid} or remove the key.{hint}"
            )


def _read_yaml(p: Path) -> dict:
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise UnlearnkitError(f"{p} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise UnlearnkitError(f"{p} must hold a mapping of keys (datasets, scenarios, methods, …)")
    return raw


def load_config(
    preset: str | None = None,
    path: str | Path | None = None,
    overrides: dict | None = None,
    options_file: str | Path | None = None,
) -> BenchConfig:
    """Read a preset (``configs/<preset>.yaml``) or a YAML file; one clear error on bad input.
    ``options_file`` (e.g. tune's ``tuned.yaml``) overlays its ``method_options`` per method."""
    if bool(preset) == bool(path):
        raise UnlearnkitError("give exactly one of --preset NAME or --config FILE.yaml")
    if preset:
        p = PRESET_DIR / f"{preset}.yaml"
        if not p.exists():
            known = ", ".join(sorted(x.stem for x in PRESET_DIR.glob("*.yaml")))
            raise UnlearnkitError(f"unknown preset {preset!r}; known: {known}")
    else:
        p = Path(path)
        if not p.exists():
            raise UnlearnkitError(f"config file {str(p)!r} not found; pass an existing YAML file")
    raw = _read_yaml(p)
    raw.update(overrides or {})
    if options_file:
        of = Path(options_file)
        if not of.is_file():
            raise UnlearnkitError(
                f"options file {str(of)!r} not found; pass the tuned.yaml that `unlearnkit tune` "
                f"wrote (or a YAML with method_options)"
            )
        extra = _read_yaml(of).get("method_options")
        if not isinstance(extra, dict) or not all(isinstance(v, dict) for v in extra.values()):
            raise UnlearnkitError(
                f"options file {of.name} must hold method_options: a mapping of method name to a "
                f"mapping of options (e.g. method_options: {{ft: {{lr: 0.01}}}}); got {extra!r}"
            )
        base = raw.get("method_options") or {}
        if not isinstance(base, dict):
            raise UnlearnkitError(
                f"invalid config {p.name}: method_options must be a mapping of method name to options"
            )
        grid = [
            x
            for m in raw.get("methods") or []
            for x in ((m,) if isinstance(m, str) else (m.get("name"), m.get("label")) if isinstance(m, dict) else ())
            if x
        ]
        try:
            _check_option_keys(f"options file {of.name}: method_options", extra, grid, "methods")
        except ValueError as e:
            raise UnlearnkitError(f"{e} (tune and bench the same config)") from None
        raw["method_options"] = {k: {**(base.get(k) or {}), **extra.get(k, {})} for k in {*base, *extra}}
    return make_config(raw, f"config {p.name}")


def make_config(raw: dict, where: str = "config") -> BenchConfig:
    """``BenchConfig(**raw)`` with every validation problem in one UnlearnkitError naming ``where``."""
    try:
        return BenchConfig(**raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'config'}: {str(err['msg']).removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise UnlearnkitError(f"invalid {where}: {problems}") from None


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """``"0,1,2"`` → [0, 1, 2]; anything else (``0,x``, ``-1``, ``1.5``, empty) is one clear error."""
    parts = [t.strip() for t in str(text).split(",")]
    try:
        seeds = [check_seed(int(t), option) if t.lstrip("-").isdigit() else None for t in parts]
    except UnlearnkitError:
        seeds = [None]
    if not parts or None in seeds:
        raise UnlearnkitError(
            f"{option} {text!r} is not a comma-separated list of whole numbers in 0..2^32−1; give e.g. {option} 0,1,2"
        )
    return seeds


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """A run directory that is usable, checked before any work (nothing is created here): not an
    existing file, no file in the way above it, and writable (probed with a temporary file that is
    removed at once, since permission bits say nothing for root or read-only mounts)."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise UnlearnkitError(
            f"{option} {str(p)!r} is an existing file, not a directory; give a directory (it is created if missing)"
        )
    parent = p
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UnlearnkitError(
            f"{option} {str(p)!r} cannot be created: {str(parent)!r} is a file; give a path under a directory"
        )
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError
    except OSError as e:
        raise UnlearnkitError(
            f"{option} {str(p)!r} is not writable ({str(parent)!r}: "
            f"{e.strerror or 'permission denied'}); give a directory you can write to"
        ) from None
    return p


def merged(base: dict, entry: Entry) -> dict:
    """Options for an entry: the config's ``<kind>_options[name]``, then ``[label]`` (tune writes
    ``tuned.yaml`` by label), overlaid by the entry's own."""
    by_label = base.get(entry.label, {}) if entry.label and entry.label != entry.name else {}
    return {**base.get(entry.name, {}), **by_label, **entry.options}
