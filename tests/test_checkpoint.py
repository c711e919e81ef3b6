"""Unlearning your own model: checkpoints in and out, architecture resolution, data from files, and the
CLI's refusals (each one exit code 2 with one message)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import unlearnkit as uk
from unlearnkit.checkpoint import load_checkpoint, load_state
from unlearnkit.cli import app
from unlearnkit.data.split import base_split

EPOCHS = 3
# one rl epoch on the fixed schedule, seed 0, CPU: a model that moved (auto may keep θ_o on a random request)
RL_FIXED = ("--method", "rl", "--option", "epochs=1", "--stop", "none", "--seed", 0, "--device", "cpu")


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error(res, *needles):
    """Exit 2, exactly one error line, mentioning every needle."""
    assert res.exit_code == 2, res.output
    assert res.output.count("error:") == 1, res.output
    text = " ".join(res.output.split())
    for n in needles:
        assert n in text, text


@pytest.fixture(scope="module")
def digits():
    return uk.load_dataset("digits")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`unlearnkit train` on digits (3 epochs), seed 0."""
    out = tmp_path_factory.mktemp("train")
    res = cli(
        "train",
        "--dataset",
        "digits",
        "--model",
        "mlp",
        "--preset",
        "quick",
        "--train-option",
        f"epochs={EPOCHS}",
        "--seed",
        0,
        "--device",
        "cpu",
        "--out",
        out,
    )
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def ids_file(trained, digits):
    train, _, _ = base_split(digits.labels, digits.pool, digits.test, 0, 0.1)
    ids = train[::40]
    path = trained / "ids.txt"
    path.write_text("\n".join(map(str, ids)) + "\n")
    return path, ids


def library_theta_o(digits):
    train, _, _ = base_split(digits.labels, digits.pool, digits.test, 0, 0.1)
    from unlearnkit.bench.config import load_config

    cfg = load_config("quick").train.model_copy(update={"epochs": EPOCHS})
    torch.manual_seed(0)
    model = uk.build_model("mlp", digits.input_shape, digits.num_classes)
    return uk.train_model(model, digits, train, cfg, torch.device("cpu"), seed=0)


def test_train_writes_checkpoint_and_description(trained, digits):
    meta = json.loads((trained / "model.json").read_text())
    assert meta["architecture"] == {"name": "mlp", "options": {}}
    assert meta["dataset"]["name"] == "digits" and meta["split_seed"] == 0 and meta["unseen_fraction"] == 0.1
    assert meta["train"]["epochs"] == EPOCHS and meta["num_classes"] == 10 and meta["input_shape"] == [1, 8, 8]
    import hashlib

    h = hashlib.sha256()
    h.update(b"torch.float32" + str((1797, 1, 8, 8)).encode())
    h.update(digits.x.numpy().tobytes())
    h.update(digits.y.numpy().astype(np.int64).tobytes())
    assert meta["data_fingerprint"] == h.hexdigest()
    assert set(meta["versions"]) == {"unlearnkit", "torch", "python"}
    train, _, _ = base_split(digits.labels, digits.pool, digits.test, 0, 0.1)
    assert (trained / "train_ids.txt").read_text().split() == [str(i) for i in train]


def test_round_trip_cli_equals_library(trained, ids_file, digits, tmp_path):
    """train → save → unlearn --checkpoint gives bit-identical weights to the library calls with the same seed,
    and without --verify-retrain nothing is retrained (no cache dir, no θ_r in the audit)."""
    theta_o = library_theta_o(digits)
    saved = load_file(str(trained / "model.safetensors"))
    assert saved.keys() == theta_o.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in theta_o.state_dict().items())

    path, ids = ids_file
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    res = cli(
        "unlearn",
        "--checkpoint",
        trained / "model.safetensors",
        "--forget",
        path,
        *RL_FIXED,
        "--cache-dir",
        cache,
        "--out",
        out,
    )
    assert res.exit_code == 0, res.output
    train, test, unseen = base_split(digits.labels, digits.pool, digits.test, 0, 0.1)
    split = uk.Split(train, test, unseen, ids)
    expected = uk.unlearn(theta_o, digits, split, "rl", options={"epochs": 1}, seed=0, device="cpu", stop="none").model
    got = load_file(str(out / "unlearned.safetensors"))
    assert got.keys() == saved.keys() and all(got[k].dtype == saved[k].dtype for k in got)
    assert all(torch.equal(got[k], v) for k, v in expected.state_dict().items())
    assert not any(torch.equal(got[k], saved[k]) for k in got if k.endswith("weight"))  # it did move
    assert not cache.exists()
    record = json.loads((out / "audit.json").read_text())
    assert record["verify_retrain"] is None and "retrain" not in json.dumps(record["run"])
    assert record["request"]["n_forget"] == len(ids)
    assert (out / "forget_ids.txt").read_text().split() == [str(i) for i in sorted(ids)]


def test_unlearn_dtype_and_keys_preserved_for_a_double_pt_state_dict(tmp_path, digits):
    """A float64 .pt state dict from the user's code (no JSON): loaded with weights_only, the output has the same
    keys and dtypes."""
    torch.manual_seed(1)
    model = uk.build_model("logreg", digits.input_shape, 10).double()
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "mine.pt")
    (tmp_path / "ids.txt").write_text("0\n1\n2\n")
    res = cli(
        "unlearn",
        "--checkpoint",
        tmp_path / "mine.pt",
        "--arch",
        "logreg",
        "--dataset",
        "digits",
        "--forget",
        tmp_path / "ids.txt",
        "--method",
        "ft",
        "--option",
        "epochs=1",
        "--device",
        "cpu",
        "--out",
        tmp_path / "out",
    )
    assert res.exit_code == 0, res.output
    got = load_file(str(tmp_path / "out" / "unlearned.safetensors"))
    assert {k: v.dtype for k, v in got.items()} == {"fc.weight": torch.float64, "fc.bias": torch.float64}


def test_load_state_accepts_plain_and_wrapped_state_dicts(tmp_path, digits):
    model = uk.build_model("mlp", digits.input_shape, 10)
    torch.save(model.state_dict(), tmp_path / "a.pth")
    torch.save({"model_state_dict": model.state_dict(), "step": 7}, tmp_path / "b.pt")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "c.safetensors"))
    for name in ("a.pth", "b.pt", "c.safetensors"):
        state = load_state(tmp_path / name)
        assert all(torch.equal(state[k], v) for k, v in model.state_dict().items()), name
    torch.save(model, tmp_path / "whole.pt")  # a pickled nn.Module: never unpickled
    with pytest.raises(uk.UnlearnkitError, match="refused"):
        load_state(tmp_path / "whole.pt")


class Payload:
    """Unpickling this touches a marker file (stands in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"fc.weight": torch.zeros(2, 2), "x": Payload(str(marker))}, evil)
    res = cli(
        "unlearn",
        "--checkpoint",
        evil,
        "--arch",
        "logreg",
        "--dataset",
        "digits",
        "--forget-where",
        "label=3",
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "out",
    )
    one_error(res, "refused to load 'evil.pt'", "never unpickles", "(it refers to")
    assert "weights_only" not in res.output  # torch's own advice (load it unsafely) is not passed on
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # the payload is real: an unsafe load does run it
    assert marker.exists()


def test_wrong_architecture_names_the_first_mismatching_tensor(trained, ids_file, tmp_path):
    path, _ = ids_file
    res = cli(
        "unlearn",
        "--checkpoint",
        trained / "model.safetensors",
        "--arch",
        "mlp",
        "--arch-option",
        "hidden=[32,64]",
        "--forget",
        path,
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    one_error(res, "tensor 'body.1.weight' is [128, 64] in the checkpoint but [32, 64] in the architecture")
    res = cli(
        "unlearn",
        "--checkpoint",
        trained / "model.safetensors",
        "--arch",
        "logreg",
        "--forget",
        path,
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    one_error(res, "the checkpoint lacks 'fc.weight'", "unexpected 'body.1.bias' (+5 more)")
    assert not (tmp_path / "o").exists()


def test_wrong_class_count_is_caught(trained, tmp_path, digits):
    # the digits MLP (10 classes) on 5-class data: the output layer is named as the mismatch
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "five.npz",
        x_train=rng.normal(size=(50, 1, 8, 8)).astype(np.float32),
        y_train=np.arange(50) % 5,
        x_test=rng.normal(size=(10, 1, 8, 8)).astype(np.float32),
        y_test=np.arange(10) % 5,
    )
    (tmp_path / "ids.txt").write_text("0\n")
    import shutil

    shutil.copy(trained / "model.safetensors", tmp_path / "bare.safetensors")  # no JSON beside it
    res = cli(
        "unlearn",
        "--checkpoint",
        tmp_path / "bare.safetensors",
        "--arch",
        "mlp",
        "--data",
        tmp_path / "five.npz",
        "--forget",
        tmp_path / "ids.txt",
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    one_error(res, "tensor 'head.weight' is [10, 64]", "the data has 5 classes but the checkpoint 10")
    # with the JSON from `unlearnkit train`, the recorded class count is checked first
    res = cli(
        "unlearn",
        "--checkpoint",
        trained / "model.safetensors",
        "--data",
        tmp_path / "five.npz",
        "--forget",
        tmp_path / "ids.txt",
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    one_error(res, "was trained for 10 classes but the data has 5")
    # a user factory that ignores num_classes: caught by a forward pass
    (tmp_path / "badnets.py").write_text(
        "import torch\n"
        "def net(input_shape, num_classes):\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))\n"
    )
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3)).state_dict(), tmp_path / "bad.pt")
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = cli(
            "unlearn",
            "--checkpoint",
            tmp_path / "bad.pt",
            "--arch",
            "badnets:net",
            "--dataset",
            "digits",
            "--forget",
            tmp_path / "ids.txt",
            "--method",
            "ft",
            "--device",
            "cpu",
            "--out",
            tmp_path / "o",
        )
    finally:
        os.chdir(cwd)
    one_error(res, "outputs [3] logits per sample but the data has 10 classes")


def test_out_of_range_and_non_training_ids(trained, tmp_path, digits):
    (tmp_path / "ids.txt").write_text("5\n99999\n")
    res = cli(
        "unlearn",
        "--checkpoint",
        trained / "model.safetensors",
        "--forget",
        tmp_path / "ids.txt",
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    one_error(res, "forget ids [99999] are out of range", "0..1796")
    (tmp_path / "ids.txt").write_text(f"{digits.test[0]}\n")
    res = cli(
        "unlearn",
        "--checkpoint",
        trained / "model.safetensors",
        "--forget",
        tmp_path / "ids.txt",
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    one_error(res, f"forget ids [{digits.test[0]}] are not in the training set")
    (tmp_path / "ids.txt").write_text("3\nthree\n")
    res = cli(
        "unlearn",
        "--checkpoint",
        trained / "model.safetensors",
        "--forget",
        tmp_path / "ids.txt",
        "--method",
        "ft",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    one_error(res, "line 2: 'three' is not an integer")


def test_no_held_out_data_is_refused_then_holdout_file_works(tmp_path, digits):
    x, y = digits.x.numpy()[:300], digits.labels[:300]
    np.savez(tmp_path / "train_only.npz", x_train=x, y_train=y)
    torch.manual_seed(0)
    net = uk.build_model("mlp", (1, 8, 8), 10, hidden=[16])
    torch.save(net.state_dict(), tmp_path / "net.pt")
    (tmp_path / "ids.txt").write_text("0\n1\n")
    args = [
        "unlearn",
        "--checkpoint",
        tmp_path / "net.pt",
        "--arch",
        "mlp",
        "--arch-option",
        "hidden=[16]",
        "--data",
        tmp_path / "train_only.npz",
        "--forget",
        tmp_path / "ids.txt",
        "--method",
        "ft",
        "--option",
        "epochs=1",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    ]
    one_error(cli(*args), "no held-out data", "--holdout FILE")
    (tmp_path / "held.txt").write_text("\n".join(map(str, range(250, 300))))
    res = cli(*args, "--holdout", tmp_path / "held.txt")
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "o" / "audit.json").read_text())
    assert record["data"]["n_heldout"] == 50 and record["data"]["n_train"] == 250
    (tmp_path / "held.txt").write_text("0\n260\n")  # id 0 is also in the forget request
    one_error(cli(*args, "--holdout", tmp_path / "held.txt"), "both in the forget request and in --holdout")


def test_forget_where_label_and_factory_arch(tmp_path, digits, monkeypatch):
    (tmp_path / "mynets.py").write_text(
        "import math, torch\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self, input_shape, num_classes, width=8):\n"
        "        super().__init__()\n"
        "        self.f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(math.prod(input_shape), width),\n"
        "                                     torch.nn.ReLU(), torch.nn.Linear(width, num_classes))\n"
        "    def forward(self, x):\n"
        "        return self.f(x)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import mynets

    torch.manual_seed(0)
    net = mynets.Net((1, 8, 8), 10, width=12)
    save_file(net.state_dict(), str(tmp_path / "net.safetensors"))
    res = cli(
        "unlearn",
        "--checkpoint",
        tmp_path / "net.safetensors",
        "--arch",
        "mynets:Net",
        "--arch-option",
        "width=12",
        "--dataset",
        "digits",
        "--forget-where",
        "label=3",
        "--method",
        "ft",
        "--option",
        "epochs=1",
        "--device",
        "cpu",
        "--out",
        tmp_path / "o",
    )
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "o" / "audit.json").read_text())
    n3 = int((digits.labels[digits.pool] == 3).sum())
    assert record["request"]["n_forget"] == n3 and record["request"]["forget_counts"][3] == n3
    assert sum(record["request"]["forget_counts"]) == n3
    ck = load_checkpoint(tmp_path / "o" / "unlearned.safetensors", digits)  # architecture from unlearned.json
    assert isinstance(ck.model, mynets.Net) and ck.arch.options == {"width": 12}


def test_options_that_need_a_checkpoint_are_refused_without_one(tmp_path):
    one_error(cli("unlearn", "--method", "ft", "--forget", tmp_path / "x.txt"), "--forget only apply with --checkpoint")


def test_npz_loader(tmp_path):
    xtr = np.arange(4 * 3, dtype=np.uint8).reshape(4, 3)
    np.savez(tmp_path / "d.npz", x_train=xtr, y_train=np.array([0, 2, 1, 2]), x_test=xtr[:2], y_test=np.array([1, 0]))
    ds = uk.load_dataset("npz", path=str(tmp_path / "d.npz"))
    assert ds.num_classes == 3 and ds.pool.tolist() == [0, 1, 2, 3] and ds.test.tolist() == [4, 5]
    assert torch.equal(ds.inputs(torch.tensor([1])), torch.tensor([[3.0, 4.0, 5.0]]) / 255.0)
    assert ds.labels.tolist() == [0, 2, 1, 2, 1, 0]
    np.savez(tmp_path / "obj.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.array([0]))
    with pytest.raises(uk.UnlearnkitError, match="without unpickling"):
        uk.load_dataset("npz", path=str(tmp_path / "obj.npz"))
    np.savez(tmp_path / "bad.npz", x=xtr)
    with pytest.raises(uk.UnlearnkitError, match=r"lacks \['x_train', 'y_train'\]"):
        uk.load_dataset("npz", path=str(tmp_path / "bad.npz"))


def test_image_folder_loader(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    pics = [rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8) for _ in range(4)]
    for i, p in enumerate(pics):
        Image.fromarray(p).save(tmp_path / f"im{i}.png")
    (tmp_path / "labels.csv").write_text(
        "file,label,split\nim0.png,cat,train\nim1.png,dog,train\nim2.png,cat,test\nim3.png,dog,train\n"
    )
    ds = uk.load_dataset("image_folder", path=str(tmp_path))
    assert ds.input_shape == (3, 6, 5) and ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 1, 0, 1]
    assert ds.pool.tolist() == [0, 1, 3] and ds.test.tolist() == [2]
    assert torch.equal(ds.x[3], torch.from_numpy(pics[3]).permute(2, 0, 1))
    Image.fromarray(pics[0][:4]).save(tmp_path / "im1.png")
    with pytest.raises(uk.UnlearnkitError, match=r"images differ in size.*size=\[H,W\]"):
        uk.load_dataset("image_folder", path=str(tmp_path))
    ds = uk.load_dataset("image_folder", path=str(tmp_path), size=[4, 4], mode="L")
    assert ds.input_shape == (1, 4, 4)


def test_a_second_request_on_the_unlearned_model(trained, ids_file, tmp_path):
    """unlearned.json remembers what was forgotten: a later request neither re-forgets those ids nor keeps them
    in its retain set; it carries the chain's baseline."""
    path, ids = ids_file
    first = tmp_path / "first"

    def request(checkpoint, *what, out):  # ft for one epoch on the CPU
        ft = ("--method", "ft", "--option", "epochs=1", "--device", "cpu")
        return cli("unlearn", "--checkpoint", checkpoint, *what, *ft, "--out", out)

    res = request(trained / "model.safetensors", "--forget", path, out=first)
    assert res.exit_code == 0, res.output
    assert json.loads((first / "unlearned.json").read_text())["extra"]["forgotten"] == sorted(ids.tolist())
    one_error(
        request(first / "unlearned.safetensors", "--forget", path, out=tmp_path / "again"),
        "are not in the training set",
    )
    n_train = json.loads((first / "audit.json").read_text())["data"]["n_train"]
    res = request(first / "unlearned.safetensors", "--forget-where", "label=3", out=tmp_path / "second")
    assert res.exit_code == 0, res.output
    second = json.loads((tmp_path / "second" / "audit.json").read_text())
    assert second["data"]["n_train"] == n_train - len(ids)
    n3_left = second["request"]["n_forget"]
    assert n3_left == second["request"]["forget_counts"][3] and n3_left > 0
    forgotten = json.loads((tmp_path / "second" / "unlearned.json").read_text())["extra"]["forgotten"]
    assert len(forgotten) == len(ids) + n3_left
    # the chain's baseline: the first model's answers, measured on the first request over its training and held-out
    # samples, carried unchanged; the second request's proxy counted damage against it
    carried = [
        json.loads((d / "unlearned.json").read_text())["extra"]["baseline"] for d in (first, tmp_path / "second")
    ]
    base = uk.Baseline.from_dict(carried[0])
    assert carried[1] == base.without(forgotten).to_dict()  # carried, less what the second request removed
    assert not np.isin(forgotten, uk.Baseline.from_dict(carried[1]).covered).any()  # no trace of removed samples
    n_heldout = json.loads((first / "audit.json").read_text())["data"]["n_heldout"]
    assert len(base.covered) == n_train - len(ids) + n_heldout  # the first model's training and held-out samples
    stops = [h["auto_stop"] for h in second["run"]["history"] if "auto_stop" in h]
    assert stops and stops[-1]["baseline_covered"] > 0 and stops[-1]["drift_ra"] is not None
    first_run = json.loads((first / "audit.json").read_text())["run"]["history"]
    assert [h["auto_stop"]["baseline_covered"] for h in first_run if "auto_stop" in h] == [None]  # not on the first
    # an unlearned checkpoint without a baseline (written before they were carried): the chain starts there, said so
    meta_file = first / "unlearned.json"
    old_meta = json.loads(meta_file.read_text())
    del old_meta["extra"]["baseline"]
    meta_file.write_text(json.dumps(old_meta))
    with pytest.warns(RuntimeWarning, match=r"already had \d+ samples unlearned, but its JSON holds no baseline"):
        res = request(first / "unlearned.safetensors", "--forget-where", "label=5", out=tmp_path / "third")
    assert res.exit_code == 0, res.output
    assert "baseline" in json.loads((tmp_path / "third" / "unlearned.json").read_text())["extra"]
    # a chained request whose method runs its schedule as set (stop: none) carries the baseline without using it
    res = request(tmp_path / "second" / "unlearned.safetensors", "--forget-where", "label=7", "--option", "stop=none",
                  out=tmp_path / "fourth")  # fmt: skip
    assert res.exit_code == 0, res.output
    fourth = json.loads((tmp_path / "fourth" / "unlearned.json").read_text())["extra"]
    assert fourth["baseline"] == base.without(fourth["forgotten"]).to_dict()


def test_a_folder_stands_for_the_weights_file_in_it(trained, ids_file, tmp_path):
    """--checkpoint and --original accept the folder `train --out` / `unlearn --out` wrote: the same run and audit
    as with the file itself; a folder with no weights file or several is one error naming what it holds."""
    path, _ = ids_file
    args = ("--forget", path, *RL_FIXED)
    by_file, by_folder = tmp_path / "file", tmp_path / "folder"
    res = cli("unlearn", "--checkpoint", trained / "model.safetensors", *args, "--out", by_file)
    assert res.exit_code == 0, res.output
    res = cli("unlearn", "--checkpoint", trained, *args, "--out", by_folder)
    assert res.exit_code == 0, res.output
    a, b = load_file(str(by_file / "unlearned.safetensors")), load_file(str(by_folder / "unlearned.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    res = cli(
        "audit",
        "--checkpoint",
        by_folder,
        "--original",
        trained,
        "--forget",
        path,
        "--device",
        "cpu",
        "--compare",
        by_file / "audit.json",
    )
    assert res.exit_code == 0, res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    one_error(cli("unlearn", "--checkpoint", empty, *args, "--out", tmp_path / "x"), "is a folder with no weights file")
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.safetensors", "b.pt"):
        (two / name).write_bytes(b"")
    one_error(
        cli("audit", "--checkpoint", two, "--original", trained, "--forget", path),
        "is a folder with 2 weights files (a.safetensors, b.pt); pass the one you mean",
    )


def test_the_cli_prints_a_warning_as_one_line_without_python_source(capsys, monkeypatch):
    """Under the console entry point a RuntimeWarning reads `warning: …` on stderr, not Python's
    `file.py:610: RuntimeWarning: …` followed by the source line."""
    import sys
    import warnings

    from unlearnkit import cli as cli_module

    def warn_command() -> None:
        warnings.warn("method 'rl' did not change the model", RuntimeWarning, stacklevel=1)

    monkeypatch.setattr(cli_module, "app", warn_command)
    monkeypatch.setattr(sys, "argv", ["unlearnkit"])
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        cli_module.main()
    err = capsys.readouterr().err
    assert err.strip() == "warning: method 'rl' did not change the model"


def test_unlearn_writes_the_retained_copies_of_a_request(tmp_path):
    """A request whose samples were uploaded twice (an npz with 40 rows repeated): `unlearnkit unlearn` under auto
    writes twin_ids.txt, the retained copies of requested samples, so that the next request can name them too."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target
    x_tr, y_tr = np.concatenate([x[300:], x[300:340]]), np.concatenate([y[300:], y[300:340]])
    np.savez(tmp_path / "dups.npz", x_train=x_tr, y_train=y_tr, x_test=x[:300], y_test=y[:300])
    res = cli(
        "train", "--data", tmp_path / "dups.npz", "--model", "mlp", "--preset", "quick", "--seed", 0,
        "--device", "cpu", "--out", tmp_path / "m",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    train_ids = set(map(int, (tmp_path / "m" / "train_ids.txt").read_text().split()))
    n = len(x) - 300
    request = [i for i in range(40) if i in train_ids]
    (tmp_path / "req.txt").write_text("\n".join(map(str, request)) + "\n")
    res = cli(
        "unlearn", "--checkpoint", tmp_path / "m", "--data", tmp_path / "dups.npz", "--forget", tmp_path / "req.txt",
        "--method", "rl", "--seed", 0, "--device", "cpu", "--out", tmp_path / "u",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    twins = list(map(int, (tmp_path / "u" / "twin_ids.txt").read_text().split()))
    copies = {n + i for i in request} & train_ids  # copies the split did not carve into the held-out set
    assert len(twins) > 0.9 * len(copies) and set(twins) <= copies


def test_the_request_is_one_of_forget_or_forget_where_and_weights_need_their_data(trained, ids_file, tmp_path):
    """Both --forget and --forget-where, or neither, is one error naming the two; weights with no description of their
    data beside them and no --dataset is an error naming the fix — nothing is written."""
    ckpt = trained / "model.safetensors"
    out = tmp_path / "out"
    both = cli(
        "unlearn", "--checkpoint", ckpt, "--forget", ids_file, "--forget-where", "label=3", *RL_FIXED, "--out", out
    )
    one_error(both, "give exactly one of --forget FILE", "--forget-where label=<class>")
    neither = cli("unlearn", "--checkpoint", ckpt, *RL_FIXED, "--out", out)
    one_error(neither, "give exactly one of --forget FILE")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "w.safetensors").write_bytes(ckpt.read_bytes())  # the weights alone, no model.json beside them
    args = ("--arch", "mlp", "--forget", ids_file, *RL_FIXED, "--out", out)
    one_error(cli("unlearn", "--checkpoint", bare / "w.safetensors", *args), "which data was w.safetensors trained on?")
    assert not out.exists()
