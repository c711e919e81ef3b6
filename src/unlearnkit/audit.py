"""The audit of a deletion request: what was asked, what changed, and how close the model now looks to one
that never saw the data — without retraining (``--verify-retrain`` adds the true Avg.Gap).

``audit(model, original, data, split)`` measures, before (θ_o) and after (θ_u):

- FA: accuracy on the forget set D_f; RA: accuracy on a seeded sample of the retain set D_r
  (``retain_sample`` samples, all of D_r when smaller); held-out accuracy on H = ``split.unseen`` (data the
  model never trained on: an unseen split, the test split, or ``--holdout``); where the request removes every
  training sample of a class, also on H's samples of the other classes (``heldout_acc_kept``: the removed
  classes' held-out samples are expected wrong after unlearning, so the whole-H figure falls by their share);
- MIA-efficacy (SalUn's SVC attack, :func:`unlearnkit.eval.mia.mia_efficacy_score`) with the D_r sample as
  members and H as non-members, applied to D_f: % of D_f called non-member. A model that never saw D_f
  scores about what it scores on fresh data. Next to it the attack's balanced accuracy on D_r and H (a seeded
  1 000 of each at most; ``MIA_attack_acc``, :func:`unlearnkit.eval.mia.attack_accuracy`): near 50 the model's confidence
  does not tell members from held-out data and MIA-efficacy is where the attack's boundary happens to fall;
- per class of the request, FA next to held-out accuracy on the same class — for a model retrained without
  D_f the two agree up to noise, so a class whose FA sits far above its held-out accuracy is still remembered;
- the retrain-free proxy gap (metric ``proxy``) when that metric is registered, and ‖θ_u − θ_o‖₂.

Every number is a deterministic function of the two weight files, the data, the split and the options, so
``unlearnkit audit`` recomputes them from the saved files (``measurements(record)`` is what must match).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from .errors import UnlearnkitError
from .eval.accuracy import accuracy, per_class_accuracy
from .eval.mia import attack_accuracy, confidence_features, fit_attacks, mia_efficacy_score
from .eval.proxy.strata import gone_classes
from .predict import predict_logits
from .stopping import StopOptions, short_of_target, two_sample_se, unresolved_bound
from .unlearn import parameter_distance

FORMAT = "unlearnkit-audit"
MEASURED = (
    "request",
    "data",
    "options",
    "before",
    "after",
    "per_class",
    "proxy_gap_before",
    "proxy_gap_after",
    "param_change",
)


class AuditOptions(BaseModel):
    """How the audit measures (recorded in the audit, so a recomputation uses the same settings)."""

    model_config = ConfigDict(extra="forbid")
    retain_sample: int = Field(2000, ge=1, description="RA and the MIA's members: a seeded sample of D_r this large")
    seed: int = Field(0, description="seed of the retain sample and the MIA's subsampling")
    mia_feature: Literal["confidence", "entropy", "m_entropy", "correctness", "prob"] = "confidence"
    mia_max_shadow: int | None = Field(
        5000,
        ge=2,
        description="cap on the attack's samples per side (the SVC is quadratic); None = every held-out sample",
    )
    mia_fits: int = Field(
        1,
        ge=1,
        description="MIA-efficacy averaged over this many attacks, each on its own seeded balanced subsample (1: "
        "SalUn's single attack); where a model barely tells members from held-out data, one attack's operating "
        "point moves with its subsample",
    )


def _num(x) -> float | None:
    """JSON-safe float (nan → None)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def ids_sha256(ids: np.ndarray) -> str:
    return hashlib.sha256(np.sort(np.asarray(ids, dtype=np.int64)).tobytes()).hexdigest()


def retain_sample(split, options: AuditOptions) -> np.ndarray:
    r = split.retain
    if len(r) <= options.retain_sample:
        return r
    rng = np.random.default_rng(options.seed)
    return np.sort(rng.choice(r, size=options.retain_sample, replace=False))


def proxy_gaps(model, original, data, split, device, seed: int) -> tuple[float | None, float | None]:
    """proxy_gap of θ_o and θ_u from the registered ``proxy`` metric (retrain-free; never reads θ_r)."""
    from .eval import METRICS, Evaluation
    from .options import build

    metric = build(METRICS, "proxy")
    ev = Evaluation(data, split, device, seed, original=original)
    return _num(metric.compute(original, ev)["proxy_gap"]), _num(metric.compute(model, ev)["proxy_gap"])


def _side(
    logits: dict, labels: dict, options: AuditOptions, num_classes: int, kept: torch.Tensor | None
) -> tuple[dict, list, list]:
    """One model's measures. ``kept``: where classes are gone, the held-out samples of the other classes."""
    feats = {k: confidence_features(logits[k], labels[k], options.mia_feature) for k in ("retain", "heldout", "forget")}
    attacks = fit_attacks(feats["retain"], feats["heldout"], options.seed, options.mia_max_shadow, options.mia_fits)
    mia = mia_efficacy_score(feats["retain"], feats["heldout"], feats["forget"], attacks=attacks)
    out = {
        "FA": _num(accuracy(logits["forget"], labels["forget"])),
        "RA": _num(accuracy(logits["retain"], labels["retain"])),
        "heldout_acc": _num(accuracy(logits["heldout"], labels["heldout"])),
    }
    if kept is not None:  # a removed class's held-out samples should now be wrong: that is no damage
        out["heldout_acc_kept"] = _num(accuracy(logits["heldout"][kept], labels["heldout"][kept]))
    out["MIA"] = _num(mia)
    out["MIA_attack_acc"] = _num(attack_accuracy(attacks, feats["retain"], feats["heldout"], options.seed))
    fa_c = per_class_accuracy(logits["forget"], labels["forget"], num_classes)
    ho_c = per_class_accuracy(logits["heldout"], labels["heldout"], num_classes)
    return out, fa_c, ho_c


@torch.no_grad()
def audit(
    model, original, data, split, *, options: AuditOptions | dict | None = None, device: str | torch.device = "cpu"
) -> dict:
    """The audit record (a JSON-able dict) of unlearning ``split.forget`` from ``original`` into ``model``.

    ``data`` is the ArrayDataset, ``split`` the request's Split (``unlearnkit.checkpoint.deletion_split``);
    held-out data is ``split.unseen``. The CLI adds ``run`` (method, options, wall time, passes, history) and,
    with ``--verify-retrain``, ``verify_retrain``; :data:`MEASURED` are the keys recomputable from files."""
    from .device import resolve_device
    from .options import parse_options

    opts = parse_options(AuditOptions, options, "audit")
    dev = resolve_device(device)
    if len(split.unseen) == 0:
        raise UnlearnkitError(
            "the audit needs held-out data (split.unseen: samples the model never trained on); "
            "pass --holdout FILE or a dataset with a test split"
        )
    model, original = on_device(model, dev), on_device(original, dev)
    parts = {"forget": split.forget, "retain": retain_sample(split, opts), "heldout": split.unseen}
    labels = {k: torch.as_tensor(data.labels[v]) for k, v in parts.items()}
    gone = gone_classes(data.labels[split.forget], data.labels[split.retain])  # class requests: none left in D_r
    kept = torch.as_tensor(~np.isin(data.labels[split.unseen], gone)) if len(gone) else None
    sides = {}
    for name, m in (("before", original), ("after", model)):
        logits = {k: predict_logits(m, data, v, device=dev) for k, v in parts.items()}
        sides[name] = _side(logits, labels, opts, data.num_classes, kept)
    counts = np.bincount(data.labels[split.forget], minlength=data.num_classes)
    ho_counts = np.bincount(data.labels[split.unseen], minlength=data.num_classes)
    names = data.class_names or [str(c) for c in range(data.num_classes)]
    per_class = [
        {
            "class": int(c),
            "name": names[c],
            "n_forget": int(counts[c]),
            "n_heldout": int(ho_counts[c]),
            "FA_before": _num(sides["before"][1][c]),
            "FA_after": _num(sides["after"][1][c]),
            "heldout_acc_before": _num(sides["before"][2][c]),
            "heldout_acc_after": _num(sides["after"][2][c]),
        }
        for c in np.flatnonzero(counts)
    ]
    from .checkpoint import data_fingerprint

    pg_before, pg_after = proxy_gaps(model, original, data, split, dev, opts.seed)
    return {
        "format": FORMAT,
        "format_version": 1,
        "request": {
            "n_forget": int(len(split.forget)),
            "forget_counts": counts.tolist(),
            "forget_sha256": ids_sha256(split.forget),
        },
        "data": {
            "name": data.name,
            "fingerprint": data_fingerprint(data),
            "num_classes": int(data.num_classes),
            "n_train": int(len(split.train)),
            "n_retain": int(len(split.retain)),
            "n_retain_sample": int(len(parts["retain"])),
            "n_heldout": int(len(split.unseen)),
        },
        "options": opts.model_dump(),
        "before": sides["before"][0],
        "after": sides["after"][0],
        "per_class": per_class,
        "proxy_gap_before": pg_before,
        "proxy_gap_after": pg_after,
        "param_change": _num(parameter_distance(model, original)),
    }


def on_device(model, device: torch.device):
    """``model`` itself when its parameters are on ``device``, else a copy there (the caller's model is not moved)."""
    import copy

    p = next(iter(model.parameters()), None)
    if p is None or p.device == torch.device(device):
        return model
    return copy.deepcopy(model).to(device)


def measurements(record: dict) -> dict:
    """The part of an audit record that is recomputable from the saved files (for comparison)."""
    return {k: record.get(k) for k in MEASURED}


def differences(a: dict, b: dict, path: str = "") -> list[str]:
    """Paths where two JSON-like values differ (exact equality; floats compared bit for bit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


# ------------------------------------------------------------------------------------------- θ_r (optional)
def verify_retrain(
    model,
    original,
    data,
    split,
    new_model,
    train_config,
    seed: int,
    device,
    cache_dir,
    key_payload: dict,
    augment=None,
) -> dict:
    """Train θ_r on D_r (cached under ``cache_dir``; with θ_o's data ``augment``, which ``key_payload`` must
    name) and report the true Avg.Gap of θ_u and of θ_o, with the registry's gap metrics (``accuracy``,
    ``mia_efficacy``; test = the test split, else the held-out set)."""
    import time

    from .cache import ModelCache, fingerprint
    from .data.split import Split
    from .eval import METRICS, Evaluation, avg_gap, gap_columns
    from .options import build
    from .training import train_model

    cache = ModelCache(cache_dir)
    key = fingerprint(
        dict(
            key_payload,
            retain=np.asarray(split.retain),
            train=train_config.model_dump(),
            seed=seed,
            purpose="verify_retrain",
        )
    )

    def build_seeded():
        torch.manual_seed(seed)
        return new_model().to(device)

    model, original = on_device(model, device), on_device(original, device)
    t0 = time.perf_counter()
    retrained, meta = cache.get_or_train(
        key,
        build_seeded,
        lambda m: train_model(m, data, split.retain, train_config, device, seed=seed, augment=augment),
        label="retrain",
    )
    seconds = time.perf_counter() - t0
    test = split.test if len(split.test) else split.unseen
    ev_split = Split(split.train, test, split.unseen, split.forget, split.info, split.purpose)
    ev = Evaluation(data, ev_split, device, seed, original=original, retrained=retrained)
    rows = {}
    for name, m in (("unlearned", model), ("original", original), ("retrained", retrained)):
        row = {}
        for metric in (n for n in METRICS.names() if gap_columns([n])):  # the metrics that make up Avg.Gap
            row.update(build(METRICS, metric).compute(m, ev))
        rows[name] = {c: _num(row[c]) for c in gap_columns()}
    return {
        "avg_gap": _num(avg_gap(rows["unlearned"], rows["retrained"])),
        "avg_gap_original": _num(avg_gap(rows["original"], rows["retrained"])),
        **rows,
        "train_s": meta["train_s"],
        "cached": meta["cached"],
        "seconds": seconds,
        "train_config": train_config.model_dump(),
        "cache_key": key,
    }


# --------------------------------------------------------------------------------------------------- writers
def _passes(run: dict) -> str:
    """Per-sample forward + backward passes of the method (and those spent evaluating, e.g. stop: auto)."""
    p = run.get("passes")
    if not isinstance(p, dict):
        return "—"
    return f"{p.get('total', '—')} (+{p.get('eval_forward', 0)} evaluation)"


def _f(x, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _rows(record: dict) -> list[tuple[str, str, str, str]]:
    b, a = record["before"], record["after"]
    rows = [
        ("FA (forget-set accuracy, %)", "FA"),
        ("RA (retain accuracy, %, sample)", "RA"),
        ("held-out accuracy (%)", "heldout_acc"),
        ("held-out accuracy, kept classes (%)", "heldout_acc_kept"),  # only where a class is gone
        ("MIA-efficacy (% of D_f called non-member)", "MIA"),
        ("MIA attack's balanced accuracy (%, 50 = chance)", "MIA_attack_acc"),
    ]
    rows = [(label, k) for label, k in rows if k in b]
    out = [
        (label, _f(b[k]), _f(a[k]), _f(None if b[k] is None or a[k] is None else a[k] - b[k], 2)) for label, k in rows
    ]
    pb, pa = record.get("proxy_gap_before"), record.get("proxy_gap_after")
    out.append(
        (
            "proxy gap (est. Avg.Gap to retrain, no retraining)",
            _f(pb),
            _f(pa),
            _f(None if pb is None or pa is None else pa - pb),
        )
    )
    return out


def _g(v: object) -> str:
    """A number to four significant digits (``None`` and non-numbers as they are)."""
    return f"{v:.4g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _gap(a: dict) -> str:
    """The kept state's proxy gap, and θ_o's where the summary has it (``original_proxy_gap``)."""
    g0 = a.get("original_proxy_gap")
    return f"proxy gap {_g(a.get('best_proxy_gap'))}" + (f" against θ_o's {_g(g0)}" if g0 is not None else "")


def _stop_lines(run: dict) -> list[str]:
    """Where an automatic stop ended and why, when the run's history says so."""
    lines = []
    for h in run.get("history") or []:
        a = h.get("auto_stop") if isinstance(h, dict) else None
        if not isinstance(a, dict):
            continue
        if "best_value" in a:  # a one-shot method's strength search
            tried = ", ".join(_g(v) for v in sorted(t for t in a.get("tried") or [] if t is not None))
            best = a.get("best_value")
            chosen = a.get("best_options") or ({a.get("option"): best} if best is not None else None)
            kept = (
                "θ_o kept (no strength beat it)"
                if chosen is None
                else ", ".join(f"{k} = {_g(v)}" for k, v in chosen.items())
            )
            searched = f"{a.get('option')} ∈ {{{tried}}}"
            then = a.get("then")
            if isinstance(then, dict):  # a second knob, searched at the first's choice
                at = ", ".join(f"{k} = {_g(v)}" for k, v in (then.get("at") or {}).items())
                values = ", ".join(_g(v) for v in sorted(t for t in then.get("tried") or [] if t is not None))
                searched += f", then {then.get('option')} ∈ {{{values}}} at {at}"
            lines.append(f"{kept}; tried {searched}; {_gap(a)}")
        elif "best_step" in a:
            lines.append(
                f"kept step {a['best_step']} of {a.get('steps_run')} ({_gap(a)}, "
                f"{a.get('evaluations')} evaluations); stopped by {a.get('reason')}"
            )
        else:
            lines.append(str(a.get("reason", a)))
        lines += [f"warning: {w}" for w in a.get("warnings", [])]
        if a.get("smoothing"):  # proxy.smoothing_z read θ_o as under-confident
            lines.append(
                f"the proxy read θ_o as label-smoothed or mixed-up (ε = {_g(a['smoothing'])}): its class-prior "
                f"correction applies to the de-smoothed probabilities (proxy.smoothing_z); if θ_o was trained with "
                f"label smoothing, the run should say so (--label-smoothing)"
            )
        if a.get("label_share") is not None:  # proxy.label_check fired
            lines.append(
                f"the proxy expected a retrained model to misclassify {100 * (1 - a['label_share']):.0f} % of D_f: its "
                f"labels agree with their nearest retained samples' less often than held-out data's (proxy.label_check)"
            )
        if a.get("thin_share") is not None:  # proxy.thin_below read a nearly removed class
            lines.append(
                f"the request removes most of a class: a probe retrained on the retained samples expected a retrained "
                f"model to misclassify {100 * (1 - a['thin_share']):.0f} % of D_f, and the proxy aimed at that "
                f"(proxy.thin_below)"
            )
        if a.get("twin_share") is not None:  # proxy.twin_check fired
            pairs = ", ".join(f"{f} ↔ {r}" for f, r in (a.get("twin_pairs") or [])[:5])
            lines.append(
                f"{a.get('twins')} of D_f's samples ({100 * a['twin_share']:.0f} % of those checked) have a "
                f"near-duplicate of the same label among the retained samples (D_f ↔ D_r index: {pairs}, …): a "
                f"retrained model still fits them, so the proxy aimed them at staying fitted (proxy.twin_check); to remove them, "
                f"add the copies to the request"
            )
        if a.get("shifted"):  # proxy.shift_check fired
            lines.append(
                f"D_f and the held-out data do not look drawn alike (D_f's samples lie {_g(a.get('shift_ratio'))}× as "
                f"far from their nearest retained samples as held-out samples do, p = {_g(a.get('shift_p'))}): the "
                f"proxy's targets, and what auto chose by them, may be off (proxy.shift_check)"
            )
        if a.get("attack_refit"):  # proxy.attack_refit: θ_o's attack has power, re-fitted on each state scored
            lines.append(
                f"θ_o's membership attack tells its training samples from held-out ones (balanced accuracy "
                f"{_g(a.get('attack_acc'))}), so the proxy re-fitted it on each state it scored, as Avg.Gap's MIA does "
                f"(proxy.attack_refit)"
            )
        lines += _kept_lines(a)
        if a.get("baseline_covered") is not None:  # a chain of requests: damage against the first model
            lines.append(
                f"a chain of requests: damage was counted against the model before the first request ({a['baseline_covered']} "
                f"of the proxy's samples covered); the model this request started from had lost "
                f"{_g(a.get('drift_ra'))} points of accuracy on retained samples and {_g(a.get('drift_unseen'))} on "
                f"held-out ones since"
            )
    return lines


def _kept_lines(a: dict) -> list[str]:
    """The kept state's accuracy on the proxy's D_f sample against what the proxy expects of a retrained model
    (``kept_fa`` against ``target_fa`` ± the standard error :func:`~unlearnkit.stopping.short_of_target` uses;
    ``kept_fa_gone`` against 0), and where that check found it short."""
    lines = []
    fa, target = a.get("kept_fa"), a.get("target_fa")
    if a.get("partial") and fa is not None and target is not None and a.get("held_out_eff") and a.get("forget_partial"):
        se = two_sample_se(target / 100.0, a["held_out_eff"], fa / 100.0, a["forget_partial"])
        lines.append(
            f"the state kept classifies {_g(fa)} % of the proxy's D_f sample correctly (θ_o: "
            f"{_g(a.get('original_fa'))} %); the proxy's target for a retrained model: {_g(target)} % ± {_g(se)}"
        )
    if a.get("kept_fa_gone") is not None:
        lines.append(
            f"the state kept classifies {_g(a['kept_fa_gone'])} % of the removed classes' samples as their class "
            f"(θ_o: {_g(a.get('original_fa_gone'))} %; a retrained model: 0 %)"
        )
    short = short_of_target(a, StopOptions().short_z)
    if short and not a.get("shifted"):
        lines.append(
            "so it removed only part of D_f's influence (stopping.short_z at its default: the difference exceeds "
            "that many standard errors)"
        )
    bound = unresolved_bound(a)
    if bound is not None:
        lines.append(
            f"θ_o classified correctly every held-out sample the proxy's targets rest on, so it cannot see D_f's "
            f"generalisation gap: from an effective {_g(a['held_out_eff'])} held-out samples, a retrained model's "
            f"accuracy on D_f as low as {_g(bound)} % would not show (95 % lower bound); more held-out data or "
            f"--verify-retrain measures it"
        )
    return lines


def _options_text(run: dict) -> str:
    """``epochs=2, lr=0.01; weighting tau=0.15`` from the run's options (``defaults`` when none)."""
    o = run.get("options") or {}
    parts = [", ".join(f"{k}={v}" for k, v in (o.get("method") or {}).items())]
    parts += [
        f"{what} " + ", ".join(f"{k}={v}" for k, v in o[what].items())
        for what in ("weighting", "target")
        if o.get(what)
    ]
    return "; ".join(p for p in parts if p) or "default options"


def _request_summary(record: dict) -> tuple[str, list[tuple[str, int]]]:
    req = record["request"]
    names = {r["class"]: r["name"] for r in record["per_class"]}
    hist = [(names.get(c, str(c)), n) for c, n in enumerate(req["forget_counts"]) if n]
    src = record.get("request_source")
    return f"{req['n_forget']} training samples" + (f" ({src})" if src else ""), hist


def to_markdown(record: dict) -> str:
    run, vr = record.get("run") or {}, record.get("verify_retrain")
    what, hist = _request_summary(record)
    L = [
        "# Unlearning audit",
        "",
        f"**Request**: forget {what} from `{record.get('files', {}).get('original', 'the model')}`.",
        "",
        "Forget-set class histogram: " + ", ".join(f"{n}: {c}" for n, c in hist),
        "",
    ]
    if run:
        opts = _options_text(run)
        L += [
            f"**Method**: `{run.get('method')}` ∘ weighting `{run.get('weighting')}` ∘ "
            f"target `{run.get('target')}` "
            f"({opts}); seed {run.get('seed')}, device {run.get('device')}.",
            f"Wall time {_f(run.get('wall_s'), 3)} s, {_passes(run)} per-sample passes; "
            f"stop: {run.get('stop') or 'fixed epochs'}.",
            "",
        ]
        for line in _stop_lines(run):
            L.append(f"- auto stop: {line}")
    L += ["| measure | before | after | change |", "|---|---|---|---|"]
    L += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(record)]
    L += [
        "",
        f"Parameter change ‖θ_u − θ_o‖₂ = {_f(record['param_change'], 4)}. Held-out set: "
        f"{record['data']['n_heldout']} samples the model never trained on; RA on "
        f"{record['data']['n_retain_sample']} of {record['data']['n_retain']} retained samples.",
        "",
        "## Per class: forget-set accuracy vs held-out accuracy",
        "",
        "A model that never saw the forgotten samples classifies them about as well as fresh samples of the "
        "same class.",
        "",
        "| class | n forget | FA before | FA after | held-out acc before | held-out acc after |",
        "|---|---|---|---|---|---|",
    ]
    L += [
        f"| {r['name']} | {r['n_forget']} | {_f(r['FA_before'], 1)} | {_f(r['FA_after'], 1)} | "
        f"{_f(r['heldout_acc_before'], 1)} | {_f(r['heldout_acc_after'], 1)} |"
        for r in record["per_class"]
    ]
    if vr:
        L += [
            "",
            "## Verified against retraining",
            "",
            f"True Avg.Gap to a model retrained without D_f: **{_f(vr['avg_gap'])}** (the original model: "
            f"{_f(vr['avg_gap_original'])}); retraining took {_f(vr['train_s'], 2)} s.",
            "",
            "| model | FA | RA | TA | MIA |",
            "|---|---|---|---|---|",
        ]
        L += [
            f"| {n} | " + " | ".join(_f(vr[n][c]) for c in ("FA", "RA", "TA", "MIA")) + " |"
            for n in ("original", "unlearned", "retrained")
        ]
    else:
        L += ["", "No model was retrained (pass `--verify-retrain` to measure the true Avg.Gap)."]
    L += [
        "",
        "Recompute every number above from the saved files with `unlearnkit audit` (see `audit.json` → `command`)."
        if record.get("command")
        else "",
    ]
    return "\n".join(L).rstrip() + "\n"


CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}code{background:#f3f3f3;padding:0 .2rem}
.bar{display:inline-block;height:.7rem;background:#4a7;vertical-align:middle}.ho{background:#888}
.muted{color:#666}"""


def to_html(record: dict) -> str:
    """A self-contained page (inline CSS, no scripts, no external links); every value is html-escaped."""
    e = lambda x: html.escape(str(x), quote=True)  # noqa: E731
    run, vr = record.get("run") or {}, record.get("verify_retrain")
    what, hist = _request_summary(record)
    P = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Unlearning audit</title>",
        f"<style>{CSS}</style></head><body><h1>Unlearning audit</h1>",
        f"<p><b>Request</b>: forget {e(what)} from <code>{e(record.get('files', {}).get('original', 'the model'))}"
        f"</code>.</p><p>Forget-set class histogram: {e(', '.join(f'{n}: {c}' for n, c in hist))}</p>",
    ]
    if run:
        opts = _options_text(run)
        P.append(
            f"<p><b>Method</b>: <code>{e(run.get('method'))}</code> ∘ weighting <code>{e(run.get('weighting'))}"
            f"</code> ∘ target <code>{e(run.get('target'))}</code> ({e(opts)}); seed {e(run.get('seed'))}, "
            f"device {e(run.get('device'))}. Wall time {e(_f(run.get('wall_s'), 3))} s, "
            f"{e(_passes(run))} per-sample passes; stop: {e(run.get('stop') or 'fixed epochs')}.</p>"
        )
        stops = _stop_lines(run)
        if stops:
            P.append("<ul>" + "".join(f"<li>auto stop: {e(s)}</li>" for s in stops) + "</ul>")
    P.append("<table><tr><th>measure</th><th>before</th><th>after</th><th>change</th></tr>")
    P += [f"<tr><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td><td>{e(d)}</td></tr>" for a, b, c, d in _rows(record)]
    P.append(
        f"</table><p>Parameter change ‖θ<sub>u</sub> − θ<sub>o</sub>‖₂ = "
        f"{e(_f(record['param_change'], 4))}. "
        f"Held-out set: {e(record['data']['n_heldout'])} samples the model never trained on; RA on "
        f"{e(record['data']['n_retain_sample'])} of {e(record['data']['n_retain'])} retained samples.</p>"
    )
    P.append(
        "<h2>Per class: forget-set accuracy vs held-out accuracy</h2><p class='muted'>A model that never saw "
        "the forgotten samples classifies them about as well as fresh samples of the same class (grey bar)."
        "</p><table><tr><th>class</th><th>n forget</th><th>FA before</th><th>FA after</th>"
        "<th>held-out acc after</th><th></th></tr>"
    )
    for r in record["per_class"]:
        fa, ho = r["FA_after"] or 0.0, r["heldout_acc_after"] or 0.0
        P.append(
            f"<tr><td>{e(r['name'])}</td><td>{e(r['n_forget'])}</td><td>{e(_f(r['FA_before'], 1))}</td>"
            f"<td>{e(_f(r['FA_after'], 1))}</td><td>{e(_f(r['heldout_acc_after'], 1))}</td>"
            f"<td style='text-align:left'><span class='bar' style='width:{fa:.0f}px'></span><br>"
            f"<span class='bar ho' style='width:{ho:.0f}px'></span></td></tr>"
        )
    P.append("</table>")
    if vr:
        P.append(
            f"<h2>Verified against retraining</h2><p>True Avg.Gap to a model retrained without D<sub>f</sub>: "
            f"<b>{e(_f(vr['avg_gap']))}</b> (original model: {e(_f(vr['avg_gap_original']))}); retraining took "
            f"{e(_f(vr['train_s'], 2))} s.</p><table><tr><th>model</th><th>FA</th><th>RA</th><th>TA</th>"
            f"<th>MIA</th></tr>"
        )
        P += [
            f"<tr><td>{e(n)}</td>" + "".join(f"<td>{e(_f(vr[n][c]))}</td>" for c in ("FA", "RA", "TA", "MIA")) + "</tr>"
            for n in ("original", "unlearned", "retrained")
        ]
        P.append("</table>")
    else:
        P.append(
            "<p class='muted'>No model was retrained (pass <code>--verify-retrain</code> to measure the true "
            "Avg.Gap).</p>"
        )
    if record.get("command"):
        P.append(f"<p class='muted'>Recompute: <code>{e(record['command'])}</code></p>")
    P.append("</body></html>")
    return "\n".join(P) + "\n"


def write_audit(record: dict, out_dir: str | Path) -> dict[str, Path]:
    """``audit.json``, ``audit.md`` and ``audit.html`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "audit.json", "md": out / "audit.md", "html": out / "audit.html"}
    paths["json"].write_text(json.dumps(record, indent=1, allow_nan=False))
    paths["md"].write_text(to_markdown(record))
    paths["html"].write_text(to_html(record))
    return paths
