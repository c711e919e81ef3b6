"""Unlearning-deviation metrics for long-tailed forget sets (FaLW, Yu et al., ICLR 2026, §3; our
definitions from ``methods/falw.md`` "Setting"):

- ΔFA_c = FA_c(θ_u) − FA_c(θ_r) for every class c present in D_f (percent points);
- dFA_head / dFA_mid / dFA_tail: the signed mean of ΔFA_c over the head / mid / tail third of the
  classes ranked by forget count (positive = under-forgotten, negative = over-forgotten);
- heterogeneity = std_c(ΔFA_c) (population std; the paper's "heterogeneous unlearning deviation");
- skew = mean_tail |ΔFA_c| / mean_head |ΔFA_c| (the paper's "skewed unlearning deviation";
  > 1 means the tail deviates more than the head).

The math is in pure functions (:func:`unlearnkit.classes.class_thirds`, :func:`deviation_summary`); :class:`Deviation`
wraps them as the ``deviation`` metric. Everything is NaN when fewer than 3 classes are in D_f
(head/mid/tail thirds need at least one class each).
"""

from __future__ import annotations

import json
import math

import numpy as np

from ..classes import GROUPS, class_thirds
from .accuracy import per_class_accuracy
from .base import METRICS, Column, Evaluation, Metric, Need


def deviation_summary(fa_unlearned, fa_retrained, counts) -> dict:
    """dFA_head/mid/tail, heterogeneity, skew and ΔFA per class from per-class FA tables (percent;
    None/NaN where a class has no forget sample) and the forget histogram ``counts``.

    ``skew`` is NaN when the head's mean |ΔFA| is 0 (the ratio is undefined; this happens when θ_u
    and θ_r agree exactly on every head class).
    """
    counts = np.asarray(counts, dtype=np.int64)
    fa_u = np.array([np.nan if v is None else v for v in fa_unlearned], dtype=float)
    fa_r = np.array([np.nan if v is None else v for v in fa_retrained], dtype=float)
    if not (len(fa_u) == len(fa_r) == len(counts)):
        raise ValueError(f"per-class tables differ in length: {len(fa_u)}, {len(fa_r)}, {len(counts)} classes")
    delta = np.where(counts > 0, fa_u - fa_r, np.nan)
    groups = class_thirds(counts)
    nan = float("nan")
    out = {
        "dFA_head": nan,
        "dFA_mid": nan,
        "dFA_tail": nan,
        "heterogeneity": nan,
        "skew": nan,
        "dFA_per_class": [None if math.isnan(d) else float(d) for d in delta],
    }
    if (groups < 0).all():
        return out
    for g, name in enumerate(GROUPS):
        out[f"dFA_{name}"] = float(np.mean(delta[groups == g]))
    out["heterogeneity"] = float(np.std(delta[groups >= 0]))
    head, tail = np.abs(delta[groups == 0]).mean(), np.abs(delta[groups == 2]).mean()
    out["skew"] = float(tail / head) if head > 0 else nan
    return out


@METRICS.register("deviation")
class Deviation(Metric):
    """Columns ``dFA_head, dFA_mid, dFA_tail, heterogeneity, skew`` and ``dFA_per_class`` (JSON list
    by class index) of θ_u against ``ev.retrained`` on D_f; thirds by ``split.info["forget_counts"]``
    (the histogram computed from the labels when the split has no info)."""

    name = "deviation"
    columns = (
        Column(
            "dFA_head",
            "min",
            "Signed mean ΔFA_c = FA_c(unlearned) − FA_c(retrained) over the head third of "
            "classes by forget count; > 0 under-forgotten, < 0 over-forgotten (FaLW).",
            "pp",
            absolute=True,
        ),
        Column("dFA_mid", "min", "dFA_head for the middle third of classes by forget count.", "pp", absolute=True),
        Column("dFA_tail", "min", "dFA_head for the tail third of classes by forget count.", "pp", absolute=True),
        Column("heterogeneity", "min", "std over classes of ΔFA_c (FaLW's heterogeneous deviation).", "pp"),
        Column("skew", "min", "mean tail |ΔFA_c| / mean head |ΔFA_c| (FaLW's skewed deviation).", digits=3),
        Column("dFA_per_class", "info", "ΔFA_c per class (JSON list by class index)", "pp", kind="json"),
    )
    needs = frozenset({Need.RETRAINED})

    def compute(self, model, ev: Evaluation) -> dict:
        C = ev.dataset.num_classes
        labels = ev.labels("forget")
        counts = ev.split.info.get("forget_counts") if ev.split.info else None
        if counts is None or len(counts) != C:
            counts = np.bincount(labels.numpy(), minlength=C)
        if ev.retrained is None:
            out = deviation_summary([None] * C, [None] * C, np.zeros(C, dtype=np.int64))
        else:
            fa_u = per_class_accuracy(ev.logits(model, "forget"), labels, C)
            fa_r = per_class_accuracy(ev.logits(ev.retrained, "forget"), labels, C)
            out = deviation_summary(fa_u, fa_r, counts)
        out["dFA_per_class"] = json.dumps(out["dFA_per_class"])
        return out
