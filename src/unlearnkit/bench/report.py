"""Reports for a run directory: results.csv, report.md, a self-contained report.html and PNG plots
(per-class FA head → tail vs retrain, MIA confidence histograms, Avg.Gap vs time Pareto,
fairness vs accuracy, FaLW weight diagnostics, per-epoch curves)."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UnlearnkitError
from ..eval.base import Column
from ..stopping import kept_run
from ..weighting import WEIGHTINGS
from .columns import all_columns, table_columns
from .store import ResultStore
from .summary import fmt, summarize


def _label(r) -> str:
    parts = [str(r["method"])]
    if r.get("weighting") not in (None, "uniform") and not pd.isna(r.get("weighting")):
        parts.append(str(r["weighting"]))
    if r.get("target") not in (None, "none") and not pd.isna(r.get("target")):
        parts.append(str(r["target"]))
    return " + ".join(parts)


def _slug(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(map(str, parts))).strip("_")[:80]


def best_marks(summary: pd.DataFrame, columns: list[Column]) -> dict[tuple[int, str], bool]:
    """(row, column) → best within its dataset/scenario by the column's declared goal: closest to retrain
    (``match_retrain``), lowest (``min``), highest (``max``), on |value| when ``absolute``; ``info``
    columns are never marked, nor are the ``original`` and ``retrain`` rows."""
    marks = {}
    for _, g in summary.groupby(["dataset", "scenario"], sort=False):
        cand = g[~g["method"].isin(["original", "retrain"])]
        ref = g[g["method"] == "retrain"]
        for c in columns:
            col = f"{c.name}_mean"
            if c.goal == "info" or col not in g or cand[col].isna().all():
                continue
            values = cand[col].abs() if c.absolute else cand[col]
            if c.goal == "match_retrain":
                if ref.empty:
                    continue
                score = (values - ref[col].iloc[0]).abs()
            else:
                score = values if c.goal == "min" else -values
            best = score.min()
            for i in cand.index[score == best]:
                marks[(i, c.name)] = True
    return marks


# --- plots -----------------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int = 110) -> Path:
    """tight_layout, write the PNG, free the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _plt().close(fig)
    return path


def measured_mean(table: np.ndarray) -> np.ndarray:
    """Column means over the non-NaN entries; NaN where a column has none (no empty-slice warning)."""
    seen = (~np.isnan(table)).sum(0)
    return np.where(seen > 0, np.nansum(table, axis=0) / np.maximum(seen, 1), np.nan)


def plot_per_class_fa(df: pd.DataFrame, out: Path) -> list[Path]:
    """Per-class FA, classes ordered head → tail by forget count, each method vs retrain."""
    plt = _plt()
    files = []
    if "FA_per_class" not in df:
        return files
    for (ds, sc), g in df.groupby(["dataset", "scenario"], sort=False):
        counts = np.array(json.loads(g["forget_counts"].iloc[0]))
        classes = [c for c in np.argsort(-counts, kind="stable") if counts[c] > 0]
        if len(classes) < 2:
            continue
        fig, ax = plt.subplots(figsize=(8, 4.2))
        for label, gg in g.groupby(g.apply(_label, axis=1), sort=False):
            table = np.array(
                [[np.nan if v is None else v for v in json.loads(s)] for s in gg["FA_per_class"]], dtype=float
            )
            y = measured_mean(table[:, classes])
            style = dict(color="black", lw=2.5, ls="--") if label == "retrain" else dict(lw=1.3, marker="o", ms=3)
            ax.plot(range(len(classes)), y, label=label, **style)
        ax.set_xticks(range(len(classes)), [f"{c}\n({counts[c]})" for c in classes], fontsize=8)
        ax.set_xlabel("class (forget count), head → tail")
        ax.set_ylabel("FA per class (%)")
        ax.set_title(f"{ds} · {sc}: per-class forget accuracy vs retrain", fontsize=10)
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
        files.append(_save(fig, out / f"per_class_fa_{_slug(ds, sc)}.png", 110))
    return files


def plot_mia_histograms(df: pd.DataFrame, out: Path) -> list[Path]:
    """D_f's true-class confidence (the MIA-efficacy feature): unlearned vs retrain, per method."""
    plt = _plt()
    files = []
    if "MIA_conf_hist" not in df or "MIA_conf_hist_retrain" not in df:
        return files
    for (ds, sc), g in df.groupby(["dataset", "scenario"], sort=False):
        groups = [(lab, gg) for lab, gg in g.groupby(g.apply(_label, axis=1), sort=False) if lab != "retrain"]
        if not groups:
            continue
        cols = min(4, len(groups))
        rows = int(np.ceil(len(groups) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharey=True)
        for ax, (lab, gg) in zip(axes.flat, groups):
            u = np.sum([json.loads(s) for s in gg["MIA_conf_hist"].dropna()], axis=0)
            r = np.sum([json.loads(s) for s in gg["MIA_conf_hist_retrain"].dropna()], axis=0)
            edges = np.linspace(0, 1, len(u) + 1)
            ax.stairs(u / max(u.sum(), 1), edges, fill=True, alpha=0.5, label="unlearned")
            ax.stairs(r / max(r.sum(), 1), edges, color="black", lw=1.5, label="retrain")
            ax.set_title(lab, fontsize=9)
            ax.set_xlabel("p(true class) on D_f", fontsize=8)
        for ax in list(axes.flat)[len(groups) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"{ds} · {sc}: MIA feature distribution on D_f", fontsize=10)
        files.append(_save(fig, out / f"mia_hist_{_slug(ds, sc)}.png", 100))
    return files


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of (time, gap) points not dominated by another (lower is better in both)."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    front, best = [], np.inf
    for i in order:
        if points[i, 1] < best:
            front.append(i)
            best = points[i, 1]
    return np.array(front, dtype=int)


def plot_pareto(summary: pd.DataFrame, out: Path) -> list[Path]:
    plt = _plt()
    files = []
    if not {"avg_gap_mean", "unlearn_s_mean"} <= set(summary.columns):
        return files
    s = summary[~summary["method"].isin(["original"])].dropna(subset=["avg_gap_mean", "unlearn_s_mean"])
    for ds, g in s.groupby("dataset", sort=False):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for sc, gg in g.groupby("scenario", sort=False):
            x = gg["unlearn_s_mean"].clip(lower=1e-4).to_numpy()
            y = gg["avg_gap_mean"].to_numpy()
            ax.scatter(x, y, label=sc, s=25)
            for xi, yi, (_, r) in zip(x, y, gg.iterrows()):
                ax.annotate(_label(r), (xi, yi), fontsize=6, alpha=0.8, xytext=(2, 2), textcoords="offset points")
            front = pareto_front(np.c_[x, y])
            ax.plot(x[front], y[front], lw=0.8, alpha=0.6)
        if "avg_gap_floor_mean" in g and g["avg_gap_floor_mean"].notna().any():
            ax.axhline(g["avg_gap_floor_mean"].mean(), color="grey", ls=":", lw=1.2, label="noise floor (θ_r′ vs θ_r)")
        ax.set_xscale("log")
        ax.set_xlabel("unlearn time (s, log)")
        ax.set_ylabel("Avg.Gap to retrain (lower is better)")
        ax.set_title(f"{ds}: Avg.Gap vs time (lines: Pareto front per scenario)", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        files.append(_save(fig, out / f"pareto_{_slug(ds)}.png", 110))
    return files


def plot_fairness(df: pd.DataFrame, out: Path) -> list[Path]:
    if not {"acc_after", "target_after"} <= set(df.columns) or df["acc_after"].isna().all():
        return []
    plt = _plt()
    d = df.dropna(subset=["acc_after", "target_after"])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    key = d["correction_target"].astype(str) if "correction_target" in d else pd.Series("target", index=d.index)
    for (tgt, lab), g in d.groupby([key, d.apply(_label, axis=1)], sort=False):
        ax.scatter(g["target_after"], g["acc_after"], s=22, label=f"{tgt}: {lab}")
    ax.scatter(d["target_before"], d["acc_before"], marker="x", color="black", label="before")
    ax.set_xlabel("target metric after (|DP| / |EOP| gap, or robust accuracy)")
    ax.set_ylabel("test accuracy after (%)")
    ax.set_title("fairness / robustness correction: target vs accuracy", fontsize=10)
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)
    return [_save(fig, out / "fairness_vs_accuracy.png", 110)]


def _history_frame(df: pd.DataFrame, histories: dict, keys: set[str]) -> pd.DataFrame:
    """The entries with any of ``keys`` of each row's kept run, with the row's data set, scenario, label, seed
    and ``config_hash``."""
    rows = []
    for _, r in df.iterrows():
        for h in kept_run(histories.get(r["config_hash"], [])):
            if keys & set(h):
                rows.append(
                    {
                        **h,
                        "dataset": r["dataset"],
                        "scenario": r["scenario"],
                        "label": _label(r),
                        "seed": r["seed"],
                        "config_hash": r["config_hash"],
                    }
                )
    return pd.DataFrame(rows)


def plot_weight_diagnostics(df: pd.DataFrame, histories: dict, out: Path) -> list[Path]:
    """Per-step history series each registered weighting declares (``step_diagnostics``; FaLW: mean
    weight per head / mid / tail third — "is the weighting doing anything?")."""
    files = []
    for wname, wcls in WEIGHTINGS.items():
        series = wcls.step_diagnostics
        if not series:
            continue
        cols = list(series)
        h = _history_frame(df, histories, set(cols))
        if h.empty:
            continue
        plt = _plt()
        for (ds, sc), g in h.groupby(["dataset", "scenario"], sort=False):
            labels = list(dict.fromkeys(g["label"]))
            fig, axes = plt.subplots(1, len(labels), figsize=(3.3 * len(labels), 2.8), squeeze=False, sharey=True)
            for ax, lab in zip(axes.flat, labels):
                gg = g[g["label"] == lab].groupby("step")[cols].mean()
                for c in cols:
                    ax.plot(gg.index, gg[c], label=series[c])
                ax.axhline(1.0, color="grey", lw=0.8, ls=":")
                ax.set_title(lab, fontsize=9)
                ax.set_xlabel("step")
            axes.flat[0].set_ylabel(wcls.step_diagnostics_title)
            axes.flat[0].legend(fontsize=7)
            fig.suptitle(f"{ds} · {sc}: {wname} {wcls.step_diagnostics_title}", fontsize=10)
            name = "weights" if wname == "falw" else f"weights_{wname}"
            files.append(_save(fig, out / f"{name}_{_slug(ds, sc)}.png", 100))
    return files


def plot_epoch_curves(df: pd.DataFrame, histories: dict, out: Path) -> list[Path]:
    """The per-epoch columns (FA/RA/TA/MIA) after each unlearning epoch (bench ``epoch_eval: true``), mean
    over seeds."""
    h = _history_frame(df, histories, {"epoch"})
    per_epoch = [c.name for c in all_columns().values() if c.per_epoch]
    metrics = [m for m in per_epoch if m in h]
    if h.empty or not metrics:
        return []
    plt = _plt()
    files = []
    for (ds, sc), g in h.groupby(["dataset", "scenario"], sort=False):
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics), 2.9), squeeze=False)
        ref = df[(df["dataset"] == ds) & (df["scenario"] == sc) & (df["method"] == "retrain")]
        for ax, m in zip(axes.flat, metrics):
            for lab, gg in g.groupby("label", sort=False):
                mean = gg.groupby("epoch")[m].mean()
                ax.plot(mean.index, mean.values, marker="o", ms=3, label=lab)
            if not ref.empty and m in ref:
                ax.axhline(ref[m].mean(), color="black", ls="--", lw=1.2, label="retrain")
            ax.set_title(m, fontsize=9)
            ax.set_xlabel("epoch")
        axes.flat[0].legend(fontsize=6)
        fig.suptitle(f"{ds} · {sc}: metrics by unlearning epoch", fontsize=10)
        files.append(_save(fig, out / f"epochs_{_slug(ds, sc)}.png", 100))
    return files


def auto_stop_curves(df: pd.DataFrame, histories: dict) -> pd.DataFrame:
    """stop: auto's proxy curve of each row, by optimiser step, in the run it kept (the lr search's chosen lr and
    length; the first run where θ_o was kept), and whether each step is the kept state (``kept``; step 0 where θ_o
    itself was kept). Rows without a per-step curve (stop: none, one-shot methods' strength search) have none."""
    cols = ["dataset", "scenario", "label", "seed", "step", "proxy_gap", "kept"]
    best = {}  # config_hash → the kept step, for rows whose auto summary has one (a per-step search)
    for key in df["config_hash"]:
        auto = next((h["auto_stop"] for h in reversed(histories.get(key, [])) if "auto_stop" in h), None)
        if auto is not None and "best_step" in auto:
            best[key] = int(auto["best_step"])
    h = _history_frame(df[df["config_hash"].isin(best)], histories, {"proxy_gap"})
    if h.empty or "step" not in h:
        return pd.DataFrame(columns=cols)
    h = h[h["step"].notna()].astype({"step": int, "proxy_gap": float})
    h["kept"] = h["step"] == h["config_hash"].map(best)
    return h[cols].drop_duplicates(["dataset", "scenario", "label", "seed", "step"]).reset_index(drop=True)


def plot_auto_stop(df: pd.DataFrame, histories: dict, out: Path) -> list[Path]:
    """One figure per data set and scenario: each method's proxy gap by step in the run auto kept, a line per
    seed, the kept state starred (:func:`auto_stop_curves`)."""
    c = auto_stop_curves(df, histories)
    if c.empty:
        return []
    plt = _plt()
    files = []
    for (ds, sc), g in c.groupby(["dataset", "scenario"], sort=False):
        labels = list(dict.fromkeys(g["label"]))
        ncols = min(4, len(labels))
        nrows = -(-len(labels) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
        for ax, lab in zip(axes.flat, labels):
            for seed, gs in g[g["label"] == lab].groupby("seed", sort=True):
                gs = gs.sort_values("step")
                (line,) = ax.plot(gs["step"], gs["proxy_gap"], marker="o", ms=2.5, lw=1, label=f"seed {seed}")
                k = gs[gs["kept"]]
                ax.plot(k["step"], k["proxy_gap"], marker="*", ms=11, ls="none", color=line.get_color())
            ax.set_title(lab, fontsize=9)
            ax.set_xlabel("step")
        for ax in list(axes.flat)[len(labels) :]:
            ax.axis("off")
        axes.flat[0].set_ylabel("proxy gap")
        axes.flat[0].legend(fontsize=6)
        fig.suptitle(f"{ds} · {sc}: proxy gap by step in the run auto kept (★ the kept state)", fontsize=10)
        files.append(_save(fig, out / f"auto_stop_{_slug(ds, sc)}.png", 100))
    return files


# --- tables and documents --------------------------------------------------------------------------
def _columns(summary: pd.DataFrame, metrics: list[str] | None) -> list[Column]:
    declared = all_columns(metrics)
    return [
        declared[c] for c in table_columns(metrics) if f"{c}_mean" in summary and not summary[f"{c}_mean"].isna().all()
    ]


def _cell(r, c: Column, marks, i) -> tuple[str, bool]:
    text = fmt(r[f"{c.name}_mean"], r[f"{c.name}_ci"], c.digits)
    if c.name == "avg_gap" and within_floor(r):
        text += " ≈r"
    return text, marks.get((i, c.name), False)


def within_floor(r) -> bool:
    """Avg.Gap within the noise floor (Avg.Gap of another retrained model): indistinguishable from
    retraining at this sample size. Never for the ``retrain`` row itself."""
    gap, floor = r.get("avg_gap_mean"), r.get("avg_gap_floor_mean")
    return r.get("method") != "retrain" and not (pd.isna(gap) or pd.isna(floor)) and gap <= floor


def md_escape(text) -> str:
    """A label written into Markdown as literal text: HTML-escaped (report.md is often rendered as
    HTML) and with the characters Markdown tables and emphasis read escaped."""
    return re.sub(r"([\\`*_{}\[\]|#$<>!])", r"\\\1", html.escape(str(text), quote=False)).replace("\n", " ")


def markdown(summary: pd.DataFrame, cfg: dict, plots: list[Path], failures, skipped_note: str) -> str:
    cols = _columns(summary, cfg.get("metrics"))
    marks = best_marks(summary, cols)
    e = md_escape
    lines = [
        f"# unlearnkit report: {e(cfg.get('name', 'bench'))}",
        "",
        e(cfg.get("description", "")),
        "",
        f"Seeds: {e(cfg.get('seeds'))}; model: {e(cfg.get('model', {}).get('name'))}; "
        f"metrics: {e(', '.join(cfg.get('metrics', [])))}. Mean ± 95 % CI over seeds (t-interval; n = the "
        f"seeds column); **bold** = best per "
        f"dataset/scenario by each column's goal (see definitions: closest to retrain, lowest or highest). "
        f"MIA is **MIA-efficacy** (see definitions below). ≈r: Avg.Gap within the noise floor (the Avg.Gap "
        f"of a second retrained model), i.e. indistinguishable from retraining at this sample size.",
        "",
    ]
    for (ds, sc), g in summary.groupby(["dataset", "scenario"], sort=False):
        lines += [
            f"## {e(ds)} · {e(sc)}",
            "",
            "| method | weighting | target | " + " | ".join(e(c.label) for c in cols) + " | seeds |",
            "|" + "---|" * (len(cols) + 4),
        ]
        for i, r in g.iterrows():
            cells = []
            for c in cols:
                text, best = _cell(r, c, marks, i)
                cells.append(f"**{text}**" if best else text)
            lines.append(
                f"| {e(r['method'])} | {e(r['weighting'])} | {e(r['target'])} | " + " | ".join(cells) + f" | {r['n']} |"
            )
        lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    if failures:
        lines += ["## Failed jobs", ""] + [f"- `{k}`: {e(err)}" for k, err in failures] + [""]
    if skipped_note:
        lines += [e(skipped_note), ""]
    lines += ["## Metric definitions", ""] + [f"- **{e(c.label)}** — {e(c.definition)}" for c in cols]
    return "\n".join(lines) + "\n"


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.85rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}td.best{font-weight:700;background:#e8f5e9}tr.ref td{color:#555;background:#fafafa}
img{max-width:100%;border:1px solid #eee;margin:.5rem 0}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem}
.note{color:#555;font-size:.9rem}dt{font-weight:700;margin-top:.4rem}"""


def html_report(summary: pd.DataFrame, cfg: dict, plots: list[Path], failures, skipped_note: str) -> str:
    cols = _columns(summary, cfg.get("metrics"))
    marks = best_marks(summary, cols)
    e = html.escape
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>unlearnkit report: {e(cfg.get('name', ''))}"
        f"</title><style>{CSS}</style></head><body>",
        f"<h1>unlearnkit report: {e(cfg.get('name', 'bench'))}</h1><p>{e(cfg.get('description', ''))}</p>",
        f"<p class='note'>Seeds {e(str(cfg.get('seeds')))} · model {e(str(cfg.get('model', {}).get('name')))} · "
        "mean ± 95 % CI over seeds (t-interval; n = the seeds column) · ≈r: Avg.Gap within the noise floor "
        "(indistinguishable from retraining at this sample size) · <b>bold</b> = best per dataset/scenario by each column's goal (closest to "
        "retrain, lowest or highest; see the definitions). The MIA column is <a href='#def-MIA'>MIA-efficacy</a>; all column "
        "headers link to their <a href='#definitions'>definitions</a>.</p>",
    ]
    for (ds, sc), g in summary.groupby(["dataset", "scenario"], sort=False):
        parts.append(
            f"<h2>{e(str(ds))} · {e(str(sc))}</h2><table><tr><th class='l'>method</th><th class='l'>weighting</th>"
            "<th class='l'>target</th>"
            + "".join(f"<th><a href='#def-{e(c.name)}'>{e(c.label)}</a></th>" for c in cols)
            + "<th>seeds</th></tr>"
        )
        for i, r in g.iterrows():
            cls = " class='ref'" if r["method"] in ("original", "retrain") else ""
            cells = "".join(
                f"<td class='best'>{e(t)}</td>" if b else f"<td>{e(t)}</td>"
                for t, b in (_cell(r, c, marks, i) for c in cols)
            )
            parts.append(
                f"<tr{cls}><td class='l'>{e(str(r['method']))}</td><td class='l'>{e(str(r['weighting']))}</td>"
                f"<td class='l'>{e(str(r['target']))}</td>{cells}<td>{r['n']}</td></tr>"
            )
        parts.append("</table>")
    if plots:
        parts.append("<h2>Plots</h2>")
        for p in plots:
            data = base64.b64encode(p.read_bytes()).decode()
            parts.append(
                f"<figure><img alt='{e(p.stem)}' src='data:image/png;base64,{data}'>"
                f"<figcaption class='note'>{e(p.name)}</figcaption></figure>"
            )
    if failures:
        parts.append(
            "<h2>Failed jobs</h2><ul>" + "".join(f"<li><code>{e(k)}</code>: {e(v)}</li>" for k, v in failures) + "</ul>"
        )
    if skipped_note:
        parts.append(f"<p class='note'>{e(skipped_note)}</p>")
    parts.append(
        "<h2 id='definitions'>Metric definitions</h2><dl>"
        + "".join(
            f"<dt id='def-{e(c.name)}'>{e(c.label)}</dt><dd>{e(c.definition)}"
            f"{' (' + e(c.unit) + ')' if c.unit else ''}</dd>"
            for c in cols
        )
        + "</dl></body></html>"
    )
    return "\n".join(parts)


def write_report(run_dir: str | Path) -> dict[str, Path]:
    """Write results.csv, report.md, report.html and PNGs into ``run_dir``; returns their paths."""
    run_dir = Path(run_dir)
    if not (run_dir / "results.db").exists():
        raise UnlearnkitError(f"{run_dir} has no results.db; run `unlearnkit bench --out {run_dir}` first")
    store = ResultStore(run_dir)
    df = store.frame()
    if df.empty:
        raise UnlearnkitError(f"{run_dir}/results.db holds no finished jobs yet; run or resume the bench first")
    csv = store.export_csv()
    cfg = store.meta("config", {}) or {}
    summary = summarize(df, table_columns(cfg.get("metrics")))
    histories = store.histories()
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):  # labels are literal text, never mathtext
        plots = (
            plot_per_class_fa(df, run_dir)
            + plot_mia_histograms(df, run_dir)
            + plot_pareto(summary, run_dir)
            + plot_fairness(df, run_dir)
            + plot_weight_diagnostics(df, histories, run_dir)
            + plot_epoch_curves(df, histories, run_dir)
            + plot_auto_stop(df, histories, run_dir)
        )
    failures = store.failures()
    md, page = run_dir / "report.md", run_dir / "report.html"
    skipped = store.meta("skipped", []) or []
    notes = (
        [
            f"{len(skipped)} method × weighting × target combinations don't apply and ran as the plain method "
            f"instead, e.g. {skipped[0]}"
        ]
        if skipped
        else []
    )
    notes += store.meta("unmet_metrics", []) or []  # metrics left out where their data needs are not met
    note = " ".join(n.rstrip(".") + "." for n in notes)
    md.write_text(markdown(summary, cfg, plots, failures, note))
    page.write_text(html_report(summary, cfg, plots, failures, note))
    return {"csv": csv, "md": md, "html": page, "plots": plots}
