"""Training objectives for *correction* unlearning (fairness and robustness targets), shared by the
``soft`` weighting (which optimises them) and the ``fairness`` metric (which reports them).

Qiao, Ding, Cheng, Zhang, "Soft Weighted Machine Unlearning" (arXiv 2505.18783, 2025), §5 (targets):
binary classifier, sensitive group s ∈ {0, 1}, p = P(ŷ = 1 | x) (softmax of the two logits).

- ``dp``: smooth demographic-parity gap  f = mean_{s=1} p − mean_{s=0} p;
- ``eop``: equal-opportunity loss gap     f = mean BCE on {s=0, y=1} − mean BCE on {s=1, y=1};
- ``robust``: summed BCE on a fixed adversarial set, each point reflected across the
  pre-unlearning linear boundary, x_adv = x − 1.3 (wᵀx + b)/‖w‖² w (in the head's feature space
  for a network; w, b = logit-difference weights of the 2-way head).

Surrogates are differentiable torch functions of the logits (gradients by autograd); the *reported*
metrics are label-based: |DP| (positive-rate difference), |EOP| (TPR difference) and robust accuracy.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from .errors import UnlearnkitError
from .registry import Registry

CORRECTION_TARGETS: Registry = Registry("correction target")

ADV_FACTOR = 1.3


def positive_prob(logits: torch.Tensor) -> torch.Tensor:
    """p = P(class 1) from two logits (= sigmoid(z₁ − z₀))."""
    return torch.softmax(logits, dim=1)[:, 1]


def _mask_mean(v: torch.Tensor, m: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(m.any()):
        raise UnlearnkitError(
            f"the validation/test set has no samples in {what}; the fairness target is undefined "
            f"(use a larger split or check the group attribute)"
        )
    return v[m].mean()


def dp_gap(pred: torch.Tensor, group: torch.Tensor) -> float:
    """|P(ŷ=1 | s=1) − P(ŷ=1 | s=0)| (label-based demographic-parity gap, a fraction)."""
    pred = pred.double()
    return abs(float(_mask_mean(pred, group == 1, "group 1") - _mask_mean(pred, group == 0, "group 0")))


def eop_gap(pred: torch.Tensor, y: torch.Tensor, group: torch.Tensor) -> float:
    """|TPR(s=1) − TPR(s=0)| (label-based equal-opportunity gap, a fraction)."""
    pred = pred.double()
    return abs(
        float(
            _mask_mean(pred, (group == 1) & (y == 1), "group 1 with y=1")
            - _mask_mean(pred, (group == 0) & (y == 1), "group 0 with y=1")
        )
    )


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
        return _mask_mean(bce, (group == 0) & (y == 1), "group 0 with y=1") - _mask_mean(
            bce, (group == 1) & (y == 1), "group 1 with y=1"
        )

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


def target_value_and_grad(
    target: CorrectionTarget, phi: torch.Tensor, y: torch.Tensor, group: torch.Tensor, theta: torch.Tensor
) -> tuple[float, torch.Tensor]:
    """f(Θ) and ∇_Θ f for a linear head z = Θφ on (already reflected, for ``robust``) features φ."""
    th = theta.detach().clone().requires_grad_(True)
    f = target.surrogate(phi @ th.T, y, group)
    (g,) = torch.autograd.grad(f, th)
    return float(f.detach()), g.detach()
