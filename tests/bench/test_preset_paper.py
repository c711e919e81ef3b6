"""Smoke test of the `paper` preset (CIFAR, ResNet-18): it loads, and a shrunken copy (written CIFAR-10 files
of 300 training images, ResNet-18 at width 4, 1 training and 1 unlearning epoch, rl only, each scenario, one
seed) runs end to end through ``run_bench`` — training, the model cache (ResNet-18's state dict must be
storable), every metric of the preset. The full preset is a GPU benchmark (see benchmarks/gpu_session.py)."""

from __future__ import annotations

import math

import pandas as pd
import yaml

from helpers import write_cifar
from unlearnkit.bench.config import load_config
from unlearnkit.bench.runner import run_bench


def test_paper_preset_shrunk_runs_every_scenario_and_caches_resnet18(tmp_path):
    full = load_config(preset="paper")
    assert full.model.name == "resnet18" and {d.name for d in full.datasets} == {"cifar10", "cifar100"}
    raw = full.model_dump(mode="json")
    raw.update(
        datasets=[{"name": "cifar10"}],
        model={"name": "resnet18", "options": {"width": 4}},
        train={**raw["train"], "epochs": 1, "batch_size": 64},
        methods=["rl"],
        method_options={"rl": {**raw["method_options"]["rl"], "epochs": 1, "batch_size": 32, "retain_batch_size": 32}},
        weightings=["uniform"],
        seeds=[0],
        metric_options={"mia_efficacy": {"max_shadow": 50}},
        noise_floor=False,
    )
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path=path)
    write_cifar(tmp_path, "cifar10", per_batch=60)
    out = run_bench(cfg, tmp_path / "run", data_dir=str(tmp_path), cache_dir=tmp_path / "cache", quiet=True)
    assert not out.failed, out.failed
    assert out.trained > 0 and list((tmp_path / "cache").rglob("*.safetensors"))  # θ_o / θ_r were cached
    df = pd.read_csv(tmp_path / "run" / "results.csv")
    rl = df[df["method"] == "rl"]
    assert len(rl) == len(full.scenarios)
    for col in ("FA", "RA", "TA", "MIA", "avg_gap", "proxy_gap"):
        assert rl[col].map(lambda v: isinstance(v, float) and math.isfinite(v)).all(), col
    again = run_bench(cfg, tmp_path / "run2", data_dir=str(tmp_path), cache_dir=tmp_path / "cache", quiet=True)
    assert again.trained == 0 and again.reused > 0  # the second run reads every model back from the cache


def test_the_gpu_session_grid_validates():
    """benchmarks/gpu_grid.yaml (run by benchmarks/gpu_session.py on a lent GPU) is a valid bench config."""
    from pathlib import Path

    cfg = load_config(path=Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_grid.yaml")
    assert cfg.model.name == "resnet18" and cfg.datasets[0].name == "fashion_mnist" and cfg.stop == "none"
    assert {s.kind for s in cfg.scenarios} == {"random", "class"} and cfg.train.precision == "bf16"


def test_the_unnamed_grid_validates_and_runs_under_the_library_default_stop():
    """benchmarks/unnamed_grid.yaml (docs/safe_by_default.md, "Grids nobody chose") is a valid config that leaves `stop` at the
    library default, auto, with every method at its defaults."""
    from pathlib import Path

    cfg = load_config(path=Path(__file__).resolve().parents[2] / "benchmarks" / "unnamed_grid.yaml")
    assert cfg.stop == "auto" and cfg.model.name == "cnn" and not cfg.method_options
    assert {s.kind for s in cfg.scenarios} == {"random", "class", "long_tail", "subclass"}


def test_the_other_unnamed_grids_validate_with_library_defaults_and_differ_from_each_other():
    """benchmarks/unnamed_grid_*.yaml (docs/safe_by_default.md, "Grids nobody chose"): valid configs at the library default stop
    (auto) and method defaults, each with a data set, model or training recipe the others and the tuned presets
    do not share."""
    from pathlib import Path

    paths = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("unnamed_grid_*.yaml"))
    cfgs = [load_config(path=p) for p in paths]
    assert [p.stem for p in paths] == [
        "unnamed_grid_big_forget",
        "unnamed_grid_fashion_adam",
        "unnamed_grid_fashion_cnn",
        "unnamed_grid_fashion_mlp12k",
        "unnamed_grid_german_logreg",
        "unnamed_grid_logreg_digits",
        "unnamed_grid_resnet",
        "unnamed_grid_small_holdout",
        "unnamed_grid_syn100",
        "unnamed_grid_syn20",
    ]
    for cfg in cfgs:
        assert cfg.stop == "auto" and not cfg.method_options and len(cfg.seeds) >= 2
        assert {"original", "retrain"} <= {m.name for m in cfg.methods} and len(cfg.methods) >= 12
    recipes = [
        (c.datasets[0].name, c.datasets[0].options.get("path"), c.model.name, c.train.optimizer, c.unseen_fraction)
        for c in cfgs
    ]
    assert len(set(recipes)) == len(cfgs)  # no two share data set, model, optimiser and held-out share
    assert max(s.model_dump().get("fraction", 0) for s in cfgs[0].scenarios) == 0.5  # big_forget: the largest requests
    assert set(recipes) == {
        ("digits", None, "mlp", "sgd", 0.1),
        ("fashion_mnist", None, "mlp", "adam", 0.2),
        ("fashion_mnist", None, "cnn", "sgd", 0.1),  # a model that does not memorise (RA about 83 %)
        ("german", None, "logreg", "adam", 0.1),
        ("digits", None, "logreg", "sgd", 0.1),  # a convex model on images; `if` included
        ("digits", None, "resnet18", "sgd", 0.1),  # batch norm; one- and five-sample requests
        ("digits", None, "mlp", "sgd", 0.05),
        ("npz", "syn100.npz", "mlp", "sgd", 0.1),  # 100 classes of 60 rows (identities)
        ("npz", "syn20.npz", "mlp", "sgd", 0.1),
        ("fashion_mnist", None, "mlp", "sgd", 0.1),  # 12 000 images: forget sets up to 1 080 samples
    }


def test_the_fashion_lt_library_auto_grid_is_the_preset_under_the_library_search():
    """benchmarks/fashion_lt_library_auto.yaml runs the fashion_lt preset's methods with their options under auto as
    the library runs it: the preset's data, model, training, levels, seeds and options, no lr_factors pin."""
    from pathlib import Path

    grid = load_config(path=Path(__file__).resolve().parents[2] / "benchmarks" / "fashion_lt_library_auto.yaml")
    preset = load_config(preset="fashion_lt")
    for field in ("datasets", "model", "train", "unseen_fraction", "scenarios", "seeds", "method_options"):
        assert getattr(grid, field) == getattr(preset, field), field
    assert grid.stop == "auto" and [w.name for w in grid.weightings] == ["uniform"]
    fixed = [m.name for m in preset.methods if m.name != "retrain" and not (m.label or "").endswith("_auto")]
    assert [m.name for m in grid.methods] == ["original", "retrain", *fixed]
    assert all("stopping" not in m.options for m in grid.methods)
