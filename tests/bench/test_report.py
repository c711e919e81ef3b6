"""Report rendering (escaping, literal labels, CI, noise floor) and deterministic cost columns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

import unlearnkit as uk
from unlearnkit.bench.config import BenchConfig
from unlearnkit.bench.report import md_escape, write_report
from unlearnkit.bench.runner import run_bench
from unlearnkit.bench.summary import ci_half_width, summarize
from unlearnkit.passes import PassCounter, training_passes

EVIL = "<script>alert(1)</script>$x^2$"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    cfg = BenchConfig(
        name=EVIL,
        datasets=["digits"],
        model="mlp",
        train={"epochs": 3, "lr": 0.05},
        scenarios=[{"kind": "random", "fraction": 0.1, "label": "rand $\\alpha$ <img onerror=x>"}],
        methods=["retrain", {"name": "ft", "label": EVIL}, "ga"],
        method_options={"ft": {"epochs": 2}, "ga": {"epochs": 1}},
        seeds=[0, 1],
        stop="none",
    )
    out = tmp / "run"
    run_bench(cfg, out, cache_dir=tmp / "cache", quiet=True)
    files = write_report(out)  # mathtext in labels must not crash matplotlib
    return out, files, pd.read_csv(out / "results.csv")


def test_injected_labels_are_escaped_in_markdown_and_html(run):
    out, files, _ = run
    md, page = files["md"].read_text(), files["html"].read_text()
    for text in (md, page):
        assert "<script>" not in text and "<img onerror" not in text
    assert "&lt;script&gt;" in md and "&lt;script&gt;" in page
    assert md_escape("a|b $c$ <i>") == "a\\|b \\$c\\$ &lt;i&gt;"
    assert any(p.name.startswith("pareto") for p in files["plots"])


def test_noise_floor_and_cost_columns_in_every_row(run):
    _, _, df = run
    r = df.set_index("method")
    assert (df["avg_gap_floor"] > 0).all() and df["avg_gap_floor"].nunique() <= 2  # one value per split (seed)
    assert (r.loc["retrain", "avg_gap"] == 0).all()
    # hand-worked pass counts: ft = 2 epochs over D_r, forward + backward; ga = 1 epoch over D_f
    n_f = df["n_forget"].iloc[0]
    retain = df["retrain_passes"].iloc[0] / (2 * 3)  # retrain_passes = 2 · 3 epochs · |D_r|
    assert r.loc[EVIL, "unlearn_passes"].tolist() == [2 * 2 * retain] * 2
    assert r.loc["ga", "unlearn_passes"].tolist() == [2 * n_f] * 2
    assert r.loc["retrain", "cost_ratio"].tolist() == [1.0, 1.0]
    assert r.loc["original", "unlearn_passes"].tolist() == [0, 0]
    assert (df["peak_rss_mb"] > 50).all() and df["gpu_peak_mb"].isna().all()  # CPU run: no GPU peak
    assert r.loc[EVIL, "cost_ratio"].tolist() == pytest.approx([2 / 3] * 2)


def test_report_shows_ci_and_marks_methods_within_the_floor(run):
    _, files, df = run
    md = files["md"].read_text()
    assert "95 % CI" in md and "floor" in md
    s = summarize(df, ["avg_gap", "avg_gap_floor"])
    ga = s[s["method"] == "ga"].iloc[0]
    vals = df[df["method"] == "ga"]["avg_gap"]
    assert ga["avg_gap_ci"] == pytest.approx(ci_half_width(vals))
    within = ga["avg_gap_mean"] <= ga["avg_gap_floor_mean"]
    ga_line = next(line for line in md.splitlines() if line.startswith("| ga |"))
    assert ("≈r" in ga_line) == within


def test_ci_half_width_by_hand():
    # n = 3, mean 2, sd 1: t(0.975, 2) = 4.302653 → 4.302653 / √3
    assert ci_half_width([1.0, 2.0, 3.0]) == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(ci_half_width([5.0]))


def test_pass_counter_counts_forward_backward_and_evaluation_apart():
    model = torch.nn.Linear(3, 2)
    x = torch.randn(7, 3)
    with PassCounter(model) as c:
        model(x).sum().backward()
        with torch.no_grad():
            model(x[:4])
        with c.evaluating():
            model(x[:5])
    assert c.as_dict() == {"forward": 11, "backward": 7, "eval_forward": 5, "total": 18}
    model(x)  # after the context: not counted
    assert c.forward == 11
    assert training_passes(3, 10) == 60


def test_pass_counter_counts_every_sample_of_a_vmap_and_reported_feature_passes():
    """Per-sample gradients (vmap(grad)) run the model once per chunk on a batch of one: the counter counts
    the chunk's samples; a pass through ``model.features`` is reported with ``record``."""
    from torch.func import functional_call, grad, vmap

    from unlearnkit.passes import record

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = torch.randn(5, 2, 2), torch.tensor([0, 1, 2, 0, 1])

    def one(p, xi, yi):
        return torch.nn.functional.cross_entropy(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    record(model, 9)  # no counter watching: nothing to count, no error
    with PassCounter(model) as c:
        vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)  # 5 samples, one vmapped call
        vmap(grad(one), in_dims=(None, 0, 0), chunk_size=2)(params, x, y)  # 5 samples in chunks of 2, 2, 1
        with torch.no_grad():
            vmap(vmap(lambda xi: model(xi.unsqueeze(0))))(torch.randn(3, 4, 2, 2))  # 12 samples, no graph
        record(model, 6)
        with c.evaluating():
            record(model, 4)
    assert c.as_dict() == {"forward": 5 + 5 + 12 + 6, "backward": 10, "eval_forward": 4, "total": 38}
    record(model, 3)  # the counter closed: not counted
    assert c.forward == 28


def test_pass_counter_does_not_keep_a_watched_model_alive():
    """A trial copy watched by the counter is freed when its run drops it, not when the counter closes."""
    import weakref

    with PassCounter(torch.nn.Linear(2, 2)) as c:
        trial = torch.nn.Linear(2, 2)
        c.watch(trial)
        trial(torch.randn(3, 2))
        gone = weakref.ref(trial)
        del trial
        assert gone() is None
    assert c.forward == 3


def test_one_shot_methods_count_their_passes(digits, random_split, theta_o):
    """ssd: per-sample gradients over D_f and the training set, each forward and backward; if: one features
    pass over the training set, also under auto (its strength search moves along one Newton step)."""
    n_f, n = len(random_split.forget), len(random_split.train)
    res = uk.unlearn(theta_o, digits, random_split, "ssd", device="cpu", stop="none")
    assert res.passes["forward"] == res.passes["backward"] == n_f + n
    for stop in ("none", "auto"):
        res = uk.unlearn(theta_o, digits, random_split, "if", device="cpu", stop=stop)
        assert (res.passes["forward"], res.passes["backward"]) == (n, 0), stop


def test_bad_teacher_counts_both_teachers(digits, random_split, theta_o):
    """Every student pass (forward + backward) on D_r has θ_o's forward beside it and every one on D_f the
    random teacher's: forward = 2 × backward (the random teacher's passes were not counted)."""
    res = uk.unlearn(theta_o, digits, random_split, "bad_teacher", options={"epochs": 1}, device="cpu", stop="none")
    assert res.passes["backward"] > 0 and res.passes["forward"] == 2 * res.passes["backward"]


def test_unlearn_reports_passes_through_the_library(digits, random_split, theta_o):
    res = uk.unlearn(theta_o, digits, random_split, "ga", options={"epochs": 2}, device="cpu", stop="none")
    assert res.passes["forward"] == res.passes["backward"] == 2 * len(random_split.forget)
    assert np.isfinite(res.passes["total"])


def test_paired_difference_by_hand():
    from unlearnkit.bench.summary import paired_difference

    # d = [1, 2, 3]: mean 2, sd 1, n 3 → CI 4.3027/√3 ≈ 2.484 > 2 → within noise
    out = paired_difference([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    assert out["mean"] == 2.0 and out["n"] == 3 and out["within_noise"]
    assert out["ci"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    clear = paired_difference([10.0, 10.1, 9.9, 10.0], [1.0, 1.1, 0.9, 1.0])
    assert clear["mean"] == pytest.approx(9.0) and not clear["within_noise"]
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([1.0, 2.0], [1.0])


def test_per_class_fa_plot_averages_only_measured_classes(tmp_path):
    """Class forgetting leaves FA_per_class null for every class D_f lacks: the plot averages the measured
    classes per method, with no empty-slice warning (it used to print one per plot)."""
    import json
    import warnings

    from unlearnkit.bench.report import measured_mean, plot_per_class_fa

    fa = lambda a, b: json.dumps([None, a, None, b])  # noqa: E731
    df = pd.DataFrame(
        {
            "dataset": "d",
            "scenario": "class",
            "method": ["retrain", "rl", "rl"],
            "weighting": "uniform",
            "target": "none",
            "forget_counts": json.dumps([0, 5, 0, 3]),
            "FA_per_class": [fa(0.0, 0.0), fa(10.0, None), fa(30.0, 50.0)],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        files = plot_per_class_fa(df, tmp_path)
    assert [f.name for f in files] == ["per_class_fa_d_class.png"] and files[0].stat().st_size > 0
    y = measured_mean(np.array([[np.nan, 10.0, np.nan], [np.nan, 30.0, 50.0]]))
    assert np.isnan(y[0]) and y[1:].tolist() == [20.0, 50.0]


def test_auto_stop_curve_is_the_kept_runs_with_the_kept_step_marked(tmp_path):
    """The report's auto-stop plot reads the run the lr search kept (its lr and length), marks the kept step, takes
    the first run where θ_o was kept (step 0), and has nothing to plot for a strength search or stop: none."""
    from unlearnkit.bench.report import auto_stop_curves, plot_auto_stop

    def run(lr, gaps, epochs=3):
        return [{"step": 10 * i, "proxy_gap": g, "lr": lr, "epochs": epochs} for i, g in enumerate(gaps)]

    runs = [dict(lr=0.01, epochs=3), dict(lr=0.1, epochs=3)]
    histories = {
        "moved": run(0.01, [9.0, 8.0, 8.5])
        + run(0.1, [9.0, 4.0, 2.0, 3.0])
        + [{"auto_stop": {"best_step": 20, "lr": 0.1, "epochs": 3, "runs": runs}}],
        "kept": run(0.01, [9.0, 9.5])
        + run(0.1, [9.0, 30.0])
        + [{"auto_stop": {"best_step": 0, "lr": None, "runs": runs}}],
        "strength": [{"alpha": 1.0, "proxy_gap": 3.0}, {"auto_stop": {"option": "alpha", "best_value": 1.0}}],
        "none": [{"epoch": 1, "FA": 50.0}],
    }
    df = pd.DataFrame(
        {
            "config_hash": list(histories),
            "dataset": "d",
            "scenario": "s",
            "method": ["rl", "ft", "ssd", "ga"],
            "weighting": "uniform",
            "target": "none",
            "seed": 0,
        }
    )
    c = auto_stop_curves(df, histories)
    moved, kept = c[c["label"] == "rl"], c[c["label"] == "ft"]
    assert moved["proxy_gap"].tolist() == [9.0, 4.0, 2.0, 3.0] and moved["kept"].tolist() == [False, False, True, False]
    assert kept["proxy_gap"].tolist() == [9.0, 9.5] and kept["kept"].tolist() == [True, False]
    assert set(c["label"]) == {"rl", "ft"}
    files = plot_auto_stop(df, histories, tmp_path)
    assert [f.name for f in files] == ["auto_stop_d_s.png"] and files[0].stat().st_size > 0
    assert plot_auto_stop(df[df["method"].isin(["ssd", "ga"])], histories, tmp_path) == []


def test_weight_diagnostics_and_fairness_plots_draw_what_the_rows_hold(tmp_path):
    """FaLW's per-step mean weights (its declared ``step_diagnostics``) give one plot per data set × scenario, read off
    the kept run; rows without them (uniform) none. The fairness plot needs acc/target before and after, and is
    skipped for rows without them."""
    from unlearnkit.bench.report import _history_frame, plot_fairness, plot_weight_diagnostics

    falw = [
        {"step": s, "falw_mean_w_head": 1.0 - 0.1 * s, "falw_mean_w_mid": 1.0, "falw_mean_w_tail": 1.0 + 0.2 * s}
        for s in (1, 2, 3)
    ]
    histories = {"f": falw, "u": [{"step": 1, "proxy_gap": 3.0}]}
    df = pd.DataFrame(
        {
            "config_hash": ["f", "u"],
            "dataset": "d",
            "scenario": "long tail",
            "method": "rl",
            "weighting": ["falw", "uniform"],
            "target": "none",
            "seed": 0,
        }
    )
    h = _history_frame(df, histories, {"falw_mean_w_head"})
    assert h["label"].tolist() == ["rl + falw"] * 3 and h["step"].tolist() == [1, 2, 3]
    files = plot_weight_diagnostics(df, histories, tmp_path)
    assert [f.name for f in files] == ["weights_d_long_tail.png"] and files[0].stat().st_size > 0
    assert plot_weight_diagnostics(df[df["weighting"] == "uniform"], histories, tmp_path) == []
    fair = pd.DataFrame(
        {
            "method": ["rl", "rl"],
            "weighting": ["soft", "uniform"],
            "target": "none",
            "correction_target": "dp",
            "acc_before": [80.0, 80.0],
            "acc_after": [79.0, None],
            "target_before": [0.2, 0.2],
            "target_after": [0.05, None],
        }
    )
    assert [f.name for f in plot_fairness(fair, tmp_path)] == ["fairness_vs_accuracy.png"]
    assert plot_fairness(fair.assign(acc_after=None), tmp_path) == []
    assert plot_fairness(fair.drop(columns=["acc_after"]), tmp_path) == []
