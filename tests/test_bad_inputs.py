"""Every bad input is caught before any work, with one clear message (issue "Reliability and security").

Each CLI case runs ``unlearnkit`` in-process (typer's CliRunner) in a fresh tmp dir holding a tiny
config (digits, mlp, 2 training epochs), an existing ``out/results.db`` with one row and a plain file;
it must exit with code 2, print a message matching its regex (whitespace folded, case-insensitive),
print no traceback, and leave every file under the tmp dir as it was (no results.db written or lost,
no cache entry trained). Each library case must raise ``UnlearnkitError`` matching its regex.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

import unlearnkit as uk
from unlearnkit.cli import app
from unlearnkit.errors import UnlearnkitError

TINY = {
    "datasets": ["digits"],
    "model": "mlp",
    "train": {"epochs": 2, "lr": 0.05},
    "scenarios": [{"kind": "random", "fraction": 0.1}],
    "methods": ["ft"],
    "method_options": {"ft": {"epochs": 1}},
    "seeds": [0],
    "metrics": ["accuracy"],
}
CSV = "{tmp}/t.csv"
TABLE = [{"name": "tabular_csv", "options": {"path": CSV, "label": "y"}}]


def _rl_on_random(d, model=None, unseen_fraction: float = 0.1, **kwargs):
    """``unlearn`` with rl on a seed-0 random 10 % split of ``d`` and an MLP (or ``model``): the library cases below
    each vary one argument of this call."""
    model = uk.build_model("mlp", d.input_shape, d.num_classes) if model is None else model
    return uk.unlearn(model, d, uk.make_split(d, "random", seed=0, unseen_fraction=unseen_fraction), "rl", **kwargs)


class TupleOut(torch.nn.Module):
    """A model whose forward returns (logits, features), as many research codebases do."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x), x.flatten(1)


def csv_text(cell: str = "") -> str:
    """60 rows a,b,y; row 7 (line 8) gets ``cell`` in column a when given."""
    rows = [f"{i % 7 * 0.5},{i % 5},{i % 2}" for i in range(60)]
    if cell is not None:
        rows[6] = f"{cell},1,0"
    return "a,b,y\n" + "\n".join(rows) + "\n"


def bench(*extra):
    return ["bench", "--config", "{cfg}", "--out", "{out}", "--cache-dir", "{cache}", "--quiet", "--no-report", *extra]


def tune(*extra):
    return ["tune", "--config", "{cfg}", "--out", "{out}", "--cache-dir", "{cache}", *extra]


def unlearn(*extra, method="ft"):
    return ["unlearn", "--method", method, "--cache-dir", "{cache}", *extra]


def C(id, argv, regex, cfg=None, files=None):
    return pytest.param(argv, regex, cfg or {}, files or {}, id=id)


CLI_CASES = [
    C("out-is-a-file", bench("--out", "{file}"), r"--out .* is an existing file, not a directory"),
    C("out-under-a-file", bench("--out", "{file}/run"), r"cannot be created: .* is a file"),
    C("out-unwritable", bench("--out", "{readonly}/run"), r"--out .* is not writable"),
    C("seeds-not-a-number", bench("--seeds", "0,x"), r"--seeds '0,x' is not a comma-separated list of whole numbers"),
    C("seeds-negative", bench("--seeds", "-1"), r"--seeds '-1' is not a comma-separated list of whole numbers"),
    C("seeds-empty", bench("--seeds", ""), r"--seeds '' is not a comma-separated list"),
    C("seeds-float", bench("--seeds", "1.5"), r"--seeds '1.5' is not a comma-separated list"),
    C("jobs-zero", bench("--jobs", "0"), r"--jobs must be at least 1"),
    C("threads-zero", bench("--threads", "0"), r"--threads must be at least 1, got 0"),
    C(
        "bench-stop-typo",
        bench("--stop", "atuo"),
        r"--stop must be one of 'auto', 'none', got 'atuo'\. Did you mean 'auto'\?",
    ),
    C("executor-unknown", bench("--executor", "slurm"), r"unknown executor 'slurm'"),
    C("device-unknown", bench("--device", "tpu"), r"unknown device 'tpu'"),
    C("options-file-missing", bench("--options", "{tmp}/nope.yaml"), r"options file .*nope.yaml.* not found"),
    C(
        "options-method-not-in-grid",
        bench("--options", "{tmp}/tuned.yaml"),
        r"options file tuned.yaml: method_options has options for 'rl', which is not in methods",
        files={"tuned.yaml": "method_options: {rl: {lr: 0.01}}\n"},
    ),
    C(
        "options-not-a-mapping",
        bench("--options", "{tmp}/tuned.yaml"),
        r"tuned.yaml must hold method_options: a mapping",
        files={"tuned.yaml": "method_options: [ft]\n"},
    ),
    C(
        "options-value-not-a-mapping",
        bench("--options", "{tmp}/tuned.yaml"),
        r"tuned.yaml must hold method_options: a mapping",
        files={"tuned.yaml": "method_options: {ft: 3}\n"},
    ),
    C("preset-unknown", ["bench", "--preset", "quik", "--out", "{out}"], r"unknown preset 'quik'"),
    C("preset-and-config", bench("--preset", "quick"), r"give exactly one of --preset NAME or --config"),
    C(
        "config-missing",
        ["bench", "--config", "{tmp}/none.yaml", "--out", "{out}"],
        r"config file .*none.yaml.* not found",
    ),
    C(
        "config-bad-yaml",
        ["bench", "--config", "{tmp}/bad.yaml", "--out", "{out}"],
        r"bad.yaml is not valid YAML",
        files={"bad.yaml": "methods: [ft\n"},
    ),
    C(
        "config-not-a-mapping",
        ["bench", "--config", "{tmp}/bad.yaml", "--out", "{out}"],
        r"must hold a mapping of keys",
        files={"bad.yaml": "- ft\n"},
    ),
    C(
        "cfg-seed-negative",
        bench(),
        r"seeds: every seed must be a whole number in 0\.\.4294967295, got -1",
        cfg={"seeds": [-1]},
    ),
    C("cfg-seed-float", bench(), r"every seed must be a whole number .* got 1\.5", cfg={"seeds": [1.5]}),
    C("cfg-seeds-empty", bench(), r"seeds is empty", cfg={"seeds": []}),
    C(
        "method-options-typo",
        bench(),
        r"method_options has options for 'fft', which is not in methods \['ft'\].*Did you mean 'ft'",
        cfg={"method_options": {"fft": {"epochs": 1}}},
    ),
    C(
        "method-options-not-in-grid",
        bench(),
        r"method_options has options for 'ga', which is not in methods",
        cfg={"method_options": {"ga": {"epochs": 1}}},
    ),
    C(
        "metric-options-not-in-grid",
        bench(),
        r"metric_options has options for 'mia_efficacy', which is not in metrics",
        cfg={"metric_options": {"mia_efficacy": {"max_shadow": 10}}},
    ),
    C(
        "weighting-options-not-in-grid",
        bench(),
        r"weighting_options has options for 'falw', which is not in weightings",
        cfg={"weighting_options": {"falw": {"tau": 0.1}}},
    ),
    C(
        "target-options-not-in-grid",
        bench(),
        r"target_options has options for 'trw', which is not in targets",
        cfg={"target_options": {"trw": {"beta": 1}}},
    ),
    C("config-unknown-key", bench(), r"metric: Extra inputs are not permitted", cfg={"metric": ["accuracy"]}),
    C(
        "method-unknown",
        bench(),
        r"unknown method 'fft'.*Did you mean 'ft'",
        cfg={"methods": ["fft"], "method_options": {}},
    ),
    C(
        "method-option-unknown",
        bench(),
        r"bad options for method 'ft'.*epoch",
        cfg={"method_options": {"ft": {"epoch": 1}}},
    ),
    C(
        "train-epochs-zero",
        bench(),
        r"train\.epochs: Input should be greater than or equal to 1",
        cfg={"train": {"epochs": 0}},
    ),
    C(
        "class-float",
        bench(),
        r"classes must be whole numbers .*got \[3\.7\]",
        cfg={"scenarios": [{"kind": "class", "classes": [3.7]}]},
    ),
    C(
        "class-text",
        bench(),
        r"classes must be whole numbers .*got \['x'\]",
        cfg={"scenarios": [{"kind": "class", "classes": ["x"]}]},
    ),
    C(
        "class-bool",
        bench(),
        r"classes must be whole numbers .*got \[True\]",
        cfg={"scenarios": [{"kind": "class", "classes": [True]}]},
    ),
    C(
        "class-absent",
        bench(),
        r"class\(es\) \[42\] not in the training data",
        cfg={"scenarios": [{"kind": "class", "classes": [42]}]},
    ),
    C(
        "subclass-float",
        bench(),
        r"classes must be whole numbers .*got \[2\.5\]",
        cfg={"scenarios": [{"kind": "subclass", "classes": [2.5]}]},
    ),
    C(
        "indices-float",
        bench(),
        r"indices must be whole numbers .*got \[1\.5, 2\.9\]",
        cfg={"scenarios": [{"kind": "indices", "indices": [1.5, 2.9]}]},
    ),
    C(
        "indices-text",
        bench(),
        r"indices must be whole numbers .*got \['a'\]",
        cfg={"scenarios": [{"kind": "indices", "indices": ["a"]}]},
    ),
    C(
        "indices-npy-float",
        bench(),
        r"the indices in ids\.npy must be whole numbers .*1\.5",
        cfg={"scenarios": [{"kind": "indices", "file": "{tmp}/ids.npy"}]},
        files={"ids.npy": np.array([1.5, 2.9])},
    ),
    C(
        "indices-txt-float",
        bench(),
        r"ids\.txt must hold one integer index per line",
        cfg={"scenarios": [{"kind": "indices", "file": "{tmp}/ids.txt"}]},
        files={"ids.txt": "1.5\n2\n"},
    ),
    C(
        "indices-out-of-range",
        bench(),
        r"forget indices \[99999\] are not in the training pool",
        cfg={"scenarios": [{"kind": "indices", "indices": [99999]}]},
    ),
    C(
        "fraction-text",
        bench(),
        r"fraction must be a number, got 'abc'",
        cfg={"scenarios": [{"kind": "random", "fraction": "abc"}]},
    ),
    C(
        "fraction-out-of-range",
        bench(),
        r"fraction must be in \(0, 1\), got 1\.5",
        cfg={"scenarios": [{"kind": "random", "fraction": 1.5}]},
    ),
    C(
        "scenario-option-typo",
        bench(),
        r"scenario 'random': bad options .* it takes no option 'fracton'; it takes: fraction\. Did you mean 'fraction'",
        cfg={"scenarios": [{"kind": "random", "fracton": 0.1}]},
    ),
    C("scenario-unknown", bench(), r"unknown scenario 'rand'", cfg={"scenarios": [{"kind": "rand"}]}),
    C(
        "long-tail-ratio-text",
        bench(),
        r"ratio must be a number, got 'big'",
        cfg={"scenarios": [{"kind": "long_tail", "fraction": 0.1, "ratio": "big"}]},
    ),
    C(
        "falw-without-unseen",
        bench(),
        r"weighting 'falw' runs in no job of this grid: .*needs held-out data.*unseen part is empty.*unseen_fraction > 0",
        cfg={"unseen_fraction": 0, "methods": ["rl"], "method_options": {}, "weightings": ["falw"]},
    ),
    C(
        "trw-on-random",
        bench(),
        r"target 'trw' runs in no job of this grid: .*needs a class scenario",
        cfg={"methods": ["rl"], "method_options": {}, "targets": ["trw"]},
    ),
    C(
        "class-metric-without-a-class-scenario",
        bench(),
        r"metric 'mia_nn' can run in no job of this grid: it needs a forget set of whole classes \(a class scenario\); "
        r"use a scenario / dataset that has it, or leave this metric out",
        cfg={"metrics": ["accuracy", "mia_nn"]},
    ),
    C(
        "group-metric-without-a-group",
        bench(),
        r"metric 'fairness' can run in no job of this grid: it needs a binary dataset with a sensitive group",
        cfg={"metrics": ["accuracy", "fairness"]},
    ),
    C(
        "auto-without-held-out-data",
        bench(),
        r"ft on random\(fraction=0\.1\) \(digits\) would run with stop: auto, which compares D_f with held-out data, "
        r"but the split has none \(unseen_fraction 0\.0\); set unseen_fraction > 0",
        cfg={"unseen_fraction": 0},
    ),
    C(
        "soft-weights-without-a-group",
        bench(),
        r"weighting 'soft' runs in no job of this grid: weighting 'soft' corrects a binary classifier w\.r\.t\. a "
        r"sensitive group, but dataset 'digits' has 10 classes and no group; use a binary dataset with a group column "
        r"\(adult, compas, german\)",
        cfg={"methods": ["rl"], "method_options": {}, "weightings": ["soft"]},
    ),
    C(
        "falw-only-with-ssd",
        bench(),
        r"weighting 'falw' runs in no job of this grid: method 'ssd' cannot use weighting 'falw'",
        cfg={"methods": ["ssd"], "method_options": {}, "weightings": ["falw"]},
    ),
    C(
        "csv-missing-value",
        bench(),
        r"t\.csv has missing values in column\(s\) \['a'\] \(1 row\(s\), first at line 8\); fill them, or pass dropna=true",
        cfg={"datasets": TABLE},
        files={"t.csv": csv_text("")},
    ),
    C(
        "csv-text-in-numeric",
        bench(),
        r"column 'a' of t\.csv is numeric except for 'abc' \(line 8\).*categorical=\[a\]",
        cfg={"datasets": TABLE},
        files={"t.csv": csv_text("abc")},
    ),
    C(
        "csv-infinite",
        bench(),
        r"column 'a' of t\.csv holds an infinite value .* line 8",
        cfg={"datasets": TABLE},
        files={"t.csv": csv_text("inf")},
    ),
    C(
        "csv-label-absent",
        bench(),
        r"column 'z' not in the table",
        cfg={"datasets": [{"name": "tabular_csv", "options": {"path": CSV, "label": "z"}}]},
        files={"t.csv": csv_text(None)},
    ),
    C(
        "subset-too-large",
        bench(),
        r"subset=100000 is not in 1\.\.",
        cfg={"datasets": [{"name": "digits", "subset": 100000}]},
    ),
    C(
        "dataset-option-unknown",
        bench(),
        r"dataset 'digits' takes no option\(s\) \['foo'\]",
        cfg={"datasets": [{"name": "digits", "options": {"foo": 1}}]},
    ),
    C("tune-zero-trials", tune("--trials", "0"), r"trials must be a whole number ≥ 1"),
    C("tune-seeds-not-a-number", tune("--tuning-seeds", "0,x"), r"--tuning-seeds '0,x' is not a comma-separated list"),
    C("tune-seeds-negative", tune("--tuning-seeds", "-5"), r"--tuning-seeds '-5' is not a comma-separated list"),
    C("tune-nothing-to-tune", tune(), r"nothing to tune", cfg={"methods": ["retrain"], "method_options": {}}),
    C("tune-out-is-a-file", tune("--out", "{file}"), r"--out .* is an existing file"),
    C(
        "set-bad-yaml",
        unlearn("--scenario", "class", "--set", "classes=[3"),
        r"--set 'classes=\[3': the value '\[3' is not valid YAML",
    ),
    C(
        "set-kind",
        unlearn("--set", "kind=class"),
        r"--set kind=… is not a scenario option; choose the scenario with --scenario",
    ),
    C("set-empty-key", unlearn("--set", "=3"), r"--set '=3' must look like key=value"),
    C("set-no-equals", unlearn("--set", "fraction"), r"--set 'fraction' must look like key=value"),
    C(
        "set-class-float",
        unlearn("--scenario", "class", "--set", "classes=[3.7]"),
        r"classes must be whole numbers .*got \[3\.7\]",
    ),
    C("unlearn-seed-negative", unlearn("--seed", "-1"), r"every seed must be a whole number in 0\.\..*got -1"),
    C(
        "unlearn-trw-on-random",
        unlearn("--target", "trw", method="rl"),
        r"target 'trw' runs in no job of this grid: .*needs a class scenario",
    ),
    C("unlearn-option-bad", unlearn("--option", "lr=abc"), r"bad options for method 'ft': lr"),
    C("unlearn-ssd-falw", unlearn("--weighting", "falw", method="ssd"), r"method 'ssd' cannot use weighting 'falw'"),
]


def _fill(value, paths: dict):
    if isinstance(value, str):
        return value.format(**paths)
    if isinstance(value, list):
        return [_fill(v, paths) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, paths) for k, v in value.items()}
    return value


def snapshot(root: Path) -> dict:
    """Every file and folder under ``root``: path → (content hash, mtime) or 'dir'."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out


def readonly_dir(tmp_path: Path) -> str:
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root writes through permission bits
        if not Path("/sys").is_dir():
            pytest.skip("running as root without /sys: no unwritable directory to try")
        return "/sys"
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    return str(ro)


@pytest.mark.parametrize("argv, regex, changes, files", CLI_CASES)
def test_cli_rejects_bad_input(tmp_path, argv, regex, changes, files):
    from unlearnkit.bench.store import ResultStore

    paths = {
        "tmp": str(tmp_path),
        "cfg": str(tmp_path / "cfg.yaml"),
        "out": str(tmp_path / "out"),
        "cache": str(tmp_path / "cache"),
        "file": str(tmp_path / "afile.txt"),
    }
    if "{readonly}" in " ".join(argv):
        paths["readonly"] = readonly_dir(tmp_path)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(_fill({**TINY, **changes}, paths)))
    (tmp_path / "afile.txt").write_text("not a directory\n")
    ResultStore(tmp_path / "out").add("earlier-job", {"method": "ft", "FA": 1.0})
    for name, content in files.items():
        if isinstance(content, np.ndarray):
            np.save(tmp_path / name, content)
        else:
            (tmp_path / name).write_text(content)
    before = snapshot(tmp_path)
    res = CliRunner().invoke(app, _fill(argv, paths))
    text = " ".join(res.output.split())
    assert "Traceback" not in res.output, res.output
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (res.exit_code, repr(res.exception), text)
    assert re.search(regex, text, re.I), text
    assert snapshot(tmp_path) == before  # nothing written, nothing lost, nothing trained into the cache


# --- the library ---------------------------------------------------------------------------------
X4, P3, T1 = torch.randn(4, 2), np.arange(3), np.arange(3, 4)
BIG = uk.ArrayDataset(
    "big", torch.randn(3000, 64), torch.arange(3000) % 10, 10, pool=np.arange(2500), test=np.arange(2500, 3000)
)


def _check_split(ds, split):
    from unlearnkit.data.split import check_split

    check_split(ds, split)


def _check_model(model, ds):
    from unlearnkit.data.split import check_model

    check_model(model, ds)


def _tune(cfg, out, **kw):
    from unlearnkit.bench.tune import tune as run_tune

    run_tune(cfg, out, cache_dir=str(Path(out) / "cache"), **kw)


def _config(**changes):
    from unlearnkit.bench.config import make_config

    return make_config({**TINY, **changes})


def _expand(cfg, tmp):
    from unlearnkit.bench.job import expand

    expand(cfg, str(tmp / "cache"))


def L(id, regex, fn):
    return pytest.param(fn, regex, id=id)


LIB_CASES = [
    L(
        "class-forgets-every-class",
        r"class scenario asks to forget every class; keep at least one",
        lambda t, d: uk.make_split(d, "class", classes=list(range(10))),
    ),
    L(
        "subclass-two-classes",
        r"subclass forgets part of one class; got classes=\[1, 2\]",
        lambda t, d: uk.make_split(d, "subclass", classes=[1, 2]),
    ),
    L(
        "subclass-fraction-selects-nothing",
        r"fraction=0\.001 of class 1 \(\d+ samples\) gives 0",
        lambda t, d: uk.make_split(d, "subclass", classes=[1], fraction=0.001),
    ),
    L(
        "indices-both-and-neither",
        r"scenario 'indices' needs exactly one of indices=\[…\] or file=<path>",
        lambda t, d: uk.make_split(d, "indices", indices=[1], file="ids.txt"),
    ),
    L(
        "indices-file-missing",
        r"forget-index file '.*nope\.txt' not found",
        lambda t, d: uk.make_split(d, "indices", file=str(t / "nope.txt")),
    ),
    L(
        "unlearn-min-change-negative",
        r"min_change must be ≥ 0 \(a relative parameter change\), got -0\.1",
        lambda t, d: _rl_on_random(d, min_change=-0.1),
    ),
    L(
        "labels-fractional",
        r"labels must be whole class ids, got \[0\.5\]",
        lambda t, d: uk.ArrayDataset("t", X4, torch.tensor([0.0, 0.5, 1.0, 1.0]), 2, pool=P3, test=T1),
    ),
    L(
        "label-too-large",
        r"label\(s\) \[5\] outside 0\.\.2 \(num_classes=3\)",
        lambda t, d: uk.ArrayDataset("t", X4, torch.tensor([0, 1, 2, 5]), 3, pool=P3, test=T1),
    ),
    L(
        "label-negative",
        r"label\(s\) \[-1\] outside 0\.\.1",
        lambda t, d: uk.ArrayDataset("t", X4, torch.tensor([0, 1, -1, 1]), 2, pool=P3, test=T1),
    ),
    L(
        "label-bool",
        r"labels must be integer class ids, got dtype torch.bool",
        lambda t, d: uk.ArrayDataset("t", X4, torch.tensor([True, False, True, False]), 2, pool=P3, test=T1),
    ),
    L(
        "num-classes-one",
        r"num_classes must be a whole number ≥ 2",
        lambda t, d: uk.ArrayDataset("t", X4, torch.zeros(4, dtype=torch.long), 1, pool=P3, test=T1),
    ),
    L(
        "features-nan",
        r"1 sample\(s\) have NaN or infinite features \(first: index 2\)",
        lambda t, d: uk.ArrayDataset(
            "t",
            torch.tensor([[0.0, 1], [1, 2], [float("nan"), 0], [3, 3]]),
            torch.tensor([0, 1, 0, 1]),
            2,
            pool=P3,
            test=T1,
        ),
    ),
    L(
        "features-inf",
        r"NaN or infinite features \(first: index 0\)",
        lambda t, d: uk.ArrayDataset(
            "t",
            torch.tensor([[float("inf"), 1], [1, 2], [2, 0], [3, 3]]),
            torch.tensor([0, 1, 0, 1]),
            2,
            pool=P3,
            test=T1,
        ),
    ),
    L(
        "pool-out-of-range",
        r"pool indices must be in 0\.\.3",
        lambda t, d: uk.ArrayDataset("t", X4, torch.tensor([0, 1, 0, 1]), 2, pool=np.arange(5), test=T1),
    ),
    L(
        "torch-dataset-float-labels",
        r"labels must be whole class ids, got \[1\.5\]",
        lambda t, d: uk.from_torch_dataset(
            torch.utils.data.TensorDataset(X4, torch.tensor([0.0, 1.5, 1.0, 0.0])),
            torch.utils.data.TensorDataset(X4, torch.tensor([0.0, 1.0, 1.0, 0.0])),
        ),
    ),
    L(
        "torch-dataset-label-above-num-classes",
        r"label\(s\) \[3\] outside 0\.\.1",
        lambda t, d: uk.from_torch_dataset(
            torch.utils.data.TensorDataset(X4, torch.tensor([0, 1, 3, 0])),
            torch.utils.data.TensorDataset(X4, torch.tensor([0, 1, 1, 0])),
            num_classes=2,
        ),
    ),
    L(
        "split-class-float",
        r"classes must be whole numbers .*\[3\.7\]",
        lambda t, d: uk.make_split(d, "class", classes=[3.7]),
    ),
    L(
        "split-class-numpy-float",
        r"classes must be whole numbers .*\[3\.5\]",
        lambda t, d: uk.make_split(d, "class", classes=np.array([3.5])),
    ),
    L(
        "split-indices-float",
        r"indices must be whole numbers .*\[1\.5, 2\.9\]",
        lambda t, d: uk.make_split(d, "indices", indices=[1.5, 2.9]),
    ),
    L(
        "split-indices-npy-float",
        r"the indices in ids\.npy must be whole numbers",
        lambda t, d: (
            np.save(t / "ids.npy", np.array([4.2, 9.0])),
            uk.make_split(d, "indices", file=str(t / "ids.npy")),
        ),
    ),
    L(
        "split-seed-negative",
        r"seed must be a whole number in 0\.\.4294967295, got -1",
        lambda t, d: uk.make_split(d, "random", seed=-1),
    ),
    L("split-seed-float", r"seed must be a whole number .*got 0\.5", lambda t, d: uk.make_split(d, "random", seed=0.5)),
    L(
        "split-option-typo",
        r"scenario 'random': bad options .*it takes no option 'fracton'",
        lambda t, d: uk.make_split(d, "random", fracton=0.2),
    ),
    L(
        "split-fraction-text",
        r"fraction must be a number, got 'abc'",
        lambda t, d: uk.make_split(d, "random", fraction="abc"),
    ),
    L(
        "split-gamma-list",
        r"gamma must be a number, got \[1\]",
        lambda t, d: uk.make_split(d, "long_tail", profile="power", gamma=[1]),
    ),
    L(
        "split-float-indices",
        r"split\.train must be whole numbers .*\[0\.5\]",
        lambda t, d: uk.Split([0.5, 1, 2], [3], [], [1]),
    ),
    L(
        "split-from-another-dataset",
        r"split\.train holds index \d+ but dataset 'digits' has 1797 samples",
        lambda t, d: _check_split(d, uk.make_split(BIG, "random", seed=0)),
    ),
    L(
        "split-from-another-subset",
        r"split\.train holds \d+ indices outside dataset 'digits'.s training pool",
        lambda t, d: _check_split(uk.load_dataset("digits", subset=500), uk.make_split(d, "random")),
    ),
    L(
        "split-test-in-train",
        r"split\.test and split\.train share 1 indices",
        lambda t, d: _check_split(d, uk.Split(d.pool[:10], [int(d.pool[0])], [], d.pool[:2])),
    ),
    L(
        "split-purpose-typo",
        r"split purpose 'delete' is not 'deletion' or 'correction'",
        lambda t, d: uk.Split([0, 1, 2], [3], [], [1], purpose="delete"),
    ),
    L(
        "split-empty-forget",
        r"the forget set is empty; choose a scenario that selects at least one sample",
        lambda t, d: uk.Split([0, 1, 2], [3], [], []),
    ),
    L(
        "split-forget-outside-train",
        r"the forget set must be a subset of the training set",
        lambda t, d: uk.Split([0, 1, 2], [3], [], [3]),
    ),
    L(
        "split-forget-is-all-of-train",
        r"the forget set covers the whole training set; nothing would be retained",
        lambda t, d: uk.Split([0, 1, 2], [3], [], [2, 0, 1]),
    ),
    L(
        "split-text-indices",
        r"split\.forget must be whole numbers \(integer ids\), got \['1'\]",
        lambda t, d: uk.Split([0, 1, 2], [3], [], np.array(["1"], dtype=object)),
    ),
    L(
        "split-bool-indices",
        r"split\.forget must be whole numbers \(integer ids\), got \[True\]",
        lambda t, d: uk.Split([0, 1, 2], [3], [], np.array([True], dtype=object)),
    ),
    L(
        "split-unseen-in-train",
        r"split\.unseen and split\.train share 2 indices .*held-out samples must not be trained on",
        lambda t, d: _check_split(d, uk.Split(d.pool[:10], [], d.pool[8:12], d.pool[:2])),
    ),
    L(
        "split-unseen-outside-the-data",
        r"split\.unseen holds 1 indices outside dataset 'digits'.s training pool",
        lambda t, d: _check_split(
            uk.load_dataset("digits", subset=500),
            uk.Split(
                uk.load_dataset("digits", subset=500).pool[:10],
                [],
                [int(np.setdiff1d(np.arange(1797), uk.load_dataset("digits", subset=500).pool)[0])],
                uk.load_dataset("digits", subset=500).pool[:2],
            ),
        ),
    ),
    L(
        "model-output-size",
        r"the model outputs \(1, 5\) for one sample but dataset 'digits' has 10 classes",
        lambda t, d: _check_model(uk.build_model("mlp", d.input_shape, 5), d),
    ),
    L(
        "model-returns-a-tuple",
        r"the model returns a tuple, not a tensor of logits; unlearnkit needs forward\(x\) to return the logits alone, "
        r"shape \[batch, 10\]: wrap it",
        lambda t, d: _check_model(TupleOut(uk.build_model("mlp", d.input_shape, 10)), d),
    ),
    L(
        "model-outputs-probabilities",
        r"the model's outputs look like probabilities \(on 8 training samples every output is in \[0, 1\] and each row "
        r"sums to 1\): unlearnkit needs logits .* remove the final Softmax \(a final LogSoftmax is fine\)",
        lambda t, d: _rl_on_random(
            d, torch.nn.Sequential(uk.build_model("mlp", d.input_shape, 10), torch.nn.Softmax(dim=1))
        ),
    ),
    L(
        "model-float64-unlearn",
        r"the model's parameters are float64 but dataset 'digits' holds float32 inputs; convert the model with "
        r"model\.float\(\)",
        lambda t, d: _rl_on_random(d, uk.build_model("mlp", d.input_shape, 10).double()),
    ),
    L(
        "model-float64-train",
        r"the model's parameters are float64 but dataset 'digits' holds float32 inputs",
        lambda t, d: uk.train_model(
            uk.build_model("mlp", d.input_shape, 10).double(), d, d.pool, uk.TrainConfig(), torch.device("cpu")
        ),
    ),
    L(
        "model-torchscript-unlearn",
        r"the model is a TorchScript module .* pass the Python nn.Module it was made from",
        lambda t, d: _rl_on_random(d, torch.jit.script(uk.build_model("mlp", d.input_shape, 10))),
    ),
    L(
        "model-torchscript-train",
        r"the model is a TorchScript module",
        lambda t, d: uk.train_model(
            torch.jit.trace(uk.build_model("mlp", d.input_shape, 10), d.inputs(d.pool[:2])),
            d,
            d.pool,
            uk.TrainConfig(),
            torch.device("cpu"),
        ),
    ),
    L(
        "labels-one-hot",
        r"labels must have shape \[N\] \(one class id each\), got 4×2; these rows are one-hot: pass y\.argmax\(1\)",
        lambda t, d: uk.from_torch_dataset(
            torch.utils.data.TensorDataset(X4, torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 0]), 2)), None
        ),
    ),
    L(
        "labels-column",
        r"labels must have shape \[N\] .*got 4×1; pass y\.squeeze\(1\)",
        lambda t, d: uk.ArrayDataset("t", X4, torch.tensor([[0], [1], [1], [0]]), 2, pool=P3, test=T1),
    ),
    L(
        "labels-multi-label",
        r"got 4×2; pass one class id per sample \(multi-label",
        lambda t, d: uk.ArrayDataset("t", X4, torch.tensor([[0, 1], [1, 1], [1, 0], [0, 0]]), 2, pool=P3, test=T1),
    ),
    L(
        "cnn-on-grayscale-without-a-channel-axis",
        r"cnn needs image inputs \(C, H, W\); got shape \(8, 8\); for grayscale images add a channel axis",
        lambda t, d: uk.build_model("cnn", (8, 8), 10),
    ),
    L(
        "resnet18-on-channels-last-images",
        r"resnet18 reads inputs as \(C, H, W\) but \(32, 32, 3\) looks channels-last .*x\.transpose\(0, 3, 1, 2\)",
        lambda t, d: uk.build_model("resnet18", (32, 32, 3), 10),
    ),
    L(
        "cnn-on-tiny-images",
        r"cnn needs images of at least 4×4 pixels; got 3×3",
        lambda t, d: uk.build_model("cnn", (1, 3, 3), 10),
    ),
    L(
        "option-typo-nested",
        r"stopping\.patiense: Extra inputs are not permitted \(did you mean 'patience'\?\)",
        lambda t, d: _rl_on_random(d, options={"stopping": {"patiense": 2}}),
    ),
    L(
        "trw-on-a-random-split",
        r"target 'trw' needs a class scenario .*this split's D_f is not one; make the split with the 'class' scenario "
        r"\(make_split\(dataset, 'class'",
        lambda t, d: _rl_on_random(d, target="trw"),
    ),
    L(
        "falw-without-held-out-data",
        r"weighting 'falw' needs held-out data \(to estimate each class's μ_c, σ_c\), but the split's unseen part is "
        r"empty; make the split with unseen_fraction > 0",
        lambda t, d: _rl_on_random(d, unseen_fraction=0, weighting="falw"),
    ),
    L(
        "soft-without-a-group",
        r"weighting 'soft' corrects a binary classifier w\.r\.t\. a sensitive group, but dataset 'digits' has 10 "
        r"classes and no group",
        lambda t, d: _rl_on_random(d, weighting="soft"),
    ),
    L(
        "torch-dataset-triples",
        r"each training item must be a pair \(x, y\), got a tuple of 3 \(e\.g\. \(x, y, index\)\)",
        lambda t, d: uk.from_torch_dataset(torch.utils.data.TensorDataset(X4, torch.tensor([0, 1, 1, 0]), X4)),
    ),
    L(
        "torch-dataset-dict-inputs",
        r"each input x must be a tensor or array \(one per sample\), got builtins\.dict",
        lambda t, d: uk.from_torch_dataset([({"a": torch.zeros(2)}, 0), ({"a": torch.ones(2)}, 1)]),
    ),
    L(
        "torch-dataset-ragged-inputs",
        r"the training inputs differ in shape \(\[2\] at entry 0 and \[3\] at entry 1\); pad, crop or resize",
        lambda t, d: uk.from_torch_dataset([(torch.zeros(2), 0), (torch.zeros(3), 1)]),
    ),
    L(
        "model-input-shape",
        r"the model cannot take the inputs of dataset 'digits' \(shape \(1, 8, 8\)",
        lambda t, d: _check_model(torch.nn.Linear(32, 10), d),
    ),
    L(
        "csv-missing-value",
        r"missing values in column\(s\) \['a'\].*dropna=true",
        lambda t, d: (
            (t / "t.csv").write_text(csv_text("")),
            uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y"),
        ),
    ),
    L(
        "csv-text-cell",
        r"column 'a' of t\.csv is numeric except for 'x7'",
        lambda t, d: (
            (t / "t.csv").write_text(csv_text("x7")),
            uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y"),
        ),
    ),
    L(
        "csv-empty-file",
        r"t\.csv is not a readable CSV",
        lambda t, d: ((t / "t.csv").write_text(""), uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y")),
    ),
    L(
        "csv-no-label-option",
        r"tabular_csv needs options path=<file.csv> and label=<column>",
        lambda t, d: uk.load_dataset("tabular_csv", path=str(t / "t.csv")),
    ),
    L(
        "csv-dropna-text",
        r"tabular_csv option dropna must be true or false, got 'yes'",
        lambda t, d: uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y", dropna="yes"),
    ),
    L(
        "csv-missing-file",
        r"CSV file '.*nope.csv' not found; give an existing path \(or one under --data-dir\)",
        lambda t, d: uk.load_dataset("tabular_csv", path=str(t / "nope.csv"), label="y"),
    ),
    L(
        "csv-header-only",
        r"table for 't' has no rows",
        lambda t, d: (
            (t / "t.csv").write_text("a,y\n"),
            uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y"),
        ),
    ),
    L(
        "csv-one-class",
        r"label column 'y' has a single value \[1\]; need at least 2 classes",
        lambda t, d: (
            (t / "t.csv").write_text("a,y\n1,1\n2,1\n3,1\n"),
            uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y"),
        ),
    ),
    L(
        "csv-group-three-values",
        r"group column 'g' must have 2 values, found \['a', 'b', 'c'\]",
        lambda t, d: (
            (t / "t.csv").write_text("a,g,y\n1,a,0\n2,b,1\n3,c,0\n4,a,1\n"),
            uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y", group="g"),
        ),
    ),
    L(
        "csv-categorical-not-a-column",
        r"categorical column 'zip' not in t\.csv; columns are: \['a', 'y'\]",
        lambda t, d: (
            (t / "t.csv").write_text("a,y\n1,0\n2,1\n"),
            uk.load_dataset("tabular_csv", path=str(t / "t.csv"), label="y", categorical=["zip"]),
        ),
    ),
    L("subset-float", r"subset=2\.5 is not in 1\.\.", lambda t, d: uk.load_dataset("digits", subset=2.5)),
    L("config-seed-negative", r"every seed must be a whole number in 0\.\..*got -3", lambda t, d: _config(seeds=[-3])),
    L(
        "config-options-not-in-grid",
        r"method_options has options for 'rl', which is not in methods",
        lambda t, d: _config(method_options={"rl": {}}),
    ),
    L(
        "expand-falw-without-unseen",
        r"weighting 'falw' runs in no job of this grid",
        lambda t, d: _expand(_config(unseen_fraction=0, methods=["rl"], method_options={}, weightings=["falw"]), t),
    ),
    L(
        "expand-trw-on-long-tail",
        r"target 'trw' runs in no job of this grid",
        lambda t, d: _expand(
            _config(
                methods=["rl"], method_options={}, targets=["trw"], scenarios=[{"kind": "long_tail", "fraction": 0.1}]
            ),
            t,
        ),
    ),
    L(
        "expand-trw-on-subclass",
        r"target 'trw' runs in no job of this grid",
        lambda t, d: _expand(
            _config(
                methods=["rl"], method_options={}, targets=["trw"], scenarios=[{"kind": "subclass", "classes": [3]}]
            ),
            t,
        ),
    ),
    L(
        "auto-lr-factor-zero",
        r"bad options for method 'rl': stopping\.lr_factors\.0: Input should be greater than 0",
        lambda t, d: _rl_on_random(d, options={"stopping": {"lr_factors": [0]}}, device="cpu"),
    ),
    L("tune-zero-trials", r"trials must be a whole number ≥ 1", lambda t, d: _tune(_config(), t / "out", trials=0)),
    L("tune-seeds-empty", r"tuning seeds are empty", lambda t, d: _tune(_config(), t / "out", tuning_seeds=[])),
    L(
        "tune-seed-negative",
        r"every tuning seed must be a whole number",
        lambda t, d: _tune(_config(), t / "out", tuning_seeds=[-1]),
    ),
]


@pytest.mark.parametrize("fn, regex", LIB_CASES)
def test_library_rejects_bad_input(tmp_path, digits, fn, regex):
    with pytest.raises(UnlearnkitError) as err:
        fn(tmp_path, digits)
    assert re.search(regex, " ".join(str(err.value).split()), re.I), str(err.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # nothing written, nothing trained


# --- what is accepted, and what the grid says it replaced ----------------------------------------
def test_replaced_combinations_are_all_listed_in_skipped(tmp_path):
    """ssd × falw (a method with no per-sample loss) runs as plain ssd and is listed, like ft × trw;
    rl × falw runs as asked. Nothing is replaced silently."""
    from unlearnkit.bench.job import expand

    cfg = _config(methods=["ssd", "rl"], method_options={}, weightings=["uniform", "falw"], include_original=False)
    grid = expand(cfg, str(tmp_path / "cache"))
    runs = sorted((s["method"]["name"], s["weighting"]["name"]) for s in grid.specs)
    assert runs == [("rl", "falw"), ("rl", "uniform"), ("ssd", "uniform")]
    assert [s.split(":")[0] for s in grid.skipped] == ["ssd × falw × none"]
    assert "method 'ssd' cannot use weighting 'falw'" in grid.skipped[0]


def test_scenario_needs_replace_per_scenario_and_are_listed(tmp_path):
    """trw on a grid of a class and a random scenario: it runs on the class one, the random one runs
    plain and says why; falw with no unseen split is the same per scenario."""
    from unlearnkit.bench.job import expand

    cfg = _config(
        methods=["rl"],
        method_options={},
        targets=["none", "trw"],
        include_original=False,
        scenarios=[{"kind": "class", "classes": [3]}, {"kind": "random", "fraction": 0.1}],
    )
    grid = expand(cfg, str(tmp_path / "cache"))
    runs = sorted((s["scenario_label"], s["target"]["name"]) for s in grid.specs)
    assert runs == [("class(classes=[3])", "none"), ("class(classes=[3])", "trw"), ("random(fraction=0.1)", "none")]
    assert len(grid.skipped) == 1 and grid.skipped[0].startswith(
        "rl × uniform × trw on random(fraction=0.1): target 'trw' needs a class scenario"
    )


def test_tuned_options_keyed_by_label_are_applied(tmp_path):
    """tune writes tuned.yaml by label; bench --options reads them back for that entry (not ignored)."""
    from unlearnkit.bench.config import load_config
    from unlearnkit.bench.job import expand

    cfg_path, opts = tmp_path / "cfg.yaml", tmp_path / "tuned.yaml"
    cfg_path.write_text(yaml.safe_dump({**TINY, "methods": ["ft", {"name": "ft", "label": "ft_long"}]}))
    opts.write_text(yaml.safe_dump({"method_options": {"ft_long": {"epochs": 3}}}))
    grid = expand(load_config(path=cfg_path, options_file=opts), str(tmp_path / "cache"))
    epochs = {s["method"]["label"] or s["method"]["name"]: s["method"]["options"].get("epochs") for s in grid.specs}
    assert epochs == {"original": None, "ft": 1, "ft_long": 3}


def test_good_inputs_still_pass(tmp_path, digits):
    """The checks refuse only what is wrong: whole-number floats (3.0), integer .npy files, a valid
    split and model, a CSV whose gaps are dropped on request or whose mixed column is categorical."""
    from unlearnkit.data.split import check_model, check_split

    assert uk.make_split(digits, "class", classes=[3.0]).info["forget_classes"] == [3]
    np.save(tmp_path / "ids.npy", np.array([int(digits.pool[0]), int(digits.pool[5])]))
    assert len(uk.make_split(digits, "indices", file=str(tmp_path / "ids.npy")).forget) == 2
    split = uk.make_split(digits, "random", seed=1)
    check_split(digits, split)
    model = uk.build_model("mlp", digits.input_shape, digits.num_classes).train()
    check_model(model, digits)
    assert model.training  # mode restored
    check_model(torch.nn.Sequential(model, torch.nn.LogSoftmax(dim=1)), digits)  # log-probabilities read as logits
    from unlearnkit.data.split import looks_like_probabilities

    p = torch.tensor([[0.2, 0.8], [0.5, 0.5]])
    assert looks_like_probabilities(p) and not looks_like_probabilities(p * 0.9)  # rows must sum to 1
    assert not looks_like_probabilities(torch.tensor([[1.2, -0.2], [0.5, 0.5]]))  # and lie in [0, 1]
    (tmp_path / "t.csv").write_text(csv_text(""))
    assert len(uk.load_dataset("tabular_csv", path=str(tmp_path / "t.csv"), label="y", dropna=True)) == 59
    (tmp_path / "t.csv").write_text(csv_text("abc"))
    ds = uk.load_dataset("tabular_csv", path=str(tmp_path / "t.csv"), label="y", categorical=["a"])
    assert "a_abc" in ds.extra["feature_names"] and len(ds) == 60
    ds = uk.ArrayDataset("t", X4, torch.tensor([0.0, 1.0, 1.0, 0.0]), 2, pool=P3, test=T1)  # integral floats
    assert ds.y.dtype == torch.long and ds.y.tolist() == [0, 1, 1, 0]


def test_a_model_that_has_not_learnt_the_data_as_fed_warns(digits, tmp_path):
    """Class ids in another order than the model was trained on (its head's rows rotated): θ_o is right on none of
    its training samples, and the call says what to check; the same model with its rows in place does not warn."""
    import copy

    from unlearnkit.data.split import fit_warning

    split = uk.make_split(digits, "random", seed=0, fraction=0.1)
    torch.manual_seed(0)
    model = uk.train_model(
        uk.build_model("mlp", digits.input_shape, 10),
        digits,
        split.train,
        uk.TrainConfig(epochs=5),
        torch.device("cpu"),
    )
    assert fit_warning(model, digits, split) is None
    rotated = copy.deepcopy(model)
    order = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 0])
    with torch.no_grad():
        rotated.head.weight.copy_(model.head.weight[order])
        rotated.head.bias.copy_(model.head.bias[order])
    said = fit_warning(rotated, digits, split)
    assert said is not None and "is right on only 0.0 % of 512 samples of its own training data (D_r)" in said
    assert "the same class ids in the same order" in said
    one = copy.deepcopy(model)
    with torch.no_grad():
        one.head.weight.zero_()
        one.head.bias.copy_(torch.arange(10.0))  # always class 9
    assert "predicts class 9 for all 512 samples" in fit_warning(one, digits, split)
    two = uk.make_split(digits, "class", seed=0, classes=[c for c in range(10) if c != 4])  # D_r: class 4 alone
    assert fit_warning(one, digits, two) is None  # one class left: no majority to beat, no warning
    with pytest.warns(RuntimeWarning, match=r"method 'ga': θ_o is right on only 0.0 %"):
        uk.unlearn(rotated, digits, split, "ga", options={"epochs": 1}, stop="none", device="cpu")


def _npz(tmp_path, **arrays):
    np.savez(tmp_path / "d.npz", **arrays)
    return {"path": str(tmp_path / "d.npz")}


NPZ_X = np.arange(12, dtype=np.uint8).reshape(4, 3)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: {}, r"dataset 'npz' needs path=<file.npz>"),
        (lambda t: {"path": str(t / "missing.npz")}, r"npz file '.*missing.npz' not found"),
        (lambda t: _npz(t, x_train=NPZ_X), r"d.npz lacks \['y_train'\]; it holds \['x_train'\]"),
        (lambda t: _npz(t, x_train=NPZ_X, y_train=np.zeros(4, int), x_test=NPZ_X), r"give both x_test and y_test"),
        (lambda t: _npz(t, x_train=NPZ_X, y_train=np.zeros((4, 1), int)), r"labels must be a 1-d array.*\[4, 1\]"),
        (lambda t: _npz(t, x_train=NPZ_X, y_train=np.array([0, 1, 0.5, 1])), r"labels must be integers 0..C-1"),
        (lambda t: _npz(t, x_train=NPZ_X, y_train=np.array([0, 1, -1, 1])), r"labels must be ≥ 0.*found -1"),
        (lambda t: _npz(t, x_train=NPZ_X, y_train=np.zeros(3, int)), r"4 x_train rows but 3 y_train labels"),
        (
            lambda t: _npz(t, x_train=NPZ_X, y_train=np.zeros(4, int), x_test=NPZ_X[:, :2], y_test=np.zeros(4, int)),
            r"x_train samples are \[3\] but x_test \[2\]",
        ),
        (lambda t: _npz(t, x_train=np.array(["a", "b"]), y_train=np.zeros(2, int)), r"x_train must be numeric"),
        (
            lambda t: {**_npz(t, x_train=NPZ_X, y_train=np.array([0, 1, 2, 3])), "num_classes": 3},
            r"label 3 ≥ num_classes=3",
        ),
    ],
)
def test_a_bad_npz_file_is_one_error_naming_the_problem(tmp_path, make, message):
    """Every way an .npz can be wrong is refused before anything else, with what is wrong and how to write it."""
    with pytest.raises(uk.UnlearnkitError, match=message):
        uk.load_dataset("npz", **make(tmp_path))


def test_whole_float_labels_in_an_npz_read_as_class_indices(tmp_path):
    ds = uk.load_dataset("npz", **_npz(tmp_path, x_train=NPZ_X, y_train=np.array([0.0, 1.0, 2.0, 1.0])))
    assert ds.labels.tolist() == [0, 1, 2, 1] and ds.num_classes == 3


def _folder(tmp_path, rows: str, sizes=((5, 5),) * 3):
    from PIL import Image

    for i, s in enumerate(sizes):
        Image.fromarray(np.full(s, 40 * i, np.uint8)).save(tmp_path / f"im{i}.png")
    (tmp_path / "junk.png").write_text("not an image")
    if rows is not None:
        (tmp_path / "labels.csv").write_text(rows)
    return {"path": str(tmp_path)}


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: {}, r"dataset 'image_folder' needs path=<folder>"),
        (lambda t: {"path": str(t / "nowhere")}, r"image folder '.*nowhere' not found"),
        (lambda t: _folder(t, None), r"labels CSV '.*labels.csv' not found; write one with columns file,label"),
        (lambda t: {**_folder(t, "file,label\nim0.png,0\n"), "mode": "CMYK"}, r"mode 'CMYK': use auto, L or RGB"),
        (lambda t: _folder(t, "file,class\nim0.png,0\n"), r"labels.csv lacks a 'label' column"),
        (lambda t: _folder(t, "file,label\n"), r"labels.csv has no rows"),
        (lambda t: _folder(t, "file,label\nim0.png,0\nim9.png,1\n"), r"lists 'im9.png' but .* does not exist"),
        (lambda t: _folder(t, "file,label\nim0.png,0\njunk.png,1\n"), r"junk.png is not an image Pillow can read"),
        (
            lambda t: _folder(t, "file,label\nim0.png,0\nim1.png,1\n", sizes=((5, 5), (4, 5))),
            r"images differ in size \('im0.png' is \[5, 5\], 'im1.png' is \[4, 5\]\); pass size=\[H,W\]",
        ),
        (lambda t: _folder(t, "file,label,split\nim0.png,0,train\nim1.png,1,val\n"), r"found \['val'\]"),
        (lambda t: _folder(t, "file,label,split\nim0.png,0,test\nim1.png,1,test\n"), r"no training rows"),
        (lambda t: _folder(t, "file,label\nim0.png,0\nim1.png,-2\n"), r"labels must be ≥ 0.*found -2"),
    ],
)
def test_a_bad_image_folder_is_one_error_naming_the_problem(tmp_path, make, message):
    with pytest.raises(uk.UnlearnkitError, match=message):
        uk.load_dataset("image_folder", **make(tmp_path))


def _write(t: Path, name: str, content) -> Path:
    p = t / name
    if isinstance(content, (str, bytes)):
        (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    elif name.endswith(".npy"):
        np.save(p, content)
    else:
        torch.save(content, p)
    return p


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("absent.pt", None, r"checkpoint '.*absent.pt' not found; pass the path of a .safetensors or .pt"),
        ("w.ckpt", "x", r"unknown weights format '.ckpt'; use one of .safetensors, .pt, .pth, .bin"),
        ("w.safetensors", b"\x00garbage", r"'w.safetensors' is not a valid safetensors file"),
        (
            "w.pt",
            b"not a torch file",
            r"'w.pt' could not be read as a torch file \(neither a zip archive nor a pickle\)",
        ),
        ("w.pt", b"", r"'w.pt' could not be read as a torch file"),
        ("w.pt", torch.nn.Linear(2, 2), r"refused to load 'w.pt'.*\(it refers to torch.nn.modules.linear.Linear\)"),
        ("w.pt", {}, r"'w.pt' holds dict, not a state dict of tensors; save model.state_dict\(\)"),
        ("w.pt", {"fc.weight": torch.zeros(2), "epoch": 3}, r"a dict with non-tensor entries \(epoch\)"),
        ("w.pt", [torch.zeros(2)], r"'w.pt' holds list, not a state dict"),
    ],
)
def test_a_bad_weights_file_is_one_error_naming_the_fix(tmp_path, name, content, message):
    from unlearnkit.checkpoint import load_state

    path = tmp_path / name if content is None else _write(tmp_path, name, content)
    with pytest.raises(uk.UnlearnkitError, match=message):
        load_state(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", r"model.json is not valid JSON .*; delete it and pass --arch"),
        (
            '{"format": "unlearnkit-checkpoint", "format_version": 1, "num_classes": "ten"}',
            r"model.json is not a valid unlearnkit checkpoint description \(.*num_classes",
        ),
    ],
)
def test_a_bad_checkpoint_description_is_one_error(tmp_path, text, message):
    from unlearnkit.checkpoint import read_meta

    (tmp_path / "model.json").write_text(text)
    with pytest.raises(uk.UnlearnkitError, match=message):
        read_meta(tmp_path / "model.safetensors")


def test_a_json_that_is_not_ours_beside_the_weights_is_ignored(tmp_path):
    from unlearnkit.checkpoint import read_meta

    (tmp_path / "model.json").write_text('{"epochs": 3}')  # another tool's file: --arch is then required
    assert read_meta(tmp_path / "model.safetensors") is None


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("ids.npy", np.array([1.5, 2.0]), r"--forget ids.npy: expected an integer array, got float64"),
        ("ids.txt", "3\n\n# a comment\n4 # the last\nfive\n", r"ids.txt line 5: 'five' is not an integer"),
    ],
)
def test_a_bad_ids_file_is_one_error(tmp_path, name, content, message):
    from unlearnkit.checkpoint import read_ids

    with pytest.raises(uk.UnlearnkitError, match=message):
        read_ids(_write(tmp_path, name, content))
    assert read_ids(_write(tmp_path, "ok.npy", np.array([[3], [4]]))).tolist() == [3, 4]  # an int array, flattened
    assert read_ids(_write(tmp_path, "ok.txt", "3\n\n# a comment\n4 # the last\n")).tolist() == [3, 4]
    with pytest.raises(uk.UnlearnkitError, match=r"--holdout file '.*none.txt' not found"):
        read_ids(tmp_path / "none.txt", "--holdout")


@pytest.mark.parametrize(
    "where, message",
    [
        ("class=3", r"--forget-where 'class=3': only label=<class>\[,<class>…\] is supported"),
        ("label", r"only label=<class>"),
        ("label=three", r"'three' is not a class index$"),
        ("label=3,12", r"class\(es\) \[12\] out of range 0..9"),
    ],
)
def test_a_bad_forget_where_is_one_error(digits, where, message):
    from unlearnkit.checkpoint import select_where

    with pytest.raises(uk.UnlearnkitError, match=message):
        select_where(digits, digits.pool, where)


def test_forget_where_selects_the_training_samples_of_the_classes(digits):
    from unlearnkit.checkpoint import select_where

    train = digits.pool[::2]
    got = select_where(digits, train, "label = 3, 5".replace("label ", "label"))
    assert got.tolist() == train[np.isin(digits.labels[train], [3, 5])].tolist() and len(got) > 0
