import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from unlearnkit.bench.config import load_config
from unlearnkit.bench.runner import run_bench
from unlearnkit.bench.columns import required_columns
from unlearnkit.cli import app

TINY = {
    "datasets": ["digits"],
    "model": "mlp",
    "train": {"epochs": 8, "lr": 0.05},
    "scenarios": [{"kind": "random", "fraction": 0.1}],
    "methods": ["retrain", "ft", "ga"],
    "method_options": {"ft": {"epochs": 1}, "ga": {"epochs": 1}},
    "seeds": [0],
    "metrics": ["accuracy", "mia_efficacy"],
}


def write_cfg(tmp_path, **changes) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump({**TINY, **changes}))
    return p


def test_cli_bench_end_to_end(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "bench",
            "--config",
            str(write_cfg(tmp_path)),
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns[: len(required_columns())]) == required_columns()
    assert sorted(df["method"]) == ["ft", "ga", "original", "retrain"]
    r = df.set_index("method")
    assert r.loc["retrain", "avg_gap"] == pytest.approx(0.0)
    assert r.loc["original", "FA"] == pytest.approx(100.0, abs=1)
    assert (df[["FA", "RA", "TA", "MIA"]] >= 0).all().all() and (df[["FA", "RA", "TA", "MIA"]] <= 100).all().all()
    assert "Avg.Gap" in res.output and "retrain" in res.output
    assert (out / "results.db").exists()


def test_second_run_trains_nothing_and_skips_done_jobs(tmp_path):
    cfg = load_config(path=write_cfg(tmp_path, seeds=[0, 1]))
    first = run_bench(cfg, tmp_path / "a", cache_dir=tmp_path / "cache", quiet=True)
    assert first.trained == 6 and first.ran == 8  # θ_o, θ_r, θ_r′ (noise floor) per seed; 4 methods (+original)
    again = run_bench(cfg, tmp_path / "b", cache_dir=tmp_path / "cache", quiet=True)
    assert again.trained == 0 and again.reused == 6 and again.ran == 8
    resumed = run_bench(cfg, tmp_path / "b", cache_dir=tmp_path / "cache", quiet=True)
    assert resumed.ran == 0 and resumed.skipped_done == 8
    a, b = pd.read_csv(tmp_path / "a" / "results.csv"), pd.read_csv(tmp_path / "b" / "results.csv")
    assert a["FA"].tolist() == b["FA"].tolist() and a["avg_gap"].tolist() == b["avg_gap"].tolist()


def count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_bench_resumes_without_duplicates(tmp_path):
    cfg = write_cfg(
        tmp_path,
        seeds=[0, 1, 2, 3],
        methods=["ft", "ga", "rl", "neggrad_plus"],
        method_options={m: {"epochs": 3} for m in ["ft", "ga", "rl", "neggrad_plus"]},
    )
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "unlearnkit.cli",
        "bench",
        "--config",
        str(cfg),
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--quiet",
        "--no-report",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while count_rows(out / "results.db") < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = count_rows(out / "results.db")
    assert 0 < partial < 20, "the bench should have been killed mid-grid"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 20  # 5 methods (original + 4) × 4 seeds
    assert not df.duplicated(["method", "seed"]).any()
    assert count_rows(out / "results.db") == 20


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"methods": ["gaa"]}, "unknown method 'gaa'; known: .*ga"),
        ({"scenarios": [{"kind": "class", "classes": [11]}]}, "not in the training data"),
        ({"scenarios": [{"kind": "long_tail", "fraction": 0.1, "ratio": 0.5}]}, "ratio must be ≥ 1"),
        ({"scenarios": [{"kind": "random", "fraction": 0.0001}]}, "selects nothing"),
        ({"datasets": ["fashion_mnist"]}, "no data found for 'fashion-mnist'"),
        ({"method_options": {"ga": {"lrr": 0.1}}}, "bad options for method 'ga'"),
        ({"methods": []}, "methods is empty"),
        ({"metrics": ["accuracy", "mia"]}, "unknown metric 'mia'"),
    ],
)
def test_cli_errors_exit_2_with_one_message(tmp_path, monkeypatch, changes, needle):
    monkeypatch.setenv("UNLEARNKIT_DATA", str(tmp_path / "nodata"))
    res = CliRunner().invoke(
        app,
        [
            "bench",
            "--config",
            str(write_cfg(tmp_path, **changes)),
            "--out",
            str(tmp_path / "run"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ],
    )
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert re.search(needle, " ".join(res.output.split())), res.output
    assert not (tmp_path / "run" / "results.csv").exists()  # rejected before any work


def test_cli_error_in_a_real_process_has_no_traceback(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "unlearnkit.cli", "bench", "--preset", "nosuch", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "unknown preset 'nosuch'; known: " in res.stderr


def test_failed_job_keeps_finished_rows(tmp_path):
    cfg = load_config(
        path=write_cfg(
            tmp_path,
            methods=["ft", "ga"],
            method_options={"ft": {"epochs": 1}, "ga": {"lr": 50.0, "epochs": 30, "momentum": 0.0, "stop": "none"}},
        )
    )
    outcome = run_bench(cfg, tmp_path / "run", cache_dir=tmp_path / "cache", quiet=True)
    assert len(outcome.failed) == 1 and "diverged at step" in outcome.failed[0][1]
    df = pd.read_csv(tmp_path / "run" / "results.csv")
    assert sorted(df["method"]) == ["ft", "original"]


def test_list_prints_registries():
    res = CliRunner().invoke(app, ["list"])
    assert res.exit_code == 0
    for word in ["digits", "long_tail", "resnet18", "neggrad_plus", "uniform", "random_label", "mia_efficacy", "quick"]:
        assert word in res.output


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["quick", "baselines"])
def test_preset_defaults_beat_the_untouched_original(tmp_path, preset):
    """The README's main command, and the project's yardstick: on each preset scenario, every method's
    mean Avg.Gap to retrain (3 seeds) is below the untouched original's."""
    res = CliRunner().invoke(
        app,
        [
            "bench",
            "--preset",
            preset,
            "--out",
            str(tmp_path / "run"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "run" / "results.csv")
    gaps = df.groupby(["scenario", "method"])["avg_gap"].mean().unstack()
    for scenario, row in gaps.iterrows():
        losers = row.drop(["original", "retrain"])[lambda r: r >= row["original"]]
        assert losers.empty, f"{scenario}: {dict(losers)} do not beat the original ({row['original']:.2f})"


def test_cli_unlearn_a_deletion_request_and_save(tmp_path):
    import json

    from safetensors.torch import load_file

    import unlearnkit as uk

    ids = uk.load_dataset("digits").pool[:30]
    (tmp_path / "ids.txt").write_text("\n".join(map(str, ids)))
    out = tmp_path / "model" / "unlearned"
    res = CliRunner().invoke(
        app,
        [
            "unlearn",
            "--method",
            "rl",
            "--scenario",
            "indices",
            "--set",
            f"file={tmp_path / 'ids.txt'}",
            "--option",
            "epochs=2",
            "--train-from",
            "quick",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--save",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Avg.Gap to retrain" in res.output and "|D_f| = 30" in res.output
    meta = json.loads(out.with_suffix(".json").read_text())
    assert sorted(meta["split"]["forget"]) == sorted(ids.tolist())
    state = load_file(str(out.with_suffix(".safetensors")))
    model = uk.build_model("mlp", (1, 8, 8), 10)
    model.load_state_dict(state)  # a loadable checkpoint of the architecture
    bad = CliRunner().invoke(app, ["unlearn", "--method", "ft", "--target", "trw", "--cache-dir", str(tmp_path / "c")])
    assert bad.exit_code == 2 and "cannot apply" in bad.output


def test_cli_label_smoothing_sets_the_train_config_or_fails_with_one_message(tmp_path):
    from unlearnkit.bench.config import load_config
    from unlearnkit.cli import _train_settings

    train = load_config("quick").train
    assert _train_settings(train, None) is train
    smoothed = _train_settings(train, 0.1)
    assert smoothed.label_smoothing == 0.1 and smoothed.model_dump(exclude={"label_smoothing"}) == train.model_dump(
        exclude={"label_smoothing"}
    )
    bad = CliRunner().invoke(
        app, ["unlearn", "--method", "ft", "--label-smoothing", "1.5", "--cache-dir", str(tmp_path / "c")]
    )
    assert bad.exit_code == 2 and "--label-smoothing" in bad.output and "label_smoothing" in bad.output
    assert not (tmp_path / "c").exists()  # refused before anything was trained


def test_metric_left_out_where_its_data_needs_are_not_met(tmp_path):
    """mia_nn needs a class scenario: on a grid of a class and a random scenario its columns are filled on the
    class one and empty on the random one, which says why (and the random jobs do not fail)."""
    cfg = load_config(
        path=write_cfg(
            tmp_path,
            scenarios=[{"kind": "class", "classes": [3]}, {"kind": "random", "fraction": 0.1}],
            methods=["ft"],
            method_options={"ft": {"epochs": 1}},
            metrics=["accuracy", "mia_nn"],
            metric_options={"mia_nn": {"R": 3}},
            stop="none",
        )
    )
    outcome = run_bench(cfg, tmp_path / "run", cache_dir=tmp_path / "cache", quiet=True)
    assert not outcome.failed
    assert outcome.unmet_metrics == [
        "metric 'mia_nn' on random(fraction=0.1) (digits): it needs a forget set of whole classes (a class "
        "scenario); its columns are empty there"
    ]
    df = pd.read_csv(tmp_path / "run" / "results.csv").set_index(["scenario", "method"])
    assert df.loc[("class(classes=[3])", "ft"), "MIA_NN_div"] >= 0
    assert np.isnan(df.loc[("random(fraction=0.1)", "ft"), "MIA_NN_div"])
    assert df.loc[("random(fraction=0.1)", "ft"), "FA"] >= 0
    from unlearnkit.bench.report import write_report

    md = " ".join(write_report(tmp_path / "run")["md"].read_text().split())
    assert "metric 'mia\\_nn' on random(fraction=0.1) (digits): it needs a forget set of whole classes" in md
