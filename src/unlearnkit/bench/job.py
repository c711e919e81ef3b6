"""A job is a pure function of its spec: spec → result row (DESIGN.md "Interfaces").

The grid is expanded into specs (plain JSON-able dicts) so any executor (in-process, process pool,
Ray) can run them and produce the same rows. Trained models come from the checkpoint cache.
"""
from __future__ import annotations

import copy
import functools
import json
import math
import platform
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import __version__
from ..data import load_dataset, make_split
from ..device import resolve_device
from ..errors import CompositionError
from ..eval import GAP_COLUMNS, METRICS, Evaluation, avg_gap
from ..models import build_model
from ..options import build
from ..cache import ModelCache, data_fingerprint, fingerprint
from ..training import TrainConfig, train_model
from ..unlearn import Plan, unlearn
from .config import BenchConfig, merged
from .executor import EXECUTORS


@dataclass
class Grid:
    specs: list[dict]
    skipped: list[str] = field(default_factory=list)


def expand(cfg: BenchConfig, cache_dir: str, device: str = "auto", data_dir: str | None = None,
           download: bool = False) -> Grid:
    """All job specs of the grid, validated (names, options, compositions, scenarios) before any work."""
    for m in cfg.metrics:
        build(METRICS, m, cfg.metric_options.get(m))
    base = dict(model=cfg.model.model_dump(), train=cfg.train.model_dump(), metrics=cfg.metrics,
                metric_options=cfg.metric_options, unseen_fraction=cfg.unseen_fraction, version=__version__,
                epoch_eval=cfg.epoch_eval)
    runtime = dict(cache_dir=str(cache_dir), device=device, data_dir=data_dir, download=download)
    methods = list(cfg.methods)
    if cfg.include_original and not any(m.name == "original" for m in methods):
        methods.insert(0, type(methods[0])(name="original"))
    specs, skipped, seen = [], [], set()
    for ds_entry in cfg.datasets:
        ds = dataset_for(ds_entry.name, data_dir, download, ds_entry.subset, json.dumps(ds_entry.options, sort_keys=True))
        build_model(cfg.model.name, ds.input_shape, ds.num_classes, **cfg.model.options)
        for sc in cfg.scenarios:
            make_split(ds, sc.kind, seed=cfg.seeds[0], unseen_fraction=cfg.unseen_fraction, **sc.options)
            for m, w, t in _compositions(cfg, methods, skipped):
                for seed in cfg.seeds:
                    spec = dict(base, dataset=ds_entry.model_dump(), scenario=sc.model_dump(exclude={"label"}),
                                scenario_label=sc.key, method=m, weighting=w, target=t, seed=seed)
                    spec["key"] = fingerprint(spec)
                    if spec["key"] not in seen:
                        seen.add(spec["key"])
                        specs.append(spec | runtime)
    return Grid(specs, sorted(set(skipped)))


def _compositions(cfg: BenchConfig, methods, skipped: list[str]):
    """Valid (method, weighting, target) triples. A combination a method rejects is noted in
    ``skipped`` and replaced by the method's plain run (uniform, none); duplicates drop by key."""
    plain_w, plain_t = dict(name="uniform", label=None, options={}), dict(name="none", label=None, options={})
    for m in methods:
        mo = merged(cfg.method_options, m)
        for w in cfg.weightings:
            for t in cfg.targets:
                wo, to = merged(cfg.weighting_options, w), merged(cfg.target_options, t)
                try:
                    Plan.make(m.name, w.name, t.name, mo, wo, to)
                except CompositionError as e:
                    plain = Plan.make(m.name, "uniform", "none", mo).method
                    if plain.weightable_terms or plain.accepts_target:  # retrain, original, ssd…: always plain
                        skipped.append(f"{m.key} × {w.key} × {t.key}: {e}")
                    yield dict(name=m.name, label=m.label, options=mo), plain_w, plain_t
                    continue
                yield (dict(name=m.name, label=m.label, options=mo), dict(name=w.name, label=w.label, options=wo),
                       dict(name=t.name, label=t.label, options=to))


@functools.lru_cache(maxsize=4)
def dataset_for(name: str, data_dir, download: bool, subset, options_json: str):
    return load_dataset(name, data_dir=data_dir, download=download, subset=subset, **json.loads(options_json))


def _dataset(spec):
    d = spec["dataset"]
    return dataset_for(d["name"], spec["data_dir"], spec["download"], d.get("subset"), json.dumps(d["options"], sort_keys=True))


def _split(spec, ds):
    sc = dict(spec["scenario"])
    return make_split(ds, sc.pop("kind"), seed=spec["seed"], unseen_fraction=spec["unseen_fraction"], **sc)


class Models:
    """θ_o, θ_r and extra retrained models for one (dataset, split, model, train config), from the cache."""

    def __init__(self, spec: dict, ds, split, device: torch.device):
        self.spec, self.ds, self.split, self.device = spec, ds, split, device
        self.cache = ModelCache(spec["cache_dir"])
        self.tcfg = TrainConfig(**spec["train"])
        self.ident = dict(dataset=spec["dataset"], data=data_fingerprint(ds), model=spec["model"], train=spec["train"],
                          version=spec["version"])

    def new_model(self, seed: int | None = None):
        if seed is not None:
            torch.manual_seed(seed)
        m = self.spec["model"]
        return build_model(m["name"], self.ds.input_shape, self.ds.num_classes, **m["options"]).to(self.device)

    def trained(self, indices: np.ndarray, seed: int, label: str):
        key = self.key(indices, seed)
        return self.cache.get_or_train(
            key, lambda: self.new_model(seed),
            lambda m: train_model(m, self.ds, indices, self.tcfg, self.device, seed=seed), label=label)

    def key(self, indices: np.ndarray, seed: int) -> str:
        return fingerprint(dict(self.ident, indices=np.asarray(indices), seed=seed))

    def is_cached(self, indices: np.ndarray, seed: int) -> bool:
        return all(p.exists() for p in self.cache.paths(self.key(indices, seed)))

    def original(self):
        return self.trained(self.split.train, self.spec["seed"], "original")

    def retrained(self, offset: int = 0):
        return self.trained(self.split.retain, self.spec["seed"] + offset, "retrain")

    def retrained_models(self, k: int):
        return [self.retrained(i)[0] for i in range(k)]


def prepare(spec: dict) -> dict:
    """Train (or find cached) θ_o and θ_r for a spec; returns whether each was cached."""
    ds = _dataset(spec)
    split = _split(spec, ds)
    models = Models(spec, ds.to(resolve_device(spec["device"])), split, resolve_device(spec["device"]))
    _, mo = models.original()
    _, mr = models.retrained()
    return {"original_cached": mo["cached"], "retrain_cached": mr["cached"]}


def train_into_cache(task: tuple[dict, np.ndarray, int]) -> bool:
    """Top-level (picklable) task: train one model for a spec's dataset/model/config into the cache."""
    spec, indices, seed = task
    device = resolve_device(spec["device"])
    Models(spec, _dataset(spec).to(device), None, device).trained(np.asarray(indices), seed, "shadow")
    return True


def run_job(spec: dict, progress=None, keep_model: bool = False) -> dict:
    """Run one grid job: unlearn θ_o with the spec's method ∘ weighting ∘ target, evaluate, return the row
    (with ``keep_model``, also the unlearned model and the split under ``_model`` / ``_split``)."""
    device = resolve_device(spec["device"])
    ds = _dataset(spec)
    split = _split(spec, ds)
    data = ds.to(device)
    models = Models(spec, data, split, device)
    original, meta_o = models.original()
    retrained, meta_r = models.retrained()
    m, w, t = spec["method"], spec["weighting"], spec["target"]
    plan = Plan.make(m["name"], w["name"], t["name"], m["options"], w["options"], t["options"])

    def unlearn_with_plan(model, other_split, seed):
        return unlearn(model, data, other_split, m["name"], w["name"], t["name"], options=m["options"],
                       weighting_options=w["options"], target_options=t["options"], device=device, seed=seed,
                       train_config=models.tcfg, new_model=models.new_model).model

    def epoch_metrics(model, epoch):
        """FA/RA/TA (and MIA) of the model in training, for per-epoch curves (a fresh Evaluation: no cache)."""
        ev_epoch = Evaluation(data, split, device, spec["seed"])
        values = {}
        for name in (n for n in ("accuracy", "mia_efficacy") if n in spec["metrics"]):
            values.update(build(METRICS, name, spec["metric_options"].get(name)).compute(model, ev_epoch))
        return {k: v for k, v in values.items() if k in GAP_COLUMNS}

    result = unlearn(original, data, split, m["name"], w["name"], t["name"], options=m["options"],
                     weighting_options=w["options"], target_options=t["options"], device=device, seed=spec["seed"],
                     train_config=models.tcfg, new_model=models.new_model,
                     retrained=lambda: (copy.deepcopy(retrained), meta_r["train_s"]), progress=progress,
                     on_epoch=epoch_metrics if spec.get("epoch_eval") else None)
    inner_map = EXECUTORS.get(spec.get("executor", "local")).inner_map

    def trained_many(sets, seeds):
        """Shadow models: the missing ones trained through the executor, all read from the cache."""
        missing = [(spec, np.asarray(idx), int(s)) for idx, s in zip(sets, seeds) if not models.is_cached(idx, s)]
        if missing:
            inner_map(train_into_cache, missing)
        return [models.trained(np.asarray(idx), int(s), "shadow")[0] for idx, s in zip(sets, seeds)]

    providers = {
        "retrained_models": models.retrained_models,
        "trained": lambda idx, seed: models.trained(np.asarray(idx), seed, "shadow")[0],
        "trained_many": trained_many,
        "new_model": models.new_model,
        "train": lambda model, idx, seed: train_model(model, data, idx, models.tcfg, device, seed=seed),
        "map": inner_map,
        "unlearn": unlearn_with_plan,
    }
    ev = Evaluation(data, split, device, spec["seed"], original, retrained, plan, providers)
    t0 = time.perf_counter()
    row: dict = {}
    ref: dict = {}
    for name in spec["metrics"]:
        options = spec["metric_options"].get(name)
        metric = build(METRICS, name, options)
        row.update(metric.compute(result.model, ev))
        if set(metric.columns) & set(GAP_COLUMNS):  # θ_r's values: the same for every job of this split
            key = fingerprint(dict(model=models.key(split.retain, spec["seed"]), metric=name, options=options,
                                   seed=spec["seed"], forget=split.forget, test=split.test))
            ref.update(models.cache.memo(key, lambda: metric.compute(retrained, ev)))
    eval_s = time.perf_counter() - t0
    row = {
        "dataset": spec["dataset"].get("label") or spec["dataset"]["name"],
        "scenario": spec["scenario_label"],
        "method": m["label"] or m["name"],
        "weighting": w["label"] or w["name"],
        "target": t["label"] or t["name"],
        "seed": spec["seed"],
        **row,
        "avg_gap": avg_gap(row, ref),
        **{f"{c}_retrain": v for c, v in ref.items() if c in GAP_COLUMNS or c.endswith("_hist")},
        "unlearn_s": result.seconds,
        "retrain_s": meta_r["train_s"],
        "train_s": meta_o["train_s"],
        "eval_s": eval_s,
        "RTE": result.seconds / meta_r["train_s"] if meta_r["train_s"] else math.nan,
        "moved": result.moved,
        "param_change": result.param_change,
        "n_forget": len(split.forget),
        "forget_counts": json.dumps(split.info.get("forget_counts")),
        "split_info": json.dumps({k: v for k, v in split.info.items() if k != "forget_counts"}, default=str),
        "options": json.dumps({"method": m["options"], "weighting": w["options"], "target": t["options"]}),
        "model": spec["model"]["name"],
        "device": str(device),
        "versions": f"unlearnkit {spec['version']}, torch {torch.__version__}, python {platform.python_version()}",
        "config_hash": spec["key"],
    }
    row["_history"] = result.history
    if keep_model:
        row["_model"], row["_split"] = result.model, split
    return row
