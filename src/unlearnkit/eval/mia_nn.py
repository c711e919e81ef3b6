"""MIA-NN: the neighbour-class attack on class unlearning (Ebrahimpour-Boroojeny, Wang, Sundaram,
arXiv 2506.20893; called CMIA in the ICML 2026 version).

The paper's exact attack was not readable. Its reviews describe a *distributional* test of the
unlearned model's outputs on the forget class against models retrained without it — not a per-sample
membership decision — so ``mia_nn`` (the divergence protocol) is **our reconstruction** of
that test:

* K ≥ 3 models θ_r^1..K retrained on D_r with distinct seeds: ``ev.models.retrained(K + 1)``
  minus the first, which is the bench's reference θ_r — so a "retrain" row is scored as a fresh retrained
  model against an ensemble it is not part of.
* For each j, the leave-one-out ensemble Q₋ⱼ(x) = mean_{k≠j} p_{θ_r^k}(x) (float64 softmax over all
  classes).
* div_j(M) = 100 · mean_{x∈D_f} JS(p_M(x) ‖ Q₋ⱼ(x)) (Jensen–Shannon, natural log, probabilities
  clipped at 1e-12); ``MIA_NN_div`` = mean_j div_j(M).
* Floor: floor_j = div_j(θ_r^j), how far one more retrained model lies from the others;
  ``MIA_NN_floor`` = mean_j, ``MIA_NN_floor_max`` = max_j, ``MIA_NN_excess`` = div − floor.
  M is *indistinguishable* from retraining iff div ≤ floor_max (``MIA_NN_indist`` = 1.0, else 0.0).
* Extra columns: the same three numbers on the forget classes' *test* inputs (``*_test``; nan when
  D_t has none), and with the forget classes dropped and every distribution renormalised over the
  remaining classes (``*_rem``: where the mass goes, not how much is left on f); ``MIA_NN_auc`` =
  mean_j of the Mann–Whitney AUC (percent) of M's per-sample divergences against θ_r^j's, both to
  Q₋ⱼ, on D_f (50 = like retraining, 100 = every sample further than a retrained model's).

The metric ``mia_nn_svm`` keeps the earlier reconstruction: the neighbour
class(es) n(f) are where the R retrained models send f's samples; an RBF-SVC on M's logits tells D_f
from n(f)'s D_r samples (stratified k-fold, balanced accuracy in percent): ``MIA_NN`` (θ_u),
``MIA_NN_retrain`` (θ_r), ``MIA_NN_gap`` = |difference|.

Each metric returns exactly its declared columns.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import rankdata
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..errors import UnlearnkitError
from .base import METRICS, Column, Evaluation, Metric, Need


# --- pure pieces ---------------------------------------------------------------------------------
def neighbour_classes(probs: torch.Tensor | np.ndarray, labels, forget_classes, top_k: int = 1) -> list[int]:
    """Neighbour classes of the forget class(es) from retrained models' probabilities on forget samples.

    ``probs``: [R, N, C] (or [N, C]) p_r(j|x) of R retrained models on the N forget samples with
    ``labels``. For each forget class f, m_j = mean over its samples and the models of p_r(j|x); its
    neighbours are the ``top_k`` classes j ∉ F with the largest m_j. Returns the sorted union.
    """
    p = torch.as_tensor(np.asarray(probs), dtype=torch.float64)
    if p.dim() == 2:
        p = p[None]
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    forget = sorted(set(int(f) for f in forget_classes))
    C = p.shape[-1]
    if top_k > C - len(forget):
        raise UnlearnkitError(f"mia_nn top_k={top_k} but only {C - len(forget)} classes remain; lower top_k")
    mean_over_models = p.mean(0)
    out: set[int] = set()
    for f in forget:  # one iteration per forget class (not per sample)
        m = mean_over_models[labels == f].mean(0)
        m[forget] = -np.inf
        out.update(torch.topk(m, top_k).indices.tolist())
    return sorted(out)


def svm_attack_accuracy(
    pos: np.ndarray,
    neg: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    C: float = 1.0,
    gamma: str | float = "scale",
    standardize: bool = True,
    pos_test: np.ndarray | None = None,
    neg_test: np.ndarray | None = None,
) -> float:
    """Held-out balanced accuracy (percent) of an RBF-SVC telling ``pos`` (label 1) from ``neg`` (0).

    Both sides are subsampled to the smaller size (seeded). Without test arrays: mean over stratified
    ``folds``-fold cross-validation; with them: fit on all of pos/neg, score on pos_test/neg_test.
    """
    rng = np.random.default_rng(seed)
    n = min(len(pos), len(neg))
    if n < max(2, folds if pos_test is None else 1):
        raise UnlearnkitError(
            f"mia_nn needs at least {max(2, folds)} samples per side; got {len(pos)} forget and "
            f"{len(neg)} neighbour samples (lower folds or use a larger dataset)"
        )
    pos = pos[rng.choice(len(pos), n, replace=False)]
    neg = neg[rng.choice(len(neg), n, replace=False)]
    x = np.concatenate([pos, neg]).astype(np.float64)
    y = np.concatenate([np.ones(n), np.zeros(n)])

    def clf():
        svc = SVC(C=C, gamma=gamma, kernel="rbf")
        return make_pipeline(StandardScaler(), svc) if standardize else svc

    def balanced(y_true, y_pred):
        return 0.5 * ((y_pred[y_true == 1] == 1).mean() + (y_pred[y_true == 0] == 0).mean())

    if pos_test is not None:
        xt = np.concatenate([pos_test, neg_test]).astype(np.float64)
        yt = np.concatenate([np.ones(len(pos_test)), np.zeros(len(neg_test))])
        return 100.0 * float(balanced(yt, clf().fit(x, y).predict(xt)))
    accs = [
        balanced(y[te], clf().fit(x[tr], y[tr]).predict(x[te]))
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    ]
    return 100.0 * float(np.mean(accs))


# --- pure pieces: the divergence protocol -------------------------------------------------------
CLIP = 1e-12


def js_divergence(p, q) -> np.ndarray:
    """Jensen–Shannon divergence per row (natural log): ½ KL(p‖m) + ½ KL(q‖m), m = (p + q)/2, with p and q
    clipped at 1e-12 (not renormalised) so no log sees 0. [..., C] → [...]; 0 ≤ JS ≤ ln 2."""
    p = np.clip(np.asarray(p, np.float64), CLIP, None)
    q = np.clip(np.asarray(q, np.float64), CLIP, None)
    m = 0.5 * (p + q)
    return 0.5 * (p * np.log(p / m)).sum(-1) + 0.5 * (q * np.log(q / m)).sum(-1)


def leave_one_out_means(ens: np.ndarray) -> np.ndarray:
    """Q₋ⱼ = mean over k ≠ j of ens[k]: [K, S, C] → [K, S, C] (needs K ≥ 2)."""
    K = ens.shape[0]
    return (ens.sum(0, keepdims=True) - ens) / (K - 1)


def mann_whitney_auc(a: np.ndarray, b: np.ndarray) -> float:
    """P(a > b) + ½ P(a = b) over all pairs, in percent (ties by mid-ranks)."""
    r = rankdata(np.concatenate([a, b]))
    n_a, n_b = len(a), len(b)
    return 100.0 * float((r[:n_a].sum() - n_a * (n_a + 1) / 2) / (n_a * n_b))


def divergence_summary(p_model: np.ndarray, ens: np.ndarray) -> dict[str, float]:
    """The divergence protocol from M's probabilities [S, C] and K retrained models' [K, S, C]:
    div (mean_j 100·mean_x JS(p_M ‖ Q₋ⱼ)), floor (mean_j of θ_r^j's own div_j), floor_max, excess = div −
    floor, auc (mean_j Mann–Whitney AUC of M's per-sample JS vs θ_r^j's, percent)."""
    ens = np.asarray(ens, np.float64)
    if ens.ndim != 3 or ens.shape[0] < 3 or ens.shape[1:] != np.shape(p_model):
        raise UnlearnkitError(
            f"mia_nn divergence needs K ≥ 3 retrained models' probabilities [K, S, C] matching the "
            f"model's [S, C]; got {ens.shape} and {np.shape(p_model)}"
        )
    q = leave_one_out_means(ens)
    d_model = js_divergence(np.asarray(p_model, np.float64)[None], q)  # [K, S]
    d_self = js_divergence(ens, q)  # [K, S]: θ_r^j against the others
    div = 100.0 * d_model.mean(1)
    floor = 100.0 * d_self.mean(1)
    auc = np.mean([mann_whitney_auc(d_model[j], d_self[j]) for j in range(len(ens))])
    return {
        "div": float(div.mean()),
        "floor": float(floor.mean()),
        "floor_max": float(floor.max()),
        "excess": float(div.mean() - floor.mean()),
        "auc": float(auc),
    }


def drop_classes(probs: np.ndarray, classes) -> np.ndarray:
    """Remove the given classes' columns and renormalise each row over the rest."""
    keep = np.setdiff1d(np.arange(probs.shape[-1]), np.asarray(list(classes), dtype=np.int64))
    p = np.asarray(probs, np.float64)[..., keep]
    return p / np.clip(p.sum(-1, keepdims=True), CLIP, None)


# --- the metric ----------------------------------------------------------------------------------
def _div_columns() -> tuple[Column, ...]:
    what = {
        "": "D_f",
        "_test": "the forget class(es)' test samples",
        "_rem": "D_f, remaining classes only (forget classes dropped, renormalised)",
    }
    cols = []
    for suffix, on in what.items():
        cols += [
            Column(
                f"MIA_NN_div{suffix}",
                "min",
                f"MIA-NN divergence (reconstruction of the TRW paper's attack): "
                f"100 · mean over {on} of JS(p_M(x) ‖ Q₋ⱼ(x)), Q₋ⱼ = mean of the other retrained models, "
                f"averaged over j; lower = closer to retraining.",
            ),
            Column(
                f"MIA_NN_floor{suffix}",
                "info",
                f"The same divergence for each retrained model θ_r^j against "
                f"Q₋ⱼ, averaged: what retraining itself reads (on {on}).",
            ),
            Column(
                f"MIA_NN_floor_max{suffix}",
                "info",
                f"max over j of the floor (on {on}); a model with "
                f"MIA_NN_div{suffix} ≤ this is indistinguishable from retraining.",
            ),
        ]
        if suffix == "":
            cols += [
                Column("MIA_NN_excess", "min", "MIA_NN_div − MIA_NN_floor (≤ 0: within what retraining reads)."),
                Column(
                    "MIA_NN_indist",
                    "max",
                    "1 if MIA_NN_div ≤ MIA_NN_floor_max (indistinguishable from retraining), else 0.",
                    digits=0,
                ),
                Column(
                    "MIA_NN_auc",
                    "info",
                    "Mann–Whitney AUC (%) of per-sample divergences of M vs of the "
                    "retrained models; 50 = like retraining.",
                    "%",
                ),
            ]
    return tuple(cols)


DIV_COLUMNS = _div_columns()
SVM_COLUMNS = (
    Column(
        "MIA_NN",
        "info",
        "MIA-NN, SVM variant: held-out accuracy (%) of an RBF-SVM on logits separating "
        "forget-class samples from the neighbour class's; 50 = indistinguishable.",
        "%",
    ),
    Column("MIA_NN_retrain", "info", "MIA_NN of θ_r (the reference).", "%"),
    Column("MIA_NN_gap", "min", "|MIA_NN(unlearned) − MIA_NN(retrained)|.", "pp"),
)


class MIANNOptions(BaseModel):
    """The divergence protocol (default ``mia_nn``)."""

    model_config = ConfigDict(extra="forbid")
    R: int = Field(3, ge=3, description="retrained models with distinct seeds (leave-one-out ensembles of R − 1)")


class MIANNSVMOptions(BaseModel):
    """The earlier neighbour-class SVM attack (``mia_nn_svm``)."""

    model_config = ConfigDict(extra="forbid")
    R: int = Field(3, ge=1, description="retrained models that pick the neighbour class(es)")
    top_k: int = Field(1, ge=1, description="neighbour classes per forget class")
    folds: int = Field(5, ge=2, description="stratified cross-validation folds for the held-out accuracy")
    held_out: Literal["cv", "test"] = Field(
        "cv",
        description="cv: k-fold on D_f vs D_r-neighbour samples; test: fit on those, score on the same "
        "classes' D_t samples",
    )
    svm_C: float = Field(1.0, gt=0, description="SVC regularisation C")
    gamma: Literal["scale", "auto"] | float = Field("scale", description="RBF kernel width (scikit-learn)")
    standardize: bool = Field(True, description="z-score the logits before the SVC")
    feature: Literal["logits", "prob"] = Field("logits", description="attack features φ_M(x)")


def _forget_classes(ev: Evaluation) -> list[int]:
    forget_classes = np.unique(ev.dataset.labels[ev.split.forget]).tolist()
    if len(forget_classes) >= ev.dataset.num_classes:
        raise UnlearnkitError(
            "mia_nn is a class-unlearning attack: the forget set covers every class; use a class scenario"
        )
    return forget_classes


@METRICS.register("mia_nn")
class MIANN(Metric):
    """MIA-NN, divergence protocol: MIA_NN_div / _floor / _floor_max / _excess (×100 JS, lower = closer to
    retraining; indistinguishable iff div ≤ floor_max → MIA_NN_indist = 1), MIA_NN_auc (50 = like
    retraining), and the ``_test`` / ``_rem`` variants (``_test`` is nan when D_t has no forget-class sample)."""

    name = "mia_nn"
    columns = DIV_COLUMNS
    needs = frozenset({Need.RETRAINED_K, Need.CLASS_FORGETTING})
    Options = MIANNOptions

    def compute(self, model, ev: Evaluation) -> dict:
        self.check(ev)
        forget_classes = _forget_classes(ev)
        # models 1..R: the reference θ_r (model 0, the bench's "retrain" row) stays out of the ensembles
        models = ev.source(self.name).retrained(self.options.R + 1)[1:]
        out = dict.fromkeys(self.column_names(), float("nan"))
        return out | self._divergence(model, models, forget_classes, ev)

    def _divergence(self, model, models, forget_classes, ev: Evaluation) -> dict:
        def probs(m, part, mask=None):
            p = torch.softmax(ev.logits(m, part).double(), 1).numpy()
            return p if mask is None else p[mask]

        p_f, ens_f = probs(model, "forget"), np.stack([probs(m, "forget") for m in models])
        main = divergence_summary(p_f, ens_f)
        out = {
            "MIA_NN_div": main["div"],
            "MIA_NN_floor": main["floor"],
            "MIA_NN_floor_max": main["floor_max"],
            "MIA_NN_excess": main["excess"],
            "MIA_NN_indist": float(main["div"] <= main["floor_max"]),
            "MIA_NN_auc": main["auc"],
        }
        rem = divergence_summary(drop_classes(p_f, forget_classes), drop_classes(ens_f, forget_classes))
        out |= {
            "MIA_NN_div_rem": rem["div"],
            "MIA_NN_floor_rem": rem["floor"],
            "MIA_NN_floor_max_rem": rem["floor_max"],
        }
        mask = np.isin(ev.dataset.labels[ev.split.test], forget_classes)
        if mask.any():  # D_t may hold no sample of the forget class(es): the _test columns stay nan
            t = divergence_summary(probs(model, "test", mask), np.stack([probs(m, "test", mask) for m in models]))
            out |= {
                "MIA_NN_div_test": t["div"],
                "MIA_NN_floor_test": t["floor"],
                "MIA_NN_floor_max_test": t["floor_max"],
            }
        return out


@METRICS.register("mia_nn_svm")
class MIANNSVM(Metric):
    """MIA-NN, the earlier SVM variant: MIA_NN, MIA_NN_retrain, MIA_NN_gap (percent; 50 = indistinguishable)."""

    name = "mia_nn_svm"
    columns = SVM_COLUMNS
    needs = frozenset({Need.RETRAINED_K, Need.CLASS_FORGETTING})
    Options = MIANNSVMOptions
    quick_options = {"R": 2, "folds": 2}

    def compute(self, model, ev: Evaluation) -> dict:
        self.check(ev)
        forget_classes = _forget_classes(ev)
        return self._svm(model, ev.source(self.name).retrained(self.options.R), forget_classes, ev)

    def _svm(self, model, models, forget_classes, ev: Evaluation) -> dict:
        o = self.options
        labels_all = ev.dataset.labels
        forget_idx = ev.split.forget
        probs = torch.stack([torch.softmax(ev.logits(m, "forget"), 1) for m in models])
        neigh = neighbour_classes(probs, labels_all[forget_idx], forget_classes, o.top_k)
        neigh_mask = np.isin(labels_all[ev.split.retain], neigh)
        test_lab = labels_all[ev.split.test]
        ref = ev.retrained if ev.retrained is not None else models[0]

        def score(m) -> float:
            f = self._features(ev.logits(m, "forget"))
            n = self._features(ev.logits(m, "retain"))[neigh_mask]
            kw = dict(folds=o.folds, seed=ev.seed, C=o.svm_C, gamma=o.gamma, standardize=o.standardize)
            if o.held_out == "test":
                t = self._features(ev.logits(m, "test"))
                kw |= dict(pos_test=t[np.isin(test_lab, forget_classes)], neg_test=t[np.isin(test_lab, neigh)])
            return svm_attack_accuracy(f, n, **kw)

        u, r = score(model), score(ref)
        return {"MIA_NN": u, "MIA_NN_retrain": r, "MIA_NN_gap": abs(u - r)}

    def _features(self, logits: torch.Tensor) -> np.ndarray:
        return (torch.softmax(logits, 1) if self.options.feature == "prob" else logits).double().numpy()
