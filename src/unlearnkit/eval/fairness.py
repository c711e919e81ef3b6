"""The ``fairness`` metric: accuracy and a correction target (|DP|, |EOP| or robust accuracy; the
targets themselves live in :mod:`unlearnkit.objectives`) before and after unlearning, for the
soft-weighted correction runs of Qiao et al. (arXiv 2505.18783, 2025), §5."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UnlearnkitError
from ..objectives import ADV_FACTOR, CORRECTION_TARGETS, dp_gap, eop_gap, reflect
from .base import METRICS, Column, Evaluation, Metric, Need


class FairnessOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: Literal["dp", "eop", "robust"] = Field(
        "dp", description="target reported as target_before/after when the run's weighting names none"
    )
    adv_factor: float = Field(ADV_FACTOR, gt=1, description="reflection factor of the robust adversarial set")


@METRICS.register("fairness")
class Fairness(Metric):
    """Accuracy and the correction target before (θ_o) and after (the model) on the test split and,
    as ``val_*``, on the validation split (``split.unseen``); |DP|, |EOP| and robust accuracy after.

    ``correction_target`` / ``scheme`` come from the run's weighting (its declared ``correction_target``
    and ``label``); otherwise the metric's ``target`` option. Without θ_o the "before" columns are NaN. Robust accuracy uses the adversarial set of
    θ_o in θ_o's head-feature space, scored by the model's head (the spec's last-layer setting: exact
    for ``logreg`` and head-only methods such as ``if``; an approximation when the extractor moved)."""

    name = "fairness"
    columns = (
        Column("correction_target", "info", "the correction target reported as target_before/after", kind="text"),
        Column(
            "scheme", "info", "the weighting scheme of the run (soft weights' QP scheme, or the weighting)", kind="text"
        ),
        Column("acc_before", "info", "Fairness/robustness correction: test accuracy before (θ_o)", "%"),
        Column("acc_after", "max", "test accuracy after the correction", "%"),
        Column("target_before", "info", "the target metric (|DP| or |EOP| gap, or robust accuracy) before"),
        Column("target_after", "info", "the target metric after (lower gap / higher robust accuracy is better)"),
        Column("dp_gap", "min", "|P(ŷ=1 | s=1) − P(ŷ=1 | s=0)| on the test split (a fraction)", digits=3),
        Column("eop_gap", "min", "|TPR(s=1) − TPR(s=0)| on the test split (a fraction)", digits=3),
        Column("robust_acc", "max", "accuracy on θ_o's reflected (adversarial) test set", "%"),
        Column("val_acc_before", "info", "validation (split.unseen) accuracy before", "%", show=False),
        Column("val_acc_after", "info", "validation accuracy after", "%", show=False),
        Column("val_target_before", "info", "validation target metric before", show=False),
        Column("val_target_after", "info", "validation target metric after", show=False),
    )
    needs = frozenset({Need.BINARY_GROUP, Need.TEST})
    Options = FairnessOptions

    def compute(self, model, ev: Evaluation) -> dict:
        ds = ev.dataset
        if not ds.binary_group:
            raise UnlearnkitError(
                f"metric 'fairness' needs a binary dataset with a sensitive group (e.g. adult); "
                f"{ds.name!r} has {ds.num_classes} classes and "
                f"{'a' if ds.group is not None else 'no'} group"
            )
        w = ev.weighting
        target_name = (w.correction_target if w is not None else None) or self.options.target
        scheme = w.label if w is not None else "none"
        out = {"correction_target": target_name, "scheme": scheme}
        for prefix, part in (("", "test"), ("val_", "unseen")):
            vals = self._part(model, ev, part, target_name) if len(ev.indices(part)) else {}
            for k in ("acc_before", "acc_after", "target_before", "target_after"):
                out[prefix + k] = vals.get(k, math.nan)
            if prefix == "":
                out.update({k: vals.get(k, math.nan) for k in ("dp_gap", "eop_gap", "robust_acc")})
        return out

    def _part(self, model, ev: Evaluation, part: str, target_name: str) -> dict:
        idx = ev.indices(part)
        y, g = ev.labels(part), ds_group(ev.dataset, idx)
        after = ev.logits(model, part)
        adv_after = adversarial_logits(model, ev, part, self.options.adv_factor)
        target = CORRECTION_TARGETS.get(target_name)()

        def rep(logits, adv):
            if target.adversarial:
                return target.reported(adv, y, g) if adv is not None else math.nan
            return target.reported(logits, y, g)

        pa = after.argmax(1)
        res = {
            "acc_after": 100.0 * float((pa == y).double().mean()),
            "dp_gap": dp_gap(pa, g),
            "eop_gap": eop_gap(pa, y, g),
            "robust_acc": math.nan if adv_after is None else 100.0 * float((adv_after.argmax(1) == y).double().mean()),
            "target_after": rep(after, adv_after),
        }
        if ev.original is not None:
            before = ev.logits(ev.original, part)
            res["acc_before"] = 100.0 * float((before.argmax(1) == y).double().mean())
            res["target_before"] = rep(before, adversarial_logits(ev.original, ev, part, self.options.adv_factor))
        return res


def ds_group(ds, idx) -> torch.Tensor:
    return ds.group.cpu()[torch.as_tensor(np.asarray(idx), dtype=torch.long)]


def adversarial_logits(model, ev: Evaluation, part: str, factor: float = ADV_FACTOR) -> torch.Tensor | None:
    """Logits of ``model``'s head on θ_o's reflected features of ``ev.split.<part>`` (None without θ_o
    or a linear head). The reflected set is cached per part."""
    from ..influence import embed, head_params, linear_head

    if ev.original is None:
        return None
    try:
        _, lin_o = linear_head(ev.original)
        _, lin = linear_head(model)
    except UnlearnkitError:
        return None

    def reflected():
        phi = embed(ev.original, ev.dataset, ev.indices(part))
        return reflect(phi, head_params(lin_o).to(phi.device), lin_o.bias is not None, factor)

    phi_adv = ev.memo(("adv_phi", part, factor), reflected)
    return (phi_adv @ head_params(lin).to(phi_adv.device).T).float().cpu()
