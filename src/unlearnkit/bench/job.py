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
from ..cache import data_fingerprint, fingerprint
from ..errors import CompositionError, UnlearnkitError
from ..eval import METRICS, Evaluation, avg_gap, gap_columns
from ..eval.base import Need
from ..models import build_model
from ..options import build
from ..passes import training_passes
from ..targets import TARGETS
from ..weighting import WEIGHTINGS
from ..methods import METHODS
from ..unlearn import Plan, check_auto_has_held_out, effective_stop, unlearn
from .config import BenchConfig, merged
from .executor import EXECUTORS
from .sources import BenchSource


@dataclass
class Grid:
    specs: list[dict]
    skipped: list[str] = field(default_factory=list)
    #: "metric … on scenario (dataset): it needs …" — a metric whose data needs a scenario does not meet
    unmet_metrics: list[str] = field(default_factory=list)


def expand(
    cfg: BenchConfig, cache_dir: str, device: str = "auto", data_dir: str | None = None, download: bool = False
) -> Grid:
    """All job specs of the grid, validated (names, options, compositions, scenarios) before any work.

    A combination that cannot run as asked is replaced by the method's plain run (uniform, none) and
    listed in ``skipped`` with the reason: a method that cannot take the weighting/target (e.g.
    ``ssd × falw``, ``retrain × trw``), a weighting that needs an unseen split where the scenario has
    none (``requires_unseen``), a target that needs a class scenario elsewhere (``requires_class_scenario``).
    A metric whose data needs (:data:`~unlearnkit.eval.base.DATA_NEEDS`: a class scenario, a binary group, a
    test split) a scenario does not meet is left out of that scenario's rows (its columns empty) and listed in
    ``unmet_metrics``. A weighting, target or metric that would run in *no* job of the grid is an error instead."""
    metrics = {m: build(METRICS, m, cfg.metric_options.get(m)) for m in cfg.metrics}
    ran: set[str] = set()  # metrics that apply to at least one (dataset, scenario)
    unmet: dict[str, list[Need]] = {}
    metric_notes: list[str] = []
    blind: list[str] = []  # jobs under stop: auto without held-out data
    base = dict(
        model=cfg.model.model_dump(),
        train=cfg.train.model_dump(),
        metrics=cfg.metrics,
        metric_options=cfg.metric_options,
        unseen_fraction=cfg.unseen_fraction,
        version=__version__,
        epoch_eval=cfg.epoch_eval,
        noise_floor=cfg.noise_floor,
        stop=cfg.stop,
    )
    runtime = dict(cache_dir=str(cache_dir), device=device, data_dir=data_dir, download=download)
    methods = list(cfg.methods)
    if cfg.include_original and not any(m.name == "original" for m in methods):
        methods.insert(0, type(methods[0])(name="original"))
    specs, skipped, seen = [], [], set()
    unused: dict[str, str] = {}  # "weighting 'falw'" → why a method could not use it
    unfit: dict[str, str] = {}  # … → why a scenario could not (the likelier mistake: named first)
    used: set[str] = set()
    for ds_entry in cfg.datasets:
        ds = dataset_for(
            ds_entry.name, data_dir, download, ds_entry.subset, json.dumps(ds_entry.options, sort_keys=True)
        )
        build_model(cfg.model.name, ds.input_shape, ds.num_classes, **cfg.model.options)
        for sc in cfg.scenarios:
            split = make_split(ds, sc.kind, seed=cfg.seeds[0], unseen_fraction=cfg.unseen_fraction, **sc.options)
            for name, metric in metrics.items():  # a metric its data cannot serve leaves its columns empty here
                missing = metric.unmet_on(ds, split)
                if not missing:
                    ran.add(name)
                    continue
                unmet.setdefault(name, missing)
                needs = ", ".join(n.value for n in missing)
                metric_notes.append(
                    f"metric {name!r} on {sc.key} ({ds.name}): it needs {needs}; its columns are empty there"
                )
            for m, w, t in _compositions(cfg, methods, skipped, unused):
                w, t = _fit_scenario(m, w, t, ds, split, sc.key, skipped, unfit)
                try:  # stop: auto on a split without held-out data: every such job would fail after training
                    check_auto_has_held_out(
                        METHODS.get(m["name"]), effective_stop(m["options"].get("stop") or cfg.stop, split), split
                    )
                except UnlearnkitError:
                    blind.append(f"{m['label'] or m['name']} on {sc.key} ({ds.name})")
                used |= {f"weighting {w['label'] or w['name']!r}", f"target {t['label'] or t['name']!r}"}
                for seed in cfg.seeds:
                    spec = dict(
                        base,
                        dataset=ds_entry.model_dump(),
                        data=data_fingerprint(ds),
                        scenario=sc.model_dump(exclude={"label"}),
                        scenario_label=sc.key,
                        method=m,
                        weighting=w,
                        target=t,
                        seed=seed,
                    )
                    spec["key"] = fingerprint(spec)
                    if spec["key"] not in seen:
                        seen.add(spec["key"])
                        specs.append(spec | runtime)
    never = [
        f"{what} runs in no job of this grid: {why}" for what, why in {**unused, **unfit}.items() if what not in used
    ] + [
        f"metric {name!r} can run in no job of this grid: it needs {', '.join(n.value for n in missing)}; "
        + "; ".join(dict.fromkeys(n.fix for n in missing))
        for name, missing in unmet.items()
        if name not in ran
    ]
    if never:
        raise UnlearnkitError("; ".join(never))
    if blind:
        raise UnlearnkitError(
            f"{', '.join(dict.fromkeys(blind))} would run with stop: auto, which compares D_f with held-out data, but "
            f"the split has none (unseen_fraction {cfg.unseen_fraction}); set unseen_fraction > 0 (e.g. 0.1), or "
            f"stop: none"
        )
    return Grid(specs, sorted(set(skipped)), list(dict.fromkeys(metric_notes)))


_PLAIN_W = dict(name="uniform", label=None, options={})
_PLAIN_T = dict(name="none", label=None, options={})


def _compositions(cfg: BenchConfig, methods, skipped: list[str], unused: dict[str, str]):
    """Valid (method, weighting, target) triples. A combination a method rejects is noted in
    ``skipped`` and replaced by the method's plain run (uniform, none); duplicates drop by key."""
    for m in methods:
        mo = merged(cfg.method_options, m)
        for w in cfg.weightings:
            for t in cfg.targets:
                wo, to = merged(cfg.weighting_options, w), merged(cfg.target_options, t)
                try:
                    Plan.make(m.name, w.name, t.name, mo, wo, to)
                except CompositionError as e:
                    Plan.make(m.name, "uniform", "none", mo)  # the plain run must itself be valid
                    skipped.append(f"{m.key} × {w.key} × {t.key}: {e}")
                    for what, alone in (
                        (f"weighting {w.key!r}", (w.name, "none", wo, None)),
                        (f"target {t.key!r}", ("uniform", t.name, None, to)),
                    ):
                        try:  # which of the two the method refuses
                            Plan.make(m.name, alone[0], alone[1], mo, alone[2], alone[3])
                        except CompositionError as alone_error:
                            unused[what] = str(alone_error)  # the last method: one the user listed
                    yield dict(name=m.name, label=m.label, options=mo), _PLAIN_W, _PLAIN_T
                    continue
                yield (
                    dict(name=m.name, label=m.label, options=mo),
                    dict(name=w.name, label=w.label, options=wo),
                    dict(name=t.name, label=t.label, options=to),
                )


def _fit_scenario(m: dict, w: dict, t: dict, ds, split, scenario: str, skipped: list[str], unfit: dict[str, str]):
    """The weighting and target a job can use on this split: one whose declared need the split does not
    meet (``requires_unseen``, ``requires_binary_group``, ``requires_class_scenario``) is replaced by the plain
    one, and noted."""
    label = lambda e: e["label"] or e["name"]  # noqa: E731

    def note(kind: str, entry: dict, why: str) -> None:
        skipped.append(f"{label(m)} × {label(w)} × {label(t)} on {scenario}: {why}")
        unfit.setdefault(f"{kind} {label(entry)!r}", why)

    why = WEIGHTINGS.get(w["name"]).unmet(ds, split)
    if why:
        note("weighting", w, why)
        w = _PLAIN_W
    why = TARGETS.get(t["name"]).unmet(ds, split)
    if why:
        note("target", t, why)
        t = _PLAIN_T
    return w, t


@functools.lru_cache(maxsize=4)
def dataset_for(name: str, data_dir, download: bool, subset, options_json: str):
    return load_dataset(name, data_dir=data_dir, download=download, subset=subset, **json.loads(options_json))


def _dataset(spec):
    d = spec["dataset"]
    return dataset_for(
        d["name"], spec["data_dir"], spec["download"], d.get("subset"), json.dumps(d["options"], sort_keys=True)
    )


def _split(spec, ds):
    sc = dict(spec["scenario"])
    return make_split(ds, sc.pop("kind"), seed=spec["seed"], unseen_fraction=spec["unseen_fraction"], **sc)


def prepare(spec: dict) -> dict:
    """Train (or find cached) θ_o and θ_r for a spec; returns whether each was cached."""
    ds = _dataset(spec)
    split = _split(spec, ds)
    device = resolve_device(spec["device"])
    models = BenchSource(spec, ds.to(device), split, device)
    metas = [models.original()[1], models.retrained_with_meta()[1]]
    if spec.get("noise_floor"):
        metas.append(models.retrained_with_meta(1)[1])
    return {"trained": sum(not m["cached"] for m in metas), "reused": sum(bool(m["cached"]) for m in metas)}


def train_into_cache(task: tuple[dict, np.ndarray, int]) -> bool:
    """Top-level (picklable) task: train one model for a spec's dataset/model/config into the cache."""
    spec, indices, seed = task
    device = resolve_device(spec["device"])
    BenchSource(spec, _dataset(spec).to(device), None, device).trained_with_meta(np.asarray(indices), seed, "shadow")
    return True


def reference_values(models: BenchSource, metric, name: str, spec: dict, split, offset: int, ev) -> dict:
    """A metric's values on the retrained model of seed ``seed + offset`` (θ_r for 0, θ_r′ for 1),
    memoised beside the model cache: the same for every job of this split."""
    key = fingerprint(
        dict(
            model=models.key(split.retain, spec["seed"] + offset),
            metric=name,
            options=spec["metric_options"].get(name),
            seed=spec["seed"],
            forget=split.forget,
            test=split.test,
        )
    )
    model = ev.retrained if offset == 0 else models.retrained_with_meta(offset)[0]
    return models.cache.memo(key, lambda: metric.compute(model, ev))


def peak_memory(device: torch.device) -> dict:
    """``peak_rss_mb``: the worker process's resident-memory high-water mark so far (CPU; it covers this
    job and any before it in the same process); ``gpu_peak_mb``: torch's max allocated on a CUDA device
    since the job started (NaN elsewhere)."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    rss_mb = rss / 2**20 if sys.platform == "darwin" else rss / 1024
    gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else math.nan
    return {"peak_rss_mb": rss_mb, "gpu_peak_mb": gpu}


def run_job(spec: dict, progress=None, keep_model: bool = False) -> dict:
    """Run one grid job: unlearn θ_o with the spec's method ∘ weighting ∘ target, evaluate, return the row
    (with ``keep_model``, also the unlearned model and the split under ``_model`` / ``_split``)."""
    device = resolve_device(spec["device"])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    ds = _dataset(spec)
    split = _split(spec, ds)
    data = ds.to(device)
    m, w, t = spec["method"], spec["weighting"], spec["target"]
    plan = Plan.make(m["name"], w["name"], t["name"], m["options"], w["options"], t["options"])
    metrics = [build(METRICS, name, spec["metric_options"].get(name)) for name in spec["metrics"]]

    def run_plan(model, on_split, seed, **extra):
        """The spec's method ∘ weighting ∘ target on ``model`` (θ_o here, shadows in U-LiRA, N runs for the
        challenge score)."""
        return unlearn(
            model, data, on_split, m["name"], w["name"], t["name"], options=m["options"],
            weighting_options=w["options"], target_options=t["options"], device=device, seed=seed,
            train_config=models.tcfg, new_model=models.new_model, stop=spec.get("stop", "auto"), **extra,
        )  # fmt: skip

    def unlearn_with_plan(model, other_split, seed):
        return run_plan(model, other_split, seed).model

    models = BenchSource(
        spec,
        data,
        split,
        device,
        unlearn=unlearn_with_plan,
        mapper=EXECUTORS.get(spec.get("executor", "local")).inner_map,
        train_task=train_into_cache,
    )
    original, meta_o = models.original()
    retrained, meta_r = models.retrained_with_meta()

    def epoch_metrics(model, epoch):
        """The per-epoch columns (declared ``per_epoch``) of the model in training, for per-epoch curves
        (a fresh Evaluation: no cache)."""
        ev_epoch = Evaluation(data, split, device, spec["seed"], original)
        values = {}
        for metric in metrics:
            wanted = {c.name for c in metric.columns if c.per_epoch}
            if wanted:
                values.update({k: v for k, v in metric.compute(model, ev_epoch).items() if k in wanted})
        return values

    result = run_plan(
        original,
        split,
        spec["seed"],
        retrained=lambda: (copy.deepcopy(retrained), meta_r["train_s"]),
        progress=progress,
        on_epoch=epoch_metrics if spec.get("epoch_eval") else None,
    )
    ev = Evaluation(data, split, device, spec["seed"], original, retrained, plan.weighting, models)
    t0 = time.perf_counter()
    row: dict = {}
    ref: dict = {}
    gap_cols = gap_columns(spec["metrics"])
    floor_ref: dict = {}
    for name, metric in zip(spec["metrics"], metrics):
        if metric.unmet_on(data, split):  # listed in the grid's unmet_metrics; its columns stay empty
            continue
        row.update(metric.evaluate(result.model, ev))
        if any(c.stores_reference for c in metric.columns):  # θ_r's values: the same for every job of this split
            ref.update(reference_values(models, metric, name, spec, split, 0, ev))
            if spec.get("noise_floor") and any(c.in_gap for c in metric.columns):
                floor_ref.update(reference_values(models, metric, name, spec, split, 1, ev))
    eval_s = time.perf_counter() - t0
    stored = {c.name for metric in metrics for c in metric.columns if c.stores_reference}
    retrain_passes = training_passes(models.tcfg.epochs, len(split.retain))
    row = {
        "dataset": spec["dataset"].get("label") or spec["dataset"]["name"],
        "scenario": spec["scenario_label"],
        "method": m["label"] or m["name"],
        "weighting": w["label"] or w["name"],
        "target": t["label"] or t["name"],
        "seed": spec["seed"],
        **row,
        "avg_gap": avg_gap(row, ref, gap_cols),
        "avg_gap_floor": avg_gap(floor_ref, ref, gap_cols) if floor_ref else math.nan,
        **{f"{c}_retrain": v for c, v in ref.items() if c in stored},
        "unlearn_s": result.seconds,
        "retrain_s": meta_r["train_s"],
        "train_s": meta_o["train_s"],
        "eval_s": eval_s,
        "RTE": result.seconds / meta_r["train_s"] if meta_r["train_s"] else math.nan,
        "retrain_timed_here": not meta_r["cached"],
        "unlearn_passes": result.passes.get("total", math.nan),
        "eval_passes": result.passes.get("eval_forward", 0),
        "retrain_passes": retrain_passes,
        "cost_ratio": result.passes.get("total", math.nan) / retrain_passes,
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
        **peak_memory(device),
    }
    row["_history"] = result.history
    if keep_model:
        row["_model"], row["_split"] = result.model, split
    return row
