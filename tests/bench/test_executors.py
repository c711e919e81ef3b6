"""Executors give identical rows; interrupted grids resume; tune; report files."""

import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from unlearnkit.bench.columns import machine_columns
from unlearnkit.bench.config import load_config
from unlearnkit.bench.report import pareto_front, write_report
from unlearnkit.bench.runner import run_bench

from test_bench import count_rows, write_cfg

TIMING = machine_columns()  # wall times and memory: they depend on the machine, not the job


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=TIMING).sort_values(["method", "seed"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def tiny_cfg(tmp_path_factory):
    d = tmp_path_factory.mktemp("cfg")
    return load_config(
        path=write_cfg(
            d, seeds=[0, 1], methods=["retrain", "ga", "rl"], method_options={"ga": {"epochs": 1}, "rl": {"epochs": 1}}
        )
    )


def _where(spec: dict) -> dict:
    """A job for the executor tests: which process ran it, with how many torch threads."""
    import os

    import torch

    time.sleep(spec.get("sleep", 0.0))
    if spec.get("fail"):
        raise ValueError(f"job {spec['i']} fails on purpose")
    return {"i": spec["i"], "pid": os.getpid(), "threads": torch.get_num_threads()}


def _collect(ex, specs):
    got: dict[int, tuple] = {}

    def on_done(spec, result, error):
        assert spec["i"] not in got, f"job {spec['i']} reported twice"
        got[spec["i"]] = (result, error)

    ex.run(_where, specs, on_done)
    return got


def test_pool_shares_the_jobs_with_this_process_once_warm():
    import os

    from unlearnkit.bench.executor import LocalExecutor

    with LocalExecutor(jobs=2, threads=1) as ex:
        ex.start()
        deadline = time.time() + 120
        while not ex.ready() and time.time() < deadline:
            time.sleep(0.1)
        assert ex.ready() == 1
        specs = [{"i": i, "sleep": 0.3, "fail": i == 5} for i in range(8)]
        got = _collect(ex, specs)
        assert sorted(got) == list(range(8))
        assert isinstance(got[5][1], ValueError) and got[5][0] is None  # a failing job is reported, not raised
        ok = [r for i, (r, e) in got.items() if i != 5]
        assert {r["i"] for r in ok} == set(range(8)) - {5} and all(e is None for i, (r, e) in got.items() if i != 5)
        pids = {r["pid"] for r in ok}
        assert os.getpid() in pids and len(pids) == 2  # this process and the one worker both ran jobs
        assert {r["threads"] for r in ok} == {1}  # the same thread count wherever a job runs
        again = _collect(ex, [{"i": i} for i in range(4)])  # the same (warm) pool serves a second phase
        assert sorted(again) == list(range(4))


def _gated_warm(gate: str) -> int:
    """A pool warm-up that cannot finish before the test creates ``gate``: a worker still starting up,
    however fast ``fork`` is on this machine."""
    import os

    deadline = time.time() + 60
    while not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.01)
    return os.getpid()


def test_jobs_do_not_wait_for_workers_that_are_still_starting(tmp_path, monkeypatch):
    """A run on a pool whose worker is still starting finishes in this process (never slower than
    --jobs 1), and the worker takes jobs once it is ready."""
    import functools
    import os

    from unlearnkit.bench import executor
    from unlearnkit.bench.executor import LocalExecutor

    gate = tmp_path / "worker-may-start"
    monkeypatch.setattr(executor, "_warm", functools.partial(_gated_warm, str(gate)))
    with LocalExecutor(jobs=2, threads=1) as ex:
        got = _collect(ex, [{"i": i} for i in range(5)])
        assert ex.ready() == 0  # the worker was still starting all along
        assert {r["pid"] for r, _ in got.values()} == {os.getpid()}
        gate.touch()
        deadline = time.time() + 60
        while not ex.ready() and time.time() < deadline:
            time.sleep(0.01)
        assert ex.ready() == 1
        later = _collect(ex, [{"i": i, "sleep": 0.3} for i in range(6)])
    assert sorted(later) == list(range(6))
    assert len({r["pid"] for r, _ in later.values()}) == 2  # this process and the now-warm worker


def test_warm_pool_jobs_give_the_rows_of_this_process(tmp_path, tiny_cfg):
    """The same real jobs run in a warm worker and in this process give identical rows."""
    import math

    from unlearnkit.bench.executor import LocalExecutor, torch_threads
    from unlearnkit.bench.job import expand, prepare, run_job

    grid = expand(tiny_cfg, str(tmp_path / "cache"), "cpu", None, False)
    specs = [s | {"executor": "local"} for s in grid.specs]
    for s in specs:
        prepare(s)
    with torch_threads(1):  # what every executor gives a job
        here = {s["key"]: run_job(s) for s in specs}
    rows: dict[str, dict] = {}
    with LocalExecutor(jobs=2, threads=1) as ex:
        ex.start()
        deadline = time.time() + 120
        while not ex.ready() and time.time() < deadline:
            time.sleep(0.1)
        ex.run(run_job, specs, lambda spec, row, err: rows.__setitem__(spec["key"], row))
    assert rows.keys() == here.keys()

    def same(a, b):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))

    for key, row in rows.items():
        diff = [c for c in row if c not in TIMING and c != "_history" and not same(row[c], here[key][c])]
        assert not diff, f"{row['method']} seed {row['seed']}: {diff} differ between a worker and this process"


def test_process_pool_gives_the_same_rows(tmp_path, tiny_cfg):
    cache = tmp_path / "cache"
    run_bench(tiny_cfg, tmp_path / "a", cache_dir=cache, quiet=True)
    run_bench(tiny_cfg, tmp_path / "b", jobs=2, cache_dir=cache, quiet=True)
    a, b = (pd.read_csv(tmp_path / x / "results.csv") for x in "ab")
    pd.testing.assert_frame_equal(comparable(a), comparable(b))


@pytest.mark.slow
def test_ray_gives_the_same_rows_and_trains_shadows_as_tasks(tmp_path):
    """Same grid on both executors (U-LiRA included: under Ray its shadow models are nested tasks)."""
    pytest.importorskip("ray")
    cfg = load_config(
        path=write_cfg(
            tmp_path,
            seeds=[0, 1],
            methods=["retrain", "ga", "rl"],
            scenarios=[{"kind": "class", "classes": [3]}],
            method_options={"ga": {"epochs": 1}, "rl": {"epochs": 1}},
            metrics=["accuracy", "mia_efficacy", "ulira"],
            metric_options={"ulira": {"K": 2}},
        )
    )
    run_bench(cfg, tmp_path / "local", cache_dir=tmp_path / "c1", quiet=True)
    run_bench(cfg, tmp_path / "ray", executor="ray", jobs=2, cache_dir=tmp_path / "c2", quiet=True)
    import ray

    ray.shutdown()
    a, b = (pd.read_csv(tmp_path / x / "results.csv") for x in ("local", "ray"))
    assert a["ULiRA_acc"].notna().sum() == 8  # original, retrain, ga, rl × 2 seeds
    pd.testing.assert_frame_equal(comparable(a), comparable(b))
    # shadows were trained once into each cache and reused by every job of the same seed
    shadows = [p for p in (tmp_path / "c2").glob("*.json") if '"shadow"' in p.read_text()]
    assert len(shadows) == len([p for p in (tmp_path / "c1").glob("*.json") if '"shadow"' in p.read_text()]) > 0


@pytest.mark.slow
def test_killed_ray_bench_resumes_without_duplicates(tmp_path):
    pytest.importorskip("ray")
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
        "--executor",
        "ray",
        "--jobs",
        "2",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--quiet",
        "--no-report",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while count_rows(out / "results.db") < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    import os

    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray workers
    proc.wait()
    partial = count_rows(out / "results.db")
    assert 0 < partial < 20
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 20 and not df.duplicated(["method", "seed"]).any()


def test_missing_ray_says_how_to_install(monkeypatch):
    import builtins

    from unlearnkit.bench.executor import make_executor
    from unlearnkit.errors import UnlearnkitError

    real = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray":
            raise ImportError("no ray")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(UnlearnkitError, match=r"pip install 'unlearnkit\[ray\]'"):
        make_executor("ray")


def test_tune_matches_or_beats_defaults_on_tuning_seeds(tmp_path):
    pytest.importorskip("optuna")
    from unlearnkit.bench.tune import tune

    cfg = load_config(path=write_cfg(tmp_path, methods=["retrain", "rl"], method_options={"rl": {"epochs": 1}}))
    res = tune(cfg, tmp_path / "t", trials=4, tuning_seeds=[1000], cache_dir=str(tmp_path / "cache"))
    assert res["rl"]["avg_gap"] <= res["rl"]["default_avg_gap"]
    tuned = yaml.safe_load((tmp_path / "t" / "tuned.yaml").read_text())
    assert set(tuned["method_options"]["rl"]) >= {"lr", "epochs", "forget_weight"}
    # the trials are stored in the run's SQLite and a re-run resumes the study instead of starting over
    import optuna

    study = optuna.load_study(study_name="bench:rl", storage=f"sqlite:///{tmp_path / 't' / 'results.db'}")
    assert len(study.trials) == 4
    # bench reads the tuned options back
    cfg2 = load_config(
        path=write_cfg(tmp_path, methods=["rl"], method_options={}), options_file=tmp_path / "t" / "tuned.yaml"
    )
    assert cfg2.method_options["rl"]["lr"] == pytest.approx(tuned["method_options"]["rl"]["lr"])


def test_report_files_rows_and_pngs(tmp_path):
    cfg = load_config(
        path=write_cfg(
            tmp_path, seeds=[0, 1], epoch_eval=True, scenarios=[{"kind": "long_tail", "fraction": 0.1, "ratio": 10}]
        )
    )
    run_bench(cfg, tmp_path / "run", cache_dir=tmp_path / "cache", quiet=True)
    files = write_report(tmp_path / "run")
    md, page = files["md"].read_text(), files["html"].read_text()
    df = pd.read_csv(files["csv"])
    assert len(df) == 8 and set(df["method"]) == {"original", "retrain", "ft", "ga"}
    for method in ["original", "retrain", "ft", "ga"]:
        assert f"| {method} |" in md and f">{method}</td>" in page
    assert "MIA-efficacy" in md and "id='def-MIA'" in page and "href='#def-avg_gap'" in page
    names = {p.name.split("_digits")[0] for p in files["plots"]}
    assert {"per_class_fa", "mia_hist", "pareto", "epochs"} <= names
    import matplotlib.image as mpimg

    for p in files["plots"]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert mpimg.imread(p).shape[0] > 100
        assert f"alt='{p.stem}'" in page  # embedded, self-contained
    assert "src='data:image/png;base64," in page and "<img src='per_class" not in page


def test_pareto_front_by_hand():
    import numpy as np

    pts = np.array([[1.0, 5.0], [2.0, 3.0], [3.0, 4.0], [4.0, 1.0], [0.5, 9.0]])
    assert sorted(pareto_front(pts).tolist()) == [0, 1, 3, 4]


def test_tune_searches_one_shot_strengths_and_lists_what_it_cannot_tune(tmp_path):
    """ssd's α, λ and if's scale are searched (they were skipped silently); fisher, with nothing in its search
    space, keeps its options and tuned.yaml says so."""
    pytest.importorskip("optuna")
    from unlearnkit.bench.tune import search_space, tune, untuned

    assert set(search_space("ssd")) == {"alpha", "lam"} and set(search_space("if")) == {"scale"}
    cfg = load_config(path=write_cfg(tmp_path, methods=["retrain", "ssd", "fisher"], method_options={}, stop="none"))
    assert untuned(cfg) == ["fisher"]
    res = tune(cfg, tmp_path / "t", trials=2, tuning_seeds=[1000], cache_dir=str(tmp_path / "cache"))
    assert set(res) == {"ssd"} and res["ssd"]["avg_gap"] <= res["ssd"]["default_avg_gap"]
    tuned = yaml.safe_load((tmp_path / "t" / "tuned.yaml").read_text())
    assert tuned["tuning"]["not_tuned"] == ["fisher"] and set(tuned["method_options"]["ssd"]) >= {"alpha", "lam"}
