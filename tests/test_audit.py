"""The audit of a deletion request: hand-worked numbers on a constructed case, agreement with the MIA
reference, recomputation from the saved files, --verify-retrain, and a safe HTML page."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import unlearnkit as uk
from unlearnkit.audit import AuditOptions, measurements, retain_sample, to_html, to_markdown
from unlearnkit.checkpoint import deletion_split, load_checkpoint, read_meta
from unlearnkit.cli import app
from unlearnkit.eval.mia import confidence_features, mia_efficacy_score


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


# ------------------------------------------------------------------------------------------ constructed case
X = torch.tensor(
    [
        [2, 0],
        [0, 2],  # 0, 1: forget (labels 0, 1)
        [3, 0],
        [0, 3],
        [1, 0],
        [1, 0],  # 2..5: retain (labels 0, 1, 0, 1)
        [1, 0],
        [0, 1],
        [0, 1],
        [1, 0],
    ],  # 6..9: test = held-out (labels 0, 0, 1, 1)
    dtype=torch.float32,
)
Y = torch.tensor([0, 1, 0, 1, 0, 1, 0, 0, 1, 1])


def linear(weight):
    m = torch.nn.Linear(2, 2)
    with torch.no_grad():
        m.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        m.bias.zero_()
    return m


@pytest.fixture
def toy():
    ds = uk.ArrayDataset(
        "toy", X.clone(), Y.clone(), 2, pool=np.arange(6), test=np.arange(6, 10), class_names=["cat", "dog"]
    )
    return ds, deletion_split(ds, [0, 1])


def test_audit_by_hand(toy):
    ds, split = toy
    original, unlearned = linear([[1, 0], [0, 1]]), linear([[0, 1], [1, 0]])  # argmax(x) vs the swapped classes
    rec = uk.audit(unlearned, original, ds, split)
    # original: forget 2/2, retain 3/4 (sample 5 wrong), held-out 2/4 (6 and 8 right)
    assert (rec["before"]["FA"], rec["before"]["RA"], rec["before"]["heldout_acc"]) == (100.0, 75.0, 50.0)
    # swapped: forget 0/2, retain 1/4, held-out 2/4 (7 and 9 right)
    assert (rec["after"]["FA"], rec["after"]["RA"], rec["after"]["heldout_acc"]) == (0.0, 25.0, 50.0)
    assert rec["param_change"] == 2.0  # four unit changes: sqrt(4)
    assert rec["request"]["forget_counts"] == [1, 1] and rec["request"]["n_forget"] == 2
    assert rec["data"] | {"fingerprint": None} == {
        "name": "toy",
        "fingerprint": None,
        "num_classes": 2,
        "n_train": 6,
        "n_retain": 4,
        "n_retain_sample": 4,
        "n_heldout": 4,
    }
    assert rec["per_class"] == [
        {
            "class": 0,
            "name": "cat",
            "n_forget": 1,
            "n_heldout": 2,
            "FA_before": 100.0,
            "FA_after": 0.0,
            "heldout_acc_before": 50.0,
            "heldout_acc_after": 50.0,
        },
        {
            "class": 1,
            "name": "dog",
            "n_forget": 1,
            "n_heldout": 2,
            "FA_before": 100.0,
            "FA_after": 0.0,
            "heldout_acc_before": 50.0,
            "heldout_acc_after": 50.0,
        },
    ]
    # MIA-efficacy: SalUn's attack with D_r members and held-out non-members, applied to D_f
    for side, model in (("before", original), ("after", unlearned)):
        with torch.no_grad():
            feats = {
                k: confidence_features(model(X[idx]), Y[idx])
                for k, idx in (("m", [2, 3, 4, 5]), ("n", [6, 7, 8, 9]), ("f", [0, 1]))
            }
        assert rec[side]["MIA"] == mia_efficacy_score(feats["m"], feats["n"], feats["f"], seed=0)
    assert rec["proxy_gap_before"] is None or "proxy" in uk.METRICS
    assert "heldout_acc_kept" not in rec["before"] | rec["after"]  # no class is gone: one held-out figure


def test_a_removed_class_is_left_out_of_the_kept_classes_held_out_accuracy(toy):
    """Every training sample of class 1 removed: its held-out samples (8, 9) are expected wrong afterwards, so the
    audit also measures held-out accuracy on class 0's held-out samples (6, 7) alone."""
    ds, _ = toy
    split = deletion_split(ds, [1, 3, 5])
    original, always_0 = linear([[1, 0], [0, 1]]), linear([[1, 1], [0, 0]])
    rec = uk.audit(always_0, original, ds, split)
    # original: 6 right, 7 wrong (kept 1/2), 8 right, 9 wrong (all 2/4); always 0: 6, 7 right, 8, 9 wrong
    assert (rec["before"]["heldout_acc"], rec["before"]["heldout_acc_kept"]) == (50.0, 50.0)
    assert (rec["after"]["heldout_acc"], rec["after"]["heldout_acc_kept"]) == (50.0, 100.0)
    assert "| held-out accuracy, kept classes (%) | 50.00 | 100.00 | 50.00 |" in to_markdown(rec)


def test_retain_sample_is_seeded(toy):
    ds, split = toy
    original, unlearned = linear([[1, 0], [0, 1]]), linear([[0, 1], [1, 0]])
    for seed in (0, 1, 2):
        rec = uk.audit(unlearned, original, ds, split, options={"retain_sample": 2, "seed": seed})
        sample = np.sort(np.random.default_rng(seed).choice(split.retain, size=2, replace=False))
        right = (X[sample].argmax(1) == Y[sample]).float().mean().item() * 100
        assert rec["before"]["RA"] == right and rec["data"]["n_retain_sample"] == 2
    with pytest.raises(uk.UnlearnkitError, match="retain_sample"):
        uk.audit(unlearned, original, ds, split, options={"retain_sample": 0})


def test_proxy_gap_comes_from_the_registered_metric(toy, monkeypatch):
    """The audit asks the metric registry for ``proxy`` (the retrain-free estimate); a stand-in metric here
    returns FA/100 so the wiring is visible."""
    from unlearnkit.eval.base import METRICS, Metric

    class FakeProxy(Metric):
        name, columns = "proxy", ("proxy_gap",)

        def compute(self, model, ev):
            assert ev.retrained is None and ev.original is not None  # never θ_r
            return {"proxy_gap": uk.METRICS.get("accuracy")().compute(model, ev)["FA"] / 100}

    monkeypatch.setitem(METRICS._items, "proxy", FakeProxy)
    ds, split = toy
    rec = uk.audit(linear([[0, 1], [1, 0]]), linear([[1, 0], [0, 1]]), ds, split)
    assert (rec["proxy_gap_before"], rec["proxy_gap_after"]) == (1.0, 0.0)


def test_html_is_escaped_and_self_contained(toy):
    ds, split = toy
    ds.class_names = ["<img src=x onerror=alert(1)>", "dog"]
    rec = uk.audit(linear([[0, 1], [1, 0]]), linear([[1, 0], [0, 1]]), ds, split)
    rec["request_source"] = "<script>alert(1)</script>"
    rec["run"] = {
        "method": "rl",
        "weighting": "uniform",
        "target": "none",
        "options": {"method": {"lr": "<u>"}},
        "seed": 0,
        "device": "cpu",
        "wall_s": 0.5,
        "passes": {"total": 20, "eval_forward": 4},
        "stop": "auto",
        "history": [
            {
                "auto_stop": {
                    "best_step": 2,
                    "steps_run": 4,
                    "best_proxy_gap": 0.5,
                    "evaluations": 3,
                    "reason": "<proxy flat>",
                    "warnings": [],
                }
            }
        ],
    }
    page = to_html(rec)
    assert "<script" not in page and "<img" not in page and "<u>" not in page and "lr=&lt;u&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "auto stop: kept step 2 of 4 (proxy gap 0.5, 3 evaluations); stopped by &lt;proxy flat&gt;" in page
    assert "20 (+4 evaluation) per-sample passes" in page
    assert "http" not in page and "<link" not in page and " src=" not in page.replace("&lt;img src=", "")
    md = to_markdown(rec)
    assert "| <img src=x onerror=alert(1)> | 1 | 100.0 | 0.0 | 50.0 | 50.0 |" in md


# ------------------------------------------------------------------------------------------------ from files
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`unlearnkit train` (10 epochs: θ_o fits D_f better than held-out data, so unlearning moves it) then `unlearnkit unlearn --checkpoint` on 36 ids, RA on a 300-sample."""
    root = tmp_path_factory.mktemp("audit")
    res = cli("train", "--train-option", "epochs=10", "--seed", 0, "--device", "cpu", "--out", root / "model")
    assert res.exit_code == 0, res.output
    ds = uk.load_dataset("digits")
    meta = read_meta(root / "model" / "model.safetensors")
    from unlearnkit.checkpoint import training_split

    ids = training_split(ds, 0, 0.1)[0][::35]
    (root / "ids.txt").write_text("\n".join(map(str, ids)))
    res = cli(
        "unlearn",
        "--checkpoint",
        root / "model" / "model.safetensors",
        "--forget",
        root / "ids.txt",
        "--method",
        "neggrad_plus",
        "--option",
        "epochs=1",
        "--audit-option",
        "retain_sample=300",
        "--device",
        "cpu",
        "--cache-dir",
        root / "cache",
        "--out",
        root / "out",
    )
    assert res.exit_code == 0, res.output
    return root, ds, meta, ids


def test_audit_command_recomputes_the_saved_audit(run):
    root, ds, meta, ids = run
    saved = json.loads((root / "out" / "audit.json").read_text())
    assert saved["request"]["n_forget"] == len(ids) and saved["data"]["n_retain_sample"] == 300
    assert saved["run"]["passes"]["total"] > 0 and saved["run"]["stop"] == "auto"
    assert saved["run"]["method"] == "neggrad_plus" and saved["run"]["wall_s"] > 0
    args = shlex.split(saved["command"])[1:]
    assert args[0] == "audit" and "retain_sample=300" in args
    res = cli(*args)
    assert res.exit_code == 0, res.output
    assert "every measurement matches" in res.output
    # the library call gives the same record
    unl = load_checkpoint(root / "out" / "unlearned.safetensors", ds)
    orig = load_checkpoint(root / "model" / "model.safetensors", ds)
    rec = uk.audit(unl.model, orig.model, ds, deletion_split(ds, ids, meta), options={"retain_sample": 300})
    assert measurements(json.loads(json.dumps(rec))) == measurements(saved)
    assert saved["after"]["FA"] != saved["before"]["FA"] or saved["param_change"] > 0


def test_audit_compare_catches_a_difference(run):
    root, _, _, _ = run
    saved = json.loads((root / "out" / "audit.json").read_text())
    args = [a.replace("retain_sample=300", "retain_sample=299") for a in shlex.split(saved["command"])[1:]]
    res = cli(*args)
    assert res.exit_code == 1 and "differs" in res.output and "n_retain_sample" in res.output


def test_no_retraining_without_the_flag_and_true_gap_with_it(run):
    root, ds, meta, ids = run
    assert not (root / "cache").exists()  # the run above had no --verify-retrain
    out, cache = root / "verified", root / "cache2"
    res = cli(
        "unlearn",
        "--checkpoint",
        root / "model" / "model.safetensors",
        "--forget",
        root / "ids.txt",
        "--method",
        "neggrad_plus",
        "--option",
        "epochs=1",
        "--audit-option",
        "retain_sample=300",
        "--verify-retrain",
        "--device",
        "cpu",
        "--cache-dir",
        cache,
        "--out",
        out,
    )
    assert res.exit_code == 0, res.output
    assert "true Avg.Gap to retrain" in res.output
    assert len(list(cache.glob("*.safetensors"))) == 1
    vr = json.loads((out / "audit.json").read_text())["verify_retrain"]
    # θ_r trained independently with the same recipe classifies D_f exactly as the audit says
    split = deletion_split(ds, ids, meta)
    torch.manual_seed(0)
    theta_r = uk.train_model(
        uk.build_model("mlp", ds.input_shape, 10),
        ds,
        split.retain,
        uk.TrainConfig(**meta.train),
        torch.device("cpu"),
        seed=0,
    )
    ev = uk.Evaluation(ds, split, torch.device("cpu"))
    ref = uk.METRICS.get("accuracy")().compute(theta_r, ev)
    assert vr["retrained"]["FA"] == ref["FA"] and vr["retrained"]["TA"] == ref["TA"]
    assert vr["avg_gap"] == uk.avg_gap(vr["unlearned"], vr["retrained"])
    # the unlearned measurements are the same as without the flag (same seed, same files)
    plain = json.loads((root / "out" / "audit.json").read_text())
    assert measurements(json.loads((out / "audit.json").read_text())) == measurements(plain)


def test_audit_names_the_checkpoint_that_does_not_fit_the_original_s_data(run, tmp_path):
    """--checkpoint from another data set (4 classes, a tiny logreg on a table) than --original (digits): the error
    says which file does not fit which, before any measurement."""
    root, _, _, _ = run
    other = uk.build_model("logreg", (3,), 4)
    uk.save_checkpoint(other, tmp_path / "other.safetensors", None)
    res = cli(
        "audit",
        "--checkpoint",
        tmp_path / "other.safetensors",
        "--original",
        root / "model" / "model.safetensors",
        "--forget",
        root / "ids.txt",
    )
    assert res.exit_code == 2
    assert "--checkpoint other.safetensors does not fit the data of --original model.safetensors" in " ".join(
        res.output.split()
    )


def test_audit_mia_fits_averages_attacks():
    """``mia_fits=3``: the audit's MIA is the mean of the single attacks at seeds 0, 1, 2 — on a logistic
    regression trained one epoch, whose members and held-out samples look alike, those differ (1 377 D_r samples
    against 360 held-out ones: each seed draws its own members)."""
    from unlearnkit.bench.config import load_config
    from unlearnkit.predict import predict_logits

    ds = uk.load_dataset("digits")
    split = deletion_split(ds, np.asarray(ds.pool)[:60])
    torch.manual_seed(0)
    model = uk.build_model("logreg", ds.input_shape, ds.num_classes)
    model = uk.train_model(model, ds, split.train, load_config("quick").train.model_copy(update={"epochs": 1}), "cpu")
    rec = uk.audit(model, model, ds, split, options={"mia_fits": 3})
    parts = {"m": retain_sample(split, AuditOptions()), "n": split.unseen, "f": split.forget}
    feats = {
        k: confidence_features(predict_logits(model, ds, v), torch.as_tensor(ds.labels[v])) for k, v in parts.items()
    }
    single = [mia_efficacy_score(feats["m"], feats["n"], feats["f"], seed=s, max_shadow=5000) for s in range(3)]
    assert len(set(single)) > 1
    assert rec["after"]["MIA"] == pytest.approx(np.mean(single), abs=1e-9)
    assert rec["options"]["mia_fits"] == 3


def test_auto_stop_lines_read_as_sentences():
    """The audit's auto-stop lines: four significant digits, a strength search's tried values sorted (a second
    knob's after the first's, with where it was searched), and a search that kept θ_o says so instead of
    printing ``None``."""
    from unlearnkit.audit import _stop_lines

    strength = {"option": "step", "best_value": 0.012257321992941743, "best_proxy_gap": 2.055186724219846}
    run = {
        "history": [
            {"auto_stop": {**strength, "tried": [0.0133667, 0.0033416761, 0.0122573219, None]}},
            {"auto_stop": {"option": "alpha", "best_value": None, "best_proxy_gap": 0.5, "tried": [10.0, 1.0]}},
            {
                "auto_stop": {
                    "option": "alpha",
                    "best_value": 4.0,
                    "best_options": {"alpha": 4.0, "lam": 0.0625},
                    "best_proxy_gap": 0.9,
                    "tried": [4.0, 1.0],
                    "then": {"option": "lam", "at": {"alpha": 4.0}, "tried": [1.0, 0.0625, 0.25]},
                }
            },
            {
                "auto_stop": {
                    "best_step": 18,
                    "steps_run": 36,
                    "best_proxy_gap": 0.024841199,
                    "original_proxy_gap": 2.5,
                    "evaluations": 5,
                    "reason": "patience",
                    "warnings": ["w"],
                    "smoothing": 0.2195297717,
                }
            },
            {
                "auto_stop": {
                    "reason": "r",
                    "label_share": 0.104,
                    "thin_share": 0.4,
                    "twin_share": 0.875,
                    "twins": 7,
                    "twin_pairs": [[3, 9]],
                    "baseline_covered": 400,
                    "drift_ra": 1.25,
                    "drift_unseen": 0.0,
                }
            },
        ]
    }
    assert _stop_lines(run) == [
        "step = 0.01226; tried step ∈ {0.003342, 0.01226, 0.01337}; proxy gap 2.055",
        "θ_o kept (no strength beat it); tried alpha ∈ {1, 10}; proxy gap 0.5",
        "alpha = 4, lam = 0.0625; tried alpha ∈ {1, 4}, then lam ∈ {0.0625, 0.25, 1} at alpha = 4; proxy gap 0.9",
        "kept step 18 of 36 (proxy gap 0.02484 against θ_o's 2.5, 5 evaluations); stopped by patience",
        "warning: w",
        "the proxy read θ_o as label-smoothed or mixed-up (ε = 0.2195): its class-prior correction applies to the "
        "de-smoothed probabilities (proxy.smoothing_z); if θ_o was trained with label smoothing, the run should say so "
        "(--label-smoothing)",
        "r",
        "the proxy expected a retrained model to misclassify 90 % of D_f: its labels agree with their nearest retained "
        "samples' less often than held-out data's (proxy.label_check)",
        "the request removes most of a class: a probe retrained on the retained samples expected a retrained model to "
        "misclassify 60 % of D_f, and the proxy aimed at that (proxy.thin_below)",
        "7 of D_f's samples (88 % of those checked) have a near-duplicate of the same label among the retained samples "
        "(D_f ↔ D_r index: 3 ↔ 9, …): a retrained model still fits them, so the proxy aimed them at staying fitted "
        "(proxy.twin_check); to remove them, add the copies to the request",
        "a chain of requests: damage was counted against the model before the first request (400 of the proxy's "
        "samples covered); the model this request started from had lost 1.25 points of accuracy on retained samples "
        "and 0 on held-out ones since",
    ]


def test_the_audit_reads_the_kept_states_accuracy_against_the_proxys_target():
    """The kept state's FA on the proxy's D_f sample next to θ_o's and the target ± the standard error of their
    difference (0.8 / 300 held-out, 0.92 / 200: 3.002), a removed class's against 0, and where the check at its
    default (3 SE) finds the state short."""
    from unlearnkit.audit import _kept_lines

    partial = dict(partial=True, target_fa=80.0, held_out_eff=300.0, forget_partial=200, original_fa=100.0)
    assert _kept_lines(partial | {"kept_fa": 92.0}) == [
        "the state kept classifies 92 % of the proxy's D_f sample correctly (θ_o: 100 %); the proxy's target for a "
        "retrained model: 80 % ± 3.002",
        "so it removed only part of D_f's influence (stopping.short_z at its default: the difference exceeds that "
        "many standard errors)",
    ]
    assert len(_kept_lines(partial | {"kept_fa": 85.0})) == 1  # within 3 SE: the reading alone
    gone = dict(partial=False, kept_fa=None, kept_fa_gone=0.0, original_fa_gone=100.0, forget_gone=180)
    assert _kept_lines(gone) == [
        "the state kept classifies 0 % of the removed classes' samples as their class (θ_o: 100 %; a retrained "
        "model: 0 %)"
    ]
    assert _kept_lines({"reason": "r"}) == []  # an older summary: nothing to read
    # every held-out sample right (144 of D_f's mix): the proxy cannot see the gap, and the audit says how large
    lucky = partial | {"kept_fa": 100.0, "target_fa": 100.0, "held_out_fa": 100.0, "held_out_eff": 144.0}
    assert _kept_lines(lucky)[-1] == (
        "θ_o classified correctly every held-out sample the proxy's targets rest on, so it cannot see D_f's "
        "generalisation gap: from an effective 144 held-out samples, a retrained model's accuracy on D_f as low as "
        "97.94 % would not show (95 % lower bound); more held-out data or --verify-retrain measures it"
    )
    assert len(_kept_lines(lucky | {"held_out_fa": 99.3})) == 1  # one held-out sample wrong: the reading alone


def test_the_audit_says_where_the_proxy_refitted_its_attack():
    from unlearnkit.audit import _stop_lines

    line = (
        "θ_o's membership attack tells its training samples from held-out ones (balanced accuracy 0.7161), so the "
        "proxy re-fitted it on each state it scored, as Avg.Gap's MIA does (proxy.attack_refit)"
    )
    a = dict(reason="r", attack_acc=0.71608, attack_refit=True)
    assert line in _stop_lines({"history": [{"auto_stop": a}]})
    assert line not in _stop_lines({"history": [{"auto_stop": a | {"attack_refit": False}}]})
    assert _stop_lines({"history": [{"auto_stop": {"reason": "r"}}]}) == ["r"]  # an older summary


def test_the_audit_names_a_shifted_held_out_split_and_does_not_call_the_state_short_against_it():
    from unlearnkit.audit import _stop_lines

    a = dict(reason="r", partial=True, target_fa=80.0, held_out_eff=300.0, forget_partial=200, original_fa=100.0)
    a |= dict(kept_fa=92.0, shifted=True, shift_ratio=0.7123, shift_p=1.5e-9)
    lines = _stop_lines({"history": [{"auto_stop": a}]})
    assert lines[1] == (
        "D_f and the held-out data do not look drawn alike (D_f's samples lie 0.7123× as far from their nearest "
        "retained samples as held-out samples do, p = 1.5e-09): the proxy's targets, and what auto chose by them, may "
        "be off (proxy.shift_check)"
    )
    assert not any("removed only part" in x for x in lines) and any("± 3.002" in x for x in lines)
    assert any("removed only part" in x for x in _stop_lines({"history": [{"auto_stop": a | {"shifted": False}}]}))
