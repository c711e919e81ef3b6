"""Fairness and robustness targets for *correction* unlearning, and the ``fairness`` metric.

Qiao, Ding, Cheng, Zhang, "Soft Weighted Machine Unlearning" (arXiv 2505.18783, 2025), §5 (targets):
binary classifier, sensitive group s ∈ {0, 1}, p = P(ŷ = 1 | x) (softmax of the two logits).

- ``dp``: smooth demographic-parity gap  f = mean_{s=1} p − mean_{s=0} p;
- ``eop``: equal-opportunity loss gap     f = mean BCE on {s=0, y=1} − mean BCE on {s=1, y=1};
- ``robust``: summed BCE on a fixed adversarial set, each point reflected across the
  pre-unlearning linear boundary, x_adv = x − 1.3 (wᵀx + b)/‖w‖² w (in the head's feature space
  for a network; w, b = logit-difference weights of the 2-way head).

Surrogates are differentiable torch functions of the logits (gradients by autograd, checked
against finite differences in the tests); the *reported* metrics are label-based: |DP| (positive-
rate difference), |EOP| (TPR difference) and robust accuracy (accuracy on x_adv, percent).
"""
from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UnlearnkitError
from ..registry import Registry
from .base import METRICS, Evaluation, Metric

CORRECTION_TARGETS: Registry = Registry("correction target")

ADV_FACTOR = 1.3


def positive_prob(logits: torch.Tensor) -> torch.Tensor:
    """p = P(class 1) from two logits (= sigmoid(z₁ − z₀))."""
    return torch.softmax(logits, dim=1)[:, 1]


def _mask_mean(v: torch.Tensor, m: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(m.any()):
        raise UnlearnkitError(f"the validation/test set has no samples in {what}; the fairness target is undefined "
                              f"(use a larger split or check the group attribute)")
    return v[m].mean()


def dp_gap(pred: torch.Tensor, group: torch.Tensor) -> float:
    """|P(ŷ=1 | s=1) − P(ŷ=1 | s=0)| (label-based demographic-parity gap, a fraction)."""
    pred = pred.double()
    return abs(float(_mask_mean(pred, group == 1, "group 1") - _mask_mean(pred, group == 0, "group 0")))


def eop_gap(pred: torch.Tensor, y: torch.Tensor, group: torch.Tensor) -> float:
    """|TPR(s=1) − TPR(s=0)| (label-based equal-opportunity gap, a fraction)."""
    pred = pred.double()
    return abs(float(_mask_mean(pred, (group == 1) & (y == 1), "group 1 with y=1")
                     - _mask_mean(pred, (group == 0) & (y == 1), "group 0 with y=1")))


def reflect(phi: torch.Tensor, theta: torch.Tensor, bias: bool, factor: float = ADV_FACTOR) -> torch.Tensor:
    """x_adv = x − factor·(wᵀx + b)/‖w‖²·w with (w, b) the logit difference of a 2-way head Θ ∈ R^{2×d}
    (last column = bias when ``bias``; that column of φ stays 1)."""
    diff = (theta[1] - theta[0]).to(phi)
    w = diff[:-1] if bias else diff
    margin = phi @ diff
    out = phi.clone()
    d = len(w)
    out[:, :d] = phi[:, :d] - factor * (margin / (w @ w).clamp_min(1e-30))[:, None] * w[None, :]
    return out


class CorrectionTarget:
    """``adversarial``: the target evaluates the model on reflected inputs (built once from θ_o)."""

    name: ClassVar[str] = ""
    adversarial: ClassVar[bool] = False

    def surrogate(self, logits: torch.Tensor, y: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reported(self, logits: torch.Tensor, y: torch.Tensor, group: torch.Tensor) -> float:
        raise NotImplementedError


@CORRECTION_TARGETS.register("dp")
class DemographicParity(CorrectionTarget):
    name = "dp"

    def surrogate(self, logits, y, group):
        p = positive_prob(logits)
        return _mask_mean(p, group == 1, "group 1") - _mask_mean(p, group == 0, "group 0")

    def reported(self, logits, y, group):
        return dp_gap(logits.argmax(1), group)


@CORRECTION_TARGETS.register("eop")
class EqualOpportunity(CorrectionTarget):
    name = "eop"

    def surrogate(self, logits, y, group):
        bce = F.cross_entropy(logits, y.long(), reduction="none")
        return (_mask_mean(bce, (group == 0) & (y == 1), "group 0 with y=1")
                - _mask_mean(bce, (group == 1) & (y == 1), "group 1 with y=1"))

    def reported(self, logits, y, group):
        return eop_gap(logits.argmax(1), y, group)


@CORRECTION_TARGETS.register("robust")
class Robustness(CorrectionTarget):
    """Logits are those of the reflected inputs; f = Σ BCE(x_adv, y); reported = robust accuracy (%)."""

    name = "robust"
    adversarial = True

    def surrogate(self, logits, y, group):
        return F.cross_entropy(logits, y.long(), reduction="sum")

    def reported(self, logits, y, group):
        return 100.0 * float((logits.argmax(1) == y).double().mean())


def target_value_and_grad(target: CorrectionTarget, phi: torch.Tensor, y: torch.Tensor, group: torch.Tensor,
                          theta: torch.Tensor) -> tuple[float, torch.Tensor]:
    """f(Θ) and ∇_Θ f for a linear head z = Θφ on (already reflected, for ``robust``) features φ."""
    th = theta.detach().clone().requires_grad_(True)
    f = target.surrogate(phi @ th.T, y, group)
    (g,) = torch.autograd.grad(f, th)
    return float(f.detach()), g.detach()


class FairnessOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: Literal["dp", "eop", "robust"] = Field(
        "dp", description="target reported as target_before/after when the run's weighting names none")
    adv_factor: float = Field(ADV_FACTOR, gt=1, description="reflection factor of the robust adversarial set")


@METRICS.register("fairness")
class Fairness(Metric):
    """Accuracy and the correction target before (θ_o) and after (the model) on the test split and,
    as ``val_*``, on the validation split (``split.unseen``); |DP|, |EOP| and robust accuracy after.

    ``correction_target`` / ``scheme`` come from the run's weighting options (``soft``); otherwise the
    metric's ``target`` option and the weighting's name. Robust accuracy uses the adversarial set of
    θ_o in θ_o's head-feature space, scored by the model's head (the spec's last-layer setting: exact
    for ``logreg`` and head-only methods such as ``if``; an approximation when the extractor moved)."""

    name = "fairness"
    columns = ("correction_target", "scheme", "acc_before", "acc_after", "target_before", "target_after",
               "dp_gap", "eop_gap", "robust_acc", "val_acc_before", "val_acc_after", "val_target_before",
               "val_target_after")
    Options = FairnessOptions

    def compute(self, model, ev: Evaluation) -> dict:
        ds = ev.dataset
        if ds.group is None or ds.num_classes != 2:
            raise UnlearnkitError(f"metric 'fairness' needs a binary dataset with a sensitive group (e.g. adult); "
                                  f"{ds.name!r} has {ds.num_classes} classes and "
                                  f"{'a' if ds.group is not None else 'no'} group")
        w = ev.plan.weighting if ev.plan is not None else None
        wopts = getattr(w, "options", None)
        target_name = getattr(wopts, "target", None) or self.options.target
        scheme = getattr(wopts, "scheme", None) or (w.name if w is not None else "none")
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
        res = {"acc_after": 100.0 * float((pa == y).double().mean()), "dp_gap": dp_gap(pa, g),
               "eop_gap": eop_gap(pa, y, g),
               "robust_acc": math.nan if adv_after is None else 100.0 * float((adv_after.argmax(1) == y).double().mean()),
               "target_after": rep(after, adv_after)}
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
    key = ("adv_phi", part, factor)
    if key not in ev._cache:
        phi = embed(ev.original, ev.dataset, ev.indices(part))
        ev._cache[key] = reflect(phi, head_params(lin_o).to(phi.device), lin_o.bias is not None, factor)
    phi_adv = ev._cache[key]
    return (phi_adv @ head_params(lin).to(phi_adv.device).T).float().cpu()
