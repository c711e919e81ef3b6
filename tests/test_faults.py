"""Faults and hostile input: crafted pickles, bad downloads, a cache that lies, concurrent and killed runs,
a corrupt results database. Each test builds the fault itself (no network)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from torch import nn

import unlearnkit as uk
from unlearnkit.bench.columns import machine_columns
from unlearnkit.bench import job
from unlearnkit.bench.config import load_config
from unlearnkit.bench.executor import LocalExecutor
from unlearnkit.bench.runner import run_bench
from unlearnkit.bench.store import ResultStore
from unlearnkit.cache import ModelCache, data_fingerprint, file_lock
from unlearnkit.data import images, locations

TIMING = machine_columns()  # wall times and memory: they depend on the machine, not the job
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


def count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.Error:
        return 0


def write_cifar(root: Path) -> None:
    """A small well-formed CIFAR-10 folder: 5 train batches + test batch of 4 images, and the meta file."""
    rng = np.random.default_rng(1)
    d = root / "cifar-10-batches-py"
    d.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(d / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9]}, f)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f)


# ---------------------------------------------------------------- CIFAR pickles


class Payload:
    """Unpickling this runs ``open(marker, 'w')`` (what a crafted CIFAR batch would do with os.system)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class SystemPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", [Payload, SystemPayload])
def test_crafted_cifar_batch_runs_no_code_and_names_the_file(tmp_path, payload):
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": payload(marker), b"labels": [0]}))
    with pytest.raises(uk.UnlearnkitError, match=r"data_batch_1 is not a CIFAR python batch .*not allowed"):
        uk.load_dataset("cifar10", data_dir=tmp_path)
    assert not marker.exists()
    # the plain pickle.load the loader used before runs the payload
    with open(batch, "rb") as f:
        pickle.load(f, encoding="bytes")
    assert marker.exists()


def _batch(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8),
        b"filenames": [b"a.png"] * n,
    }


@pytest.mark.parametrize("protocol,legacy", [(2, False), (2, True), (4, False), (5, False)])
def test_well_formed_batches_load_in_every_pickle_dialect(tmp_path, protocol, legacy):
    """Protocol 2 with ``numpy.core`` names is how the real (Python 2 era) CIFAR files reference numpy;
    numpy ≥ 2 writes ``numpy._core``; protocol 5 uses ``_frombuffer``."""
    write_cifar(tmp_path)
    want = _batch()
    blob = pickle.dumps(want, protocol=protocol)
    if legacy:
        assert b"numpy._core.multiarray\n_reconstruct" in blob
        blob = blob.replace(b"numpy._core.multiarray\n_reconstruct", b"numpy.core.multiarray\n_reconstruct")
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(blob)
    ds = uk.load_dataset("cifar10", data_dir=tmp_path)
    assert np.array_equal(ds.x[:4].numpy(), want[b"data"].reshape(-1, 3, 32, 32))
    assert ds.y[:4].tolist() == want[b"labels"]
    assert ds.class_names == [f"c{i}" for i in range(10)]


@pytest.mark.parametrize(
    "content,needle",
    [
        ({b"data": np.array([1, "x"], dtype=object), b"labels": [0, 1]}, "object dtype"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"labels of shape \(2,\)"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"shape \(n, 3072\)"),
        ([1, 2, 3], "a pickled list, not a dict"),
        (b"truncated", "is not a CIFAR python batch"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, r"keys \[b'data'\]; expected b'data' and b'labels'"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, "cat"]}, r"labels are not integers"),
    ],
)
def test_non_conforming_batches_are_refused_by_name(tmp_path, content, needle):
    write_cifar(tmp_path)
    blob = pickle.dumps(content)
    if content == b"truncated":
        blob = pickle.dumps(_batch())[:200]
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(blob)
    with pytest.raises(uk.UnlearnkitError, match="test_batch") as e:
        uk.load_dataset("cifar10", data_dir=tmp_path)
    assert re.search(needle, str(e.value)), str(e.value)


# ---------------------------------------------------------------- downloads


@pytest.fixture
def fake_web(monkeypatch):
    """urlretrieve replaced by a function writing ``served[url-basename]`` (or junk); records the URLs."""
    served, asked = {}, []

    def retrieve(url, dest):
        asked.append(url)
        Path(dest).write_bytes(served.get(url.rsplit("/", 1)[1], b"junk from a bad mirror"))

    monkeypatch.setattr(locations.urllib.request, "urlretrieve", retrieve)
    return served, asked


def test_download_verifies_the_published_md5(tmp_path, fake_web):
    served, _ = fake_web
    served["f.bin"] = b"the real bytes"
    good = hashlib.md5(b"the real bytes").hexdigest()
    dest = locations.download("https://example.org/f.bin", tmp_path / "f.bin", md5=good)
    assert dest.read_bytes() == b"the real bytes"
    with pytest.raises(
        uk.UnlearnkitError,
        match=rf"downloaded g.bin has MD5 {hashlib.md5(b'junk from a bad mirror').hexdigest()}, "
        rf"but the published checksum is {good}.*md5sum g.bin",
    ):
        locations.download("https://example.org/g.bin", tmp_path / "g.bin", md5=good)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]  # neither g.bin nor g.bin.part


def test_fashion_and_cifar_downloads_are_https_and_checked(tmp_path, fake_web):
    _, asked = fake_web
    with pytest.raises(
        uk.UnlearnkitError,
        match="downloaded train-images-idx3-ubyte.gz has MD5 .* published checksum is 8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ):
        uk.load_dataset("fashion_mnist", data_dir=tmp_path, download=True)
    assert list((tmp_path / "fashion-mnist").iterdir()) == []
    with pytest.raises(uk.UnlearnkitError, match="cifar-10-python.tar.gz has MD5 .* c58f30108f718f92721af3b95e74349a"):
        uk.load_dataset("cifar10", data_dir=tmp_path, download=True)
    assert not (tmp_path / "cifar-10-python.tar.gz").exists() and not (tmp_path / "cifar-10-batches-py").exists()
    assert asked and all(u.startswith("https://") for u in asked), asked


def test_published_checksums_are_torchvisions():
    """The constants torchvision ships (torchvision/datasets/mnist.py, cifar.py), copied by hand here."""
    assert images.FASHION_MD5 == {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    assert images.CIFAR["cifar10"]["md5"] == "c58f30108f718f92721af3b95e74349a"
    assert images.CIFAR["cifar100"]["md5"] == "eb9058c3a382ffc7106e4002c42a8d85"


# ---------------------------------------------------------------- the model cache


def _tiny(value: float | None = None) -> nn.Module:
    torch.manual_seed(0)
    m = nn.Linear(3, 2)
    if value is not None:
        with torch.no_grad():
            m.weight.fill_(value)
    return m


class Trainer:
    """``fit`` for key k sets every weight to ``values[k]``; counts calls per key."""

    def __init__(self, cache: ModelCache, values: dict[str, float]):
        self.cache, self.values, self.calls = cache, values, {k: 0 for k in values}

    def get(self, key):
        def fit(m):
            self.calls[key] += 1
            with torch.no_grad():
                m.weight.fill_(self.values[key])
            return m

        model, meta = self.cache.get_or_train(key, _tiny, fit, label=key)
        return float(model.weight[0, 0].detach()), meta["cached"]


def test_cache_detects_swapped_and_corrupt_entries(tmp_path, caplog):
    cache = ModelCache(tmp_path)
    t = Trainer(cache, {"orig": 1.0, "retr": 2.0})
    assert t.get("orig") == (1.0, False) and t.get("retr") == (2.0, False)
    assert t.get("orig") == (1.0, True)
    w_o, m_o = cache.paths("orig")
    w_r, m_r = cache.paths("retr")
    assert json.loads(m_o.read_text())["sha256"] == hashlib.sha256(w_o.read_bytes()).hexdigest()

    def swap(a, b):
        ta, tb = a.read_bytes(), b.read_bytes()
        a.write_bytes(tb)
        b.write_bytes(ta)

    # θ_o's weights under θ_r's key (metadata left): the hash check catches it
    swap(w_o, w_r)
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        assert t.get("retr") == (2.0, False) and t.get("orig") == (1.0, False)
    assert "retr.safetensors does not match the sha256" in caplog.text
    # weights and metadata swapped together: the key inside the metadata catches it
    swap(w_o, w_r)
    swap(m_o, m_r)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        assert t.get("orig") == (1.0, False)
    assert "orig.json is for key 'retr', not 'orig'" in caplog.text
    # truncated metadata, truncated weights, an older entry without a hash
    assert t.get("orig") == (1.0, True)
    m_o.write_text(m_o.read_text()[:10])
    caplog.clear()
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        assert t.get("orig") == (1.0, False)
    assert f"cache file {m_o} is unreadable" in caplog.text
    w_o.write_bytes(w_o.read_bytes()[:-8])
    assert t.get("orig") == (1.0, False)
    m_o.write_text(json.dumps({"train_s": 0.1, "label": "orig"}))
    assert t.get("orig") == (1.0, False)
    assert t.calls == {"orig": 6, "retr": 2}
    # metadata that is JSON but not an object; a verified entry of another architecture under this key
    m_o.write_text("[1, 2]")
    caplog.clear()
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        assert t.get("orig") == (1.0, False)
    assert f"cache metadata {m_o} is not a JSON object" in caplog.text
    cache.save("orig", torch.nn.Linear(3, 5), {"label": "orig"})
    caplog.clear()
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        assert t.get("orig") == (1.0, False)
    assert f"cached checkpoint {w_o} does not fit the model" in caplog.text
    assert t.calls == {"orig": 8, "retr": 2}
    assert not list(tmp_path.glob("*.tmp"))


def test_memoised_values_are_verified(tmp_path, caplog):
    cache = ModelCache(tmp_path)
    calls = []

    def compute(v):
        def f():
            calls.append(v)
            return {"FA": v, "hist": [v, 1.5]}

        return f

    assert cache.memo("ka", compute(1.0)) == {"FA": 1.0, "hist": [1.0, 1.5]}
    assert cache.memo("kb", compute(2.0)) == {"FA": 2.0, "hist": [2.0, 1.5]}
    assert cache.memo("ka", compute(9.0))["FA"] == 1.0 and calls == [1.0, 2.0]
    pa, pb = tmp_path / "ka.values.json", tmp_path / "kb.values.json"
    pa.write_text(pb.read_text())  # another key's value
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        assert cache.memo("ka", compute(1.0))["FA"] == 1.0
    assert f"memoised value {pa} is not the entry for key 'ka'" in caplog.text
    tampered = json.loads(pb.read_text())
    tampered["value"]["FA"] = 99.0  # same key, edited value: the hash catches it
    pb.write_text(json.dumps(tampered))
    assert cache.memo("kb", compute(2.0))["FA"] == 2.0
    pa.write_text(json.dumps({"FA": 1.0}))  # the format before hashes
    assert cache.memo("ka", compute(1.0))["FA"] == 1.0
    pa.write_text("{")
    caplog.clear()
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        assert cache.memo("ka", compute(1.0))["FA"] == 1.0
    assert f"cache file {pa} is unreadable" in caplog.text
    assert calls == [1.0, 2.0, 1.0, 2.0, 1.0, 1.0]


def test_two_trainers_of_one_entry_train_it_once(tmp_path):
    cache = ModelCache(tmp_path)
    fits, results, start = [], [], threading.Barrier(2)

    def fit(m):
        fits.append(1)
        time.sleep(0.5)  # long enough for the other thread to reach the lock
        with torch.no_grad():
            m.weight.fill_(3.0)
        return m

    def worker():
        start.wait()
        model, meta = cache.get_or_train("k", _tiny, fit)
        results.append((float(model.weight[0, 0].detach()), meta["cached"]))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(fits) == 1
    assert sorted(results) == [(3.0, False), (3.0, True)]


def test_bench_never_serves_a_swapped_original(tmp_path, caplog):
    """θ_o's files put under θ_r's key and vice versa (weights + metadata): the next bench retrains both
    and gives the same rows as the first."""
    cfg = load_config(path=write_cfg(tmp_path, methods=["ft"], method_options={"ft": {"epochs": 1}}))
    cache = tmp_path / "cache"
    run_bench(cfg, tmp_path / "a", cache_dir=cache, quiet=True)
    by_label = {
        json.loads(p.read_text())["label"]: p for p in cache.glob("*.json") if not p.name.endswith(".values.json")
    }
    o, r = by_label["original"], by_label["retrain"]
    for ext in (".json", ".safetensors"):
        po, pr = o.with_suffix(ext), r.with_suffix(ext)
        bo, br = po.read_bytes(), pr.read_bytes()
        po.write_bytes(br)
        pr.write_bytes(bo)
    with caplog.at_level(logging.WARNING, "unlearnkit"):
        again = run_bench(cfg, tmp_path / "b", cache_dir=cache, quiet=True)
    assert again.trained == 2 and again.reused == 1  # θ_o and θ_r retrained; θ_r′ (noise floor) untouched
    assert f"cache metadata {o} is for key" in caplog.text
    a, b = (pd.read_csv(tmp_path / x / "results.csv").drop(columns=TIMING) for x in "ab")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_data_fingerprint_is_content_and_memoised(digits):
    fp = data_fingerprint(digits)
    assert fp == data_fingerprint(uk.load_dataset("digits")) and len(fp) == 64
    assert digits.extra["_data_fingerprint"][1] == fp
    other = uk.load_dataset("digits")
    other.x = other.x.clone()
    other.x[0, 0, 0, 0] += 1
    other.extra = {}
    assert data_fingerprint(other) != fp


def test_edited_csv_features_retrain(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(0, 1, n), "label": rng.integers(0, 2, n)})
    csv = tmp_path / "t.csv"
    df.to_csv(csv, index=False)
    cfg = load_config(
        path=write_cfg(
            tmp_path,
            datasets=[{"name": "tabular_csv", "options": {"path": str(csv), "label": "label"}}],
            methods=["ft"],
            method_options={"ft": {"epochs": 1}},
            metrics=["accuracy"],
        )
    )
    cache = tmp_path / "cache"
    first = run_bench(cfg, tmp_path / "r1", cache_dir=cache, quiet=True)
    job.dataset_for.cache_clear()  # a new process would read the file afresh
    same = run_bench(cfg, tmp_path / "r2", cache_dir=cache, quiet=True)
    assert (first.trained, same.trained, same.reused) == (3, 0, 3)  # θ_o, θ_r, θ_r′
    df["a"] = df["a"] * -1.0  # other features, same labels, same file name and options
    df.to_csv(csv, index=False)
    job.dataset_for.cache_clear()
    edited = run_bench(cfg, tmp_path / "r3", cache_dir=cache, quiet=True)
    job.dataset_for.cache_clear()
    assert edited.trained == 3 and edited.reused == 0


@pytest.mark.parametrize("which", ["cache", "run"])
def test_unwritable_folders_fail_before_any_training(tmp_path, which, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    trained = []
    monkeypatch.setattr(ModelCache, "get_or_train", lambda *a, **k: trained.append(1))
    cfg = load_config(path=write_cfg(tmp_path))
    cache, out = tmp_path / "cache", tmp_path / "run"
    if which == "cache":
        cache = blocker / "cache"
        needle = rf"model cache folder {cache} is not writable .*--cache-dir"
    else:
        out = blocker / "run"
        needle = rf"run directory {out} is not writable .*--out"
    with pytest.raises(uk.UnlearnkitError, match=needle):
        run_bench(cfg, out, cache_dir=cache, quiet=True)
    assert trained == []


# ---------------------------------------------------------------- processes


def _threads_in_job(spec):
    return torch.get_num_threads()


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_job_runs_with_the_set_thread_count(jobs):
    before = torch.get_num_threads()
    for threads in (1, 2):
        got = []
        LocalExecutor(jobs=jobs, threads=threads).run(_threads_in_job, [{}, {}], lambda s, r, e: got.append((r, e)))
        assert got == [(threads, None), (threads, None)]
        assert torch.get_num_threads() == before  # restored in-process


@pytest.mark.slow
def test_jobs_1_and_2_give_bit_identical_rows(tmp_path):
    """Separate caches, so θ_o / θ_r are trained in-process in one run and in pool workers in the other."""
    cfg = load_config(path=write_cfg(tmp_path, seeds=[0, 1], methods=["ft", "ga"]))
    run_bench(cfg, tmp_path / "one", cache_dir=tmp_path / "c1", jobs=1, quiet=True)
    run_bench(cfg, tmp_path / "two", cache_dir=tmp_path / "c2", jobs=2, quiet=True)
    a, b = (
        pd.read_csv(tmp_path / x / "results.csv")
        .drop(columns=TIMING)
        .sort_values(["method", "seed"])
        .reset_index(drop=True)
        for x in ("one", "two")
    )
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_a_second_bench_on_a_busy_run_dir_stops_with_a_message(tmp_path):
    cfg = load_config(path=write_cfg(tmp_path))
    out = tmp_path / "run"
    out.mkdir()
    with file_lock(out / ".lock") as fd:  # what a running bench holds
        os.write(fd, b"4242\n")
        with pytest.raises(
            uk.UnlearnkitError,
            match=rf"run directory {out} is in use by another bench "
            rf"\(pid 4242\); wait for it to finish, or pass another --out",
        ):
            run_bench(cfg, out, cache_dir=tmp_path / "cache", quiet=True)
    assert not (out / "results.db").exists()
    assert run_bench(cfg, out, cache_dir=tmp_path / "cache", quiet=True).ran == 4  # free again


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    # long fixed schedules (stop none, 200 epochs: seconds a job) so the grid cannot finish between the first
    # stored row and the kill; with auto's early stopping the 16 rows once all landed before it (flaky)
    cfg = write_cfg(
        tmp_path,
        seeds=[0, 1, 2, 3],
        methods=["ft", "ga", "rl"],
        method_options={m: {"epochs": 200} for m in ["ft", "ga", "rl"]},
        stop="none",
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
        "--jobs",
        "2",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--quiet",
        "--no-report",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 180
        workers: list[int] = []

        def is_worker(p: int) -> bool:  # forked (Linux: the parent's command line) or spawned
            # the parent's command line read now, not at Popen: until its exec it is this test's (flaky)
            try:
                cmdline = Path(f"/proc/{p}/cmdline").read_bytes()
                parent_cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            except OSError:  # gone meanwhile
                return False
            return b"unlearnkit.cli" in parent_cmdline and (cmdline == parent_cmdline or b"spawn_main" in cmdline)

        # --jobs 2 = this bench process + 1 pool worker; wait until a row is stored (past start-up: a worker
        # that has not run its initializer when its parent dies exits there, before taking any job)
        while (
            (len(workers) < 1 or count_rows(out / "results.db") < 1) and proc.poll() is None and time.time() < deadline
        ):
            time.sleep(0.05)
            workers = [p for p in _children(proc.pid) if is_worker(p)]
        if proc.poll() is not None:
            pytest.fail(
                f"bench exited {proc.returncode} before a pool worker ran a job:\n{proc.stderr.read().decode()[-4000:]}"
            )
        assert len(workers) == 1, "no pool worker"
        with pytest.raises(BlockingIOError):  # the running bench holds its run directory's lock
            with file_lock(out / ".lock", blocking=False):
                pass
        kids = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 20  # before: all 3 (2 workers + resource tracker) still alive after 90 s
        while any(map(_alive, kids)) and time.time() < deadline:
            time.sleep(0.1)
        assert not [k for k in kids if _alive(k)], "orphaned workers still running 20 s after the parent died"
        assert count_rows(out / "results.db") < 16  # killed mid-grid
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


CHILD = """
import os, sys, time
from unlearnkit.bench.executor import die_with_parent
sys.platform = "no-prctl"  # only the portable watchdog thread
die_with_parent(os.getppid())
print("armed", flush=True)
time.sleep(120)
"""
MIDDLE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_watchdog_fallback_ends_an_orphan(tmp_path):
    """Without PR_SET_PDEATHSIG (other systems), the getppid-polling thread alone ends the orphan."""
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, CHILD],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        child = int(middle.stdout.readline())
        assert middle.stdout.readline().strip() == "armed"
        middle.kill()
        middle.wait()
        deadline = time.time() + 20
        while _alive(child) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        os.killpg(middle.pid, signal.SIGKILL)


# ---------------------------------------------------------------- the results database


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_results_db_is_one_error_naming_the_file(tmp_path, damage):
    out = tmp_path / "run"
    db = out / "results.db"
    if damage == "garbage":
        out.mkdir()
        db.write_bytes(b"this is not a database" * 100)
    else:
        store = ResultStore(out)
        for i in range(200):
            store.add(f"k{i}", {"FA": float(i), "pad": "x" * 500})
        blob = db.read_bytes()
        db.write_bytes(blob[:4096] + b"\xff" * (len(blob) - 4096))
    cfg = load_config(path=write_cfg(tmp_path))
    with pytest.raises(uk.UnlearnkitError, match=rf"results database {db} is corrupt .*move it away"):
        run_bench(cfg, out, cache_dir=tmp_path / "cache", quiet=True)
    with pytest.raises(uk.UnlearnkitError, match="is corrupt"):
        ResultStore(out).frame()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "unlearnkit.cli",
            "bench",
            "--config",
            str(tmp_path / "cfg.yaml"),
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr and "results.db" in res.stderr, res.stderr


def test_a_meta_file_without_class_names_is_refused_by_name(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "batches.meta").write_bytes(pickle.dumps({b"label_names": b"c0 c1"}))
    with pytest.raises(uk.UnlearnkitError, match=r"batches.meta has no list of class names under b'label_names'"):
        uk.load_dataset("cifar10", data_dir=tmp_path)
