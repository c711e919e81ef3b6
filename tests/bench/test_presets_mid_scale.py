"""Smoke test of the mid-scale presets (fashion_lt, fashion_class): each loads, validates, and a shrunken
copy (600-image Fashion-MNIST subset, a 4-channel CNN, 1 seed, 1 training epoch, 1 unlearning epoch,
one method, first scenario, smallest attack settings) runs end to end through ``run_bench``. The full presets are
benchmarks for a GPU, not tests."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest

from unlearnkit.bench.config import load_config
from unlearnkit.bench.runner import run_bench

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
DATA = SHARED if (SHARED / "fashion-mnist").exists() else Path(os.environ.get("UNLEARNKIT_DATA", "/nonexistent"))
needs_data = pytest.mark.skipif(
    not (DATA / "fashion-mnist").exists(),
    reason=f"Fashion-MNIST idx files not found in {SHARED}/fashion-mnist (or $UNLEARNKIT_DATA/fashion-mnist)",
)


def shrunk(preset: str, **changes):
    full = load_config(preset=preset)
    raw = full.model_dump(mode="json")
    one_epoch = {m: {**o, "epochs": 1} for m, o in raw["method_options"].items()}
    # a 4-channel CNN: Fashion-MNIST's 10,000 test images are scored for every model and dominate the time
    methods = {m if isinstance(m, str) else m["name"] for m in changes.get("methods", raw["methods"])}
    one_epoch = {m: o for m, o in one_epoch.items() if m in methods}  # options only for methods that run
    raw.update(
        datasets=[{"name": "fashion_mnist", "subset": 600}],
        seeds=[0],
        scenarios=raw["scenarios"][:1],
        model={"name": raw["model"]["name"], "options": {"width": 4}},
        train={**raw["train"], "epochs": 1},
        method_options=one_epoch,
        noise_floor=False,
        **changes,
    )
    return full, load_config(path=_write(raw, preset))


def _write(raw: dict, name: str) -> Path:
    import tempfile

    import yaml

    p = Path(tempfile.mkdtemp(prefix="unlearnkit-preset-")) / f"{name}.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_presets_describe_the_mid_scale_grids():
    lt = load_config(preset="fashion_lt")
    assert [d.name for d in lt.datasets] == ["fashion_mnist"] and lt.datasets[0].subset is None
    assert lt.model.name == "cnn" and lt.seeds == [0, 1, 2]
    assert {m.name for m in lt.methods} >= {"rl", "ga", "neggrad_plus", "salun", "scrub"}
    assert [w.name for w in lt.weightings] == ["uniform", "falw"]
    assert set(lt.metrics) == {"accuracy", "mia_efficacy", "proxy", "deviation"}
    ratios = {s.options["ratio"] for s in lt.scenarios if s.kind == "long_tail"}
    assert len(ratios) >= 2
    cl = load_config(preset="fashion_class")
    assert cl.model.name == "cnn" and cl.seeds == [0, 1, 2] and [t.name for t in cl.targets] == ["none", "trw"]
    assert max(len(s.options["classes"]) for s in cl.scenarios) >= 2
    assert set(cl.metrics) == {"accuracy", "mia_efficacy", "proxy", "mia_nn", "ulira"}
    assert cl.metric_options["ulira"]["K"] <= 4


def test_fashion_lt_levels_keep_twenty_forget_samples_in_the_smallest_class():
    import numpy as np

    from unlearnkit.data.scenarios import long_tail_counts

    sizes = np.full(10, 5400)  # ≈ the full training set per class after the 10 % unseen split
    for s in load_config(preset="fashion_lt").scenarios:
        c = long_tail_counts(sizes, np.arange(10), s.options["fraction"], "exp", s.options["ratio"])
        assert c.min() >= 20, (s.key, c)


@needs_data
def test_fashion_lt_shrunk_runs(tmp_path):
    _, cfg = shrunk("fashion_lt", methods=["rl"])
    out = run_bench(cfg, tmp_path / "run", data_dir=str(DATA), cache_dir=tmp_path / "cache", quiet=True)
    assert not out.failed, out.failed
    df = pd.read_csv(tmp_path / "run" / "results.csv")
    rl = df[df["method"] == "rl"]
    assert sorted(rl["weighting"]) == ["falw", "uniform"]
    for col in ("FA", "RA", "TA", "MIA", "avg_gap", "dFA_tail"):
        assert rl[col].map(lambda v: isinstance(v, float) and math.isfinite(v)).all(), col


@needs_data
def test_fashion_class_shrunk_runs(tmp_path):
    _, cfg = shrunk(
        "fashion_class",
        methods=["rl"],
        metric_options={
            "mia_efficacy": {"max_shadow": 200},
            "mia_nn": {"R": 3},
            "ulira": {"K": 2, "max_targets": 20, "reference_models": 1},
        },
    )
    out = run_bench(cfg, tmp_path / "run", data_dir=str(DATA), cache_dir=tmp_path / "cache", quiet=True)
    assert not out.failed, out.failed
    df = pd.read_csv(tmp_path / "run" / "results.csv")
    rl = df[df["method"] == "rl"]
    assert sorted(rl["target"]) == ["none", "trw"]
    assert rl[["FA", "RA", "TA", "MIA"]].notna().all().all()
    assert any(c.lower().startswith("mia_nn") for c in df.columns) and any("lira" in c.lower() for c in df.columns)
