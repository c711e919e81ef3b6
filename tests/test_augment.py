"""unlearn(augment=…): θ_o's data augmentation on every batch a gradient method or retrain trains on."""

import warnings

import numpy as np
import pytest
import torch

import unlearnkit as uk
from unlearnkit.methods.base import GradientOptions

ONE = {"epochs": 1, "lr": 0.01}


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_identity_augment_is_the_plain_run_and_a_real_one_is_not(digits, random_split, theta_o):
    plain = uk.unlearn(theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu").model
    ident = uk.unlearn(
        theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu", augment=lambda x: x
    ).model
    assert same(plain, ident)
    halved = uk.unlearn(
        theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu", augment=lambda x: 0.5 * x
    ).model
    assert not same(plain, halved)


def test_augment_sees_every_batch_the_terms_train_on_and_nothing_else(digits, random_split, theta_o):
    """ft: one retain batch a step (and no evaluation batch: stop='none'); rl: a forget and a retain batch a step;
    and one call on two samples before any work (the check).
    Under auto the proxy's evaluations read the inputs as they are: the identity and no augment keep the same state."""
    seen = []

    def count(x):
        seen.append(len(x))
        return x

    o = GradientOptions(**ONE)
    steps = int(np.ceil(len(random_split.retain) / o.retain_batch_size))
    uk.unlearn(theta_o, digits, random_split, "ft", options=ONE, stop="none", device="cpu", augment=count)
    # the first call is the check before any work, on two samples
    assert seen[0] == 2 and len(seen) == 1 + steps and sum(seen[1:]) == len(random_split.retain)
    seen.clear()
    uk.unlearn(theta_o, digits, random_split, "rl", options=ONE, stop="none", device="cpu", augment=count)
    assert len(seen) == 1 + 2 * steps
    auto = {"epochs": 1, "stopping": {"lr_factors": [1.0], "lr_lower": []}}
    a = uk.unlearn(theta_o, digits, random_split, "rl", options=auto, device="cpu").model
    b = uk.unlearn(theta_o, digits, random_split, "rl", options=auto, device="cpu", augment=lambda x: x).model
    assert same(a, b)


def test_retrain_trains_with_the_augment(digits, random_split, theta_o):
    cfg = uk.TrainConfig(epochs=2, lr=0.05)
    run = lambda aug: (
        uk.unlearn(  # noqa: E731
            theta_o, digits, random_split, "retrain", train_config=cfg, device="cpu", augment=aug
        ).model
    )
    assert same(run(None), run(lambda x: x)) and not same(run(None), run(lambda x: x + 0.1))


def test_a_bad_augment_is_refused_before_any_work_and_a_method_that_ignores_it_warns(digits, random_split, theta_o):
    with pytest.raises(uk.UnlearnkitError, match=r"augment must return a tensor of its input's shape and dtype"):
        uk.unlearn(theta_o, digits, random_split, "rl", device="cpu", augment=lambda x: x.flatten(1))
    with pytest.raises(uk.UnlearnkitError, match=r"augment must return a tensor .* got tuple"):
        uk.unlearn(theta_o, digits, random_split, "rl", device="cpu", augment=lambda x: (x,))
    with pytest.raises(uk.UnlearnkitError, match=r"augment failed on a batch of shape \(2, 1, 8, 8\): ValueError: no"):
        uk.unlearn(
            theta_o, digits, random_split, "rl", device="cpu", augment=lambda x: (_ for _ in ()).throw(ValueError("no"))
        )
    with pytest.raises(uk.UnlearnkitError, match=r"augment must be a function"):
        uk.unlearn(theta_o, digits, random_split, "rl", device="cpu", augment=3)
    with pytest.raises(uk.UnlearnkitError, match=r"augment must return"):
        uk.train_model(
            uk.build_model("mlp", digits.input_shape, 10),
            digits,
            random_split.train,
            uk.TrainConfig(epochs=1),
            "cpu",
            augment=lambda x: x.double(),
        )
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        uk.unlearn(theta_o, digits, random_split, "ssd", stop="none", device="cpu", augment=lambda x: x)
    assert any(
        "method 'ssd' takes no gradient steps on training batches, so augment has no effect" in str(w.message)
        for w in rec
    )


# ------------------------------------------------------------------------------------------------ the CLI
MYAUG = """
import torch
calls = []


def halve(x):
    calls.append(len(x))
    return 0.5 * x


def drop_one(x):
    return x[1:]
"""


def test_cli_train_records_the_augment_and_unlearn_applies_it(tmp_path, digits, monkeypatch):
    """`train --augment m:f` trains as train_model(augment=f) and records m:f in model.json; `unlearn --checkpoint`
    then applies it without being told (= unlearn(augment=f)), `--augment none` unlearns without it (= the plain
    run), the unlearned model's JSON carries it on, and --verify-retrain's θ_r trains with it (its own cache key)."""
    import json

    from safetensors.torch import load_file
    from typer.testing import CliRunner

    from unlearnkit.cli import app
    from unlearnkit.data.split import base_split

    (tmp_path / "myaug.py").write_text(MYAUG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import myaug

    cli = lambda *a: CliRunner().invoke(app, [str(x) for x in a])  # noqa: E731
    res = cli(
        "train", "--train-option", "epochs=2", "--augment", "myaug:halve", "--device", "cpu", "--out", tmp_path / "t"
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "t" / "model.json").read_text())["augment"] == "myaug:halve"
    train, test, unseen = base_split(digits.labels, digits.pool, digits.test, 0, 0.1)
    from unlearnkit.bench.config import load_config

    cfg = load_config("quick").train.model_copy(update={"epochs": 2})
    theta = {}
    for name, aug in (("aug", myaug.halve), ("plain", None)):
        torch.manual_seed(0)
        m = uk.build_model("mlp", digits.input_shape, digits.num_classes)
        theta[name] = uk.train_model(m, digits, train, cfg, torch.device("cpu"), seed=0, augment=aug)
    saved = load_file(str(tmp_path / "t" / "model.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in theta["aug"].state_dict().items())
    assert not all(torch.equal(saved[k], v) for k, v in theta["plain"].state_dict().items())

    ids = train[::40]
    (tmp_path / "ids.txt").write_text("\n".join(map(str, ids)) + "\n")
    split = uk.Split(train, test, unseen, ids)
    run = ("--forget", tmp_path / "ids.txt", "--method", "rl", "--option", "epochs=1", "--stop", "none")
    run += ("--device", "cpu", "--cache-dir", tmp_path / "cache")
    expect = {
        name: uk.unlearn(
            theta["aug"], digits, split, "rl", options={"epochs": 1}, seed=0, device="cpu", stop="none", augment=aug
        ).model
        for name, aug in (("aug", myaug.halve), ("plain", None))
    }
    for given, want in ((None, "aug"), ("none", "plain")):
        extra = () if given is None else ("--augment", given)
        myaug.calls.clear()
        res = cli("unlearn", "--checkpoint", tmp_path / "t", *run, *extra, "--verify-retrain", "--out", tmp_path / want)
        assert res.exit_code == 0, res.output
        assert ("applying θ_o's data augmentation myaug:halve" in " ".join(res.output.split())) == (given is None)
        got = load_file(str(tmp_path / want / "unlearned.safetensors"))
        assert all(torch.equal(got[k], v) for k, v in expect[want].state_dict().items())
        assert json.loads((tmp_path / want / "unlearned.json").read_text())["augment"] == (
            "myaug:halve" if given is None else None
        )
        if given is None:  # rl's batches (a forget and a retain batch a step: < 2 |D_r|) and θ_r's 2 epochs over D_r
            n = sum(myaug.calls)
        else:
            assert myaug.calls == []
    keys = [
        json.loads((tmp_path / w / "audit.json").read_text())["verify_retrain"]["cache_key"] for w in ("aug", "plain")
    ]
    assert keys[0] != keys[1]
    assert n >= 3 * len(split.retain)


def test_cli_augment_errors(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from unlearnkit.cli import app

    (tmp_path / "myaug.py").write_text(MYAUG)
    (tmp_path / "brokenaug.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def one_error(args, needle):
        res = CliRunner().invoke(app, [str(a) for a in args])
        assert res.exit_code == 2 and res.output.count("error:") == 1, res.output
        assert needle in " ".join(res.output.split()), res.output

    train = ("train", "--train-option", "epochs=1", "--device", "cpu", "--out", tmp_path / "t", "--augment")
    one_error((*train, "myaug"), "--augment 'myaug': must look like module:function (e.g. myaug:flip_and_shift)")
    one_error((*train, "nosuchmod:f"), "--augment 'nosuchmod:f': cannot import module 'nosuchmod'")
    one_error((*train, "myaug:nothere"), "--augment 'myaug:nothere': module 'myaug' has no callable 'nothere'")
    one_error(
        (*train, "brokenaug:f"), "--augment 'brokenaug:f': importing module 'brokenaug' raised RuntimeError: boom"
    )
    one_error((*train, "myaug:drop_one"), "augment must return a tensor of its input's shape and dtype")
    assert not (tmp_path / "t" / "model.safetensors").exists()
    one_error(("unlearn", "--method", "ft", "--augment", "myaug:halve"), "--augment only apply with --checkpoint")
