"""Bench configuration (YAML) validated up front with pydantic, expanded into a grid of jobs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    metrics: list[str] = Field(default_factory=lambda: ["accuracy", "mia_efficacy"])
    metric_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    unseen_fraction: float = Field(0.1, ge=0, lt=1)
    include_original: bool = Field(True, description="add a method=original row per dataset/scenario/seed")
    epoch_eval: bool = Field(False, description="evaluate FA/RA/TA/MIA after every unlearning epoch (curves)")
    noise_floor: bool = Field(True, description="train a second retrained model θ_r′ (another seed, cached) per "
                                                "split and report avg_gap_floor = Avg.Gap(θ_r′ vs θ_r)")
    stop: str = Field("auto", description="auto | none: unlearn(stop=…) for every job; a method's "
                      "method_options `stop` overrides it")

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


def _read_yaml(p: Path) -> dict:
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise UnlearnkitError(f"{p} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise UnlearnkitError(f"{p} must hold a mapping of keys (datasets, scenarios, methods, …)")
    return raw


def load_config(preset: str | None = None, path: str | Path | None = None, overrides: dict | None = None,
                options_file: str | Path | None = None) -> BenchConfig:
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
        if not of.exists():
            raise UnlearnkitError(f"options file {str(of)!r} not found")
        extra = _read_yaml(of).get("method_options", {})
        raw["method_options"] = {k: {**raw.get("method_options", {}).get(k, {}), **extra.get(k, {})}
                                 for k in {*raw.get("method_options", {}), *extra}}
    try:
        return BenchConfig(**raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise UnlearnkitError(f"invalid config {p.name}: {problems}") from None


def merged(base: dict, entry: Entry) -> dict:
    """Options for an entry: the config's ``<kind>_options[name]`` overlaid by the entry's own."""
    return {**base.get(entry.name, {}), **entry.options}
