"""U-LiRA: the per-example likelihood-ratio attack on unlearning (Hayes, Shumailov, Triantafillou,
Khalifa, Papernot, "Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of
Privacy", arXiv 2403.01218), as used for class unlearning by the TRW paper (arXiv 2506.20893).

Shadows (K, even): every training sample is put in exactly K/2 random halves H_k (Carlini et al.'s
balanced LiRA assignment). For each k:

* in-model  = train(H_k), then unlearn F_k = H_k ∩ D_f with the run's own method ∘ weighting ∘ target
  (``ev.models.unlearn``): an in-observation for every target in F_k;
* out-model = train(H_k \\ D_f) ("retrained without the targets"; for class forgetting, without the
  class): an out-observation for every target.

Feature φ = log(p_y / (1 − p_y)) of the true class (computed stably from logits). Per target x,
Gaussians N(μ_in(x), σ_in), N(μ_out(x), σ_out); score s(x; M) = log N_in(φ_M(x)) − log N_out(φ_M(x)).
The target model θ_u's scores on the targets are positives, θ_r's are negatives (Hayes et al.'s
unlearned-vs-retrained target models, one of each): ``ULiRA_acc`` is the balanced accuracy of
"s > 0 ⇒ unlearned" and ``ULiRA_auc`` the AUC of s (50 = ideal). ``ULiRA_retrain_acc`` is the same
accuracy with θ_u replaced by other retrained models (seeds seed+1, …; averaged): what perfect
unlearning reads. One target model per side makes both accuracies noisy (each model shifts all its
targets' φ together); AUC and the gap to the reference are the numbers to compare.

*Reconstruction / knobs:* K, the variance model (per-example vs pooled: LiRA's "fixed variance" is
the better choice with few shadows, so ``auto`` pools below 16 shadows), ``max_targets``.
Shadow models come from the evaluation's model source (``ev.models.trained_many``): the bench's
trains the missing ones through its executor (Ray tasks under ``--executor ray``) into the model
cache; the library's :class:`~unlearnkit.sources.SequentialSource` trains them in this process.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import roc_auc_score

from ..data.split import Split
from ..errors import UnlearnkitError
from .base import METRICS, Column, Evaluation, Metric, Need
from ..predict import predict_logits


# --- pure math -----------------------------------------------------------------------------------
def logit_confidence(logits: torch.Tensor, labels) -> np.ndarray:
    """φ = log p_y − log(1 − p_y) = ℓ_y − logsumexp_{j≠y} ℓ_j (stable for confident models)."""
    z = logits.double()
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long).view(-1, 1)
    zy = z.gather(1, y).squeeze(1)
    others = z.scatter(1, y, float("-inf"))
    return (zy - torch.logsumexp(others, 1)).numpy()


def balanced_membership(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Bool [k, n]: sample i is in exactly k/2 of the k halves (random which)."""
    if k < 2 or k % 2:
        raise UnlearnkitError(f"ulira needs an even number of shadow models K ≥ 2, got {k}")
    order = np.argsort(rng.random((n, k)), axis=1)  # a random permutation of the shadows per sample
    member = np.zeros((n, k), dtype=bool)
    np.put_along_axis(member, order[:, : k // 2], True, axis=1)
    return member.T


def fit_gaussians(
    obs: np.ndarray, mask: np.ndarray, variance: Literal["per_example", "global"] = "global", min_std: float = 1e-2
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean and std of ``obs`` [K, N] over the entries where ``mask`` [K, N] is True.

    ``global``: one std for all examples (pooled within-example variance), LiRA's fixed-variance
    variant for few shadows. Examples without any observation get nan.
    """
    mask = mask.astype(bool)
    cnt = mask.sum(0)
    x = np.where(mask, obs, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = x.sum(0) / cnt
        sq = np.where(mask, (obs - mu) ** 2, 0.0).sum(0)
        if variance == "global":
            dof = np.clip(cnt - 1, 0, None).sum()
            pooled = np.sqrt(sq.sum() / dof) if dof > 0 else np.nan
            std = np.full(obs.shape[1], pooled)
        else:
            std = np.sqrt(sq / np.clip(cnt - 1, 1, None))
    std = np.where(cnt > 0, np.maximum(std, min_std), np.nan)
    return np.where(cnt > 0, mu, np.nan), std


def lira_score(phi: np.ndarray, mu_in, sd_in, mu_out, sd_out) -> np.ndarray:
    """log N(φ; μ_in, σ_in) − log N(φ; μ_out, σ_out), per example."""

    def logpdf(x, m, s):
        return -0.5 * ((x - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)

    return logpdf(phi, mu_in, sd_in) - logpdf(phi, mu_out, sd_out)


def attack_summary(pos_scores: np.ndarray, neg_scores: np.ndarray, threshold: float = 0.0) -> tuple[float, float]:
    """(balanced accuracy of "score > threshold ⇒ positive", AUC), both in percent; nan scores dropped."""
    pos, neg = pos_scores[np.isfinite(pos_scores)], neg_scores[np.isfinite(neg_scores)]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    acc = 0.5 * ((pos > threshold).mean() + (neg <= threshold).mean())
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    auc = roc_auc_score(y, np.concatenate([pos, neg]))
    return 100.0 * float(acc), 100.0 * float(auc)


# --- the metric ----------------------------------------------------------------------------------
class ULiRAOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    K: int = Field(
        4, ge=2, description="shadow halves (even); each gives one in- and one out-model. CPU: 4–8, paper scale 16–64"
    )
    variance: Literal["auto", "per_example", "global"] = Field(
        "auto", description="Gaussian std: per example, or pooled over examples (auto: pooled when K < 16)"
    )
    max_targets: int | None = Field(None, ge=2, description="attack at most this many forget samples (seeded)")
    shadow_seed: int = Field(1000, ge=0, description="offset of the shadows' seeds from the run seed")
    reference_models: int = Field(
        2,
        ge=1,
        description="extra retrained models (seeds seed+1, …) that play θ_u "
        "for ULiRA_retrain_acc (averaged; one model is a noisy reference)",
    )


@METRICS.register("ulira")
class ULiRA(Metric):
    """Columns ULiRA_acc, ULiRA_auc (θ_u vs θ_r on the targets), ULiRA_retrain_acc (reference)."""

    name = "ulira"
    columns = (
        Column(
            "ULiRA_acc",
            "info",
            "U-LiRA (Hayes et al. 2024): balanced accuracy (%) of a per-example likelihood-"
            "ratio attack telling unlearned from retrained models; 50% is ideal.",
            "%",
        ),
        Column("ULiRA_auc", "info", "AUC (%) of the U-LiRA score, θ_u vs θ_r on the targets; 50 is ideal.", "%"),
        Column(
            "ULiRA_retrain_acc",
            "info",
            "ULiRA_acc with θ_u replaced by other retrained models (what perfect "
            "unlearning reads at this shadow count).",
            "%",
        ),
    )
    needs = frozenset({Need.RETRAINED_K, Need.SHADOWS, Need.UNLEARN})
    quick_options = {"K": 2, "max_targets": 20, "reference_models": 1}
    Options = ULiRAOptions

    def compute(self, model, ev: Evaluation) -> dict:
        o = self.options
        self.check(ev)
        models = ev.source(self.name)
        if o.K % 2:
            raise UnlearnkitError(f"ulira K must be even (each sample sits in K/2 shadow halves), got {o.K}")
        rng = np.random.default_rng(ev.seed + o.shadow_seed)
        split = ev.split
        targets = split.forget
        if o.max_targets is not None and len(targets) > o.max_targets:
            targets = np.sort(rng.choice(targets, o.max_targets, replace=False))
        labels = ev.dataset.labels[targets]
        member = balanced_membership(len(split.train), o.K, rng)  # [K, |train|]
        halves = [split.train[m] for m in member]
        in_sets = halves
        out_sets = [h[~np.isin(h, split.forget)] for h in halves]
        seeds = [ev.seed + o.shadow_seed + k for k in range(o.K)]
        trained = models.trained_many(in_sets + out_sets, seeds + [s + 500 for s in seeds])
        pos_in_train = np.searchsorted(split.train, targets)
        in_mask = member[:, pos_in_train]  # [K, T] target was in half k
        phi_in = np.zeros((o.K, len(targets)))
        phi_out = np.zeros((o.K, len(targets)))
        for k in range(o.K):  # K shadows (not samples): unlearn each in-model with the run's plan
            f_k = np.intersect1d(halves[k], split.forget)
            if len(f_k):
                sh_split = Split(halves[k], split.test, split.unseen, f_k, dict(split.info))
                unl = models.unlearn(trained[k], sh_split, seeds[k])
                phi_in[k] = logit_confidence(predict_logits(unl, ev.dataset, targets, device=ev.device), labels)
            else:
                in_mask[k] = False
            phi_out[k] = logit_confidence(
                predict_logits(trained[o.K + k], ev.dataset, targets, device=ev.device), labels
            )
        variance = o.variance if o.variance != "auto" else ("per_example" if o.K >= 16 else "global")
        mu_in, sd_in = fit_gaussians(phi_in, in_mask, variance)
        mu_out, sd_out = fit_gaussians(phi_out, np.ones_like(in_mask), variance)
        sd_in = np.where(np.isnan(sd_in), sd_out, sd_in)  # one in-observation per target (K = 2): share σ_out

        def scores(m):
            phi = logit_confidence(predict_logits(m, ev.dataset, targets, device=ev.device), labels)
            return lira_score(phi, mu_in, sd_in, mu_out, sd_out)

        refs = models.retrained(1 + o.reference_models)
        r0 = ev.retrained if ev.retrained is not None else refs[0]
        s_r = scores(r0)
        acc, auc = attack_summary(scores(model), s_r)
        ref_acc = float(np.mean([attack_summary(scores(m), s_r)[0] for m in refs[1:]]))
        return {"ULiRA_acc": acc, "ULiRA_auc": auc, "ULiRA_retrain_acc": ref_acc}
