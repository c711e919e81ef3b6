"""MIA-NN: the neighbour-class attack on class unlearning (Ebrahimpour-Boroojeny, Wang, Sundaram,
arXiv 2506.20893; called CMIA in the ICML 2026 version).

A model retrained without class f sends f's inputs to f's *neighbour* classes; an unlearned model
that scattered f's mass arbitrarily is told apart by an attack that compares its outputs on
f-samples with its outputs on real neighbour-class samples. The exact protocol was not readable;
this is the *reconstruction* of ``shared/methods/trw.md``:

1. R models retrained without the forget class(es) (``ev.providers["retrained_models"](R)``, cached).
2. m_j = mean over the forget samples and the R models of p_r(j|x), j ∉ F; the neighbour(s) n(f) are
   the ``top_k`` largest (per forget class).
3. Features φ_M(x) = M's logits. Label 1: forget samples (D_f, seen by θ_o, never by θ_r); label 0:
   the neighbour classes' samples in D_r (members of both θ_o and θ_r). Samples are balanced by
   subsampling the larger side.
4. An RBF-SVC is fitted and scored with stratified k-fold cross-validation on that pool, so every
   sample is held out exactly once; MIA-NN(M) = mean held-out balanced accuracy in percent
   (``held_out="test"`` instead fits on the training pool and scores the same classes' D_t samples).

Columns: ``MIA_NN`` (θ_u), ``MIA_NN_retrain`` (θ_r), ``MIA_NN_gap`` = |MIA_NN − MIA_NN_retrain|.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
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


def svm_attack_accuracy(pos: np.ndarray, neg: np.ndarray, folds: int = 5, seed: int = 0, C: float = 1.0,
                        gamma: str | float = "scale", standardize: bool = True,
                        pos_test: np.ndarray | None = None, neg_test: np.ndarray | None = None) -> float:
    """Held-out balanced accuracy (percent) of an RBF-SVC telling ``pos`` (label 1) from ``neg`` (0).

    Both sides are subsampled to the smaller size (seeded). Without test arrays: mean over stratified
    ``folds``-fold cross-validation; with them: fit on all of pos/neg, score on pos_test/neg_test.
    """
    rng = np.random.default_rng(seed)
    n = min(len(pos), len(neg))
    if n < max(2, folds if pos_test is None else 1):
        raise UnlearnkitError(f"mia_nn needs at least {max(2, folds)} samples per side; got {len(pos)} forget and "
                              f"{len(neg)} neighbour samples (lower folds or use a larger dataset)")
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
    accs = [balanced(y[te], clf().fit(x[tr], y[tr]).predict(x[te]))
            for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)]
    return 100.0 * float(np.mean(accs))


# --- the metric ----------------------------------------------------------------------------------
class MIANNOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    R: int = Field(3, ge=1, description="retrained models that pick the neighbour class(es)")
    top_k: int = Field(1, ge=1, description="neighbour classes per forget class")
    folds: int = Field(5, ge=2, description="stratified cross-validation folds for the held-out accuracy")
    held_out: Literal["cv", "test"] = Field(
        "cv", description="cv: k-fold on D_f vs D_r-neighbour samples; test: fit on those, score on the same "
                          "classes' D_t samples")
    svm_C: float = Field(1.0, gt=0, description="SVC regularisation C")
    gamma: Literal["scale", "auto"] | float = Field("scale", description="RBF kernel width (scikit-learn)")
    standardize: bool = Field(True, description="z-score the logits before the SVC")
    feature: Literal["logits", "prob"] = Field("logits", description="attack features φ_M(x)")


@METRICS.register("mia_nn")
class MIANN(Metric):
    """Columns MIA_NN, MIA_NN_retrain, MIA_NN_gap (percent; 50 = indistinguishable, lower gap = better)."""

    name = "mia_nn"
    columns = (
        Column("MIA_NN", "info", "MIA-NN (TRW paper): held-out accuracy (%) of an RBF-SVM on logits separating "
               "forget-class samples from the neighbour class's; 50 = indistinguishable.", "%"),
        Column("MIA_NN_retrain", "info", "MIA_NN of θ_r (the reference).", "%"),
        Column("MIA_NN_gap", "min", "|MIA_NN(unlearned) − MIA_NN(retrained)|.", "pp"),
    )
    needs = frozenset({Need.RETRAINED_K, Need.CLASS_FORGETTING})
    quick_options = {"R": 2, "folds": 2}
    Options = MIANNOptions

    def compute(self, model, ev: Evaluation) -> dict:
        o = self.options
        self.check(ev)
        labels_all = ev.dataset.labels
        forget_idx = ev.split.forget
        forget_classes = np.unique(labels_all[forget_idx]).tolist()
        if len(forget_classes) >= ev.dataset.num_classes:
            raise UnlearnkitError("mia_nn is a class-unlearning attack: the forget set covers every class; use a "
                                  "class scenario")
        models = ev.source(self.name).retrained(o.R)
        probs = torch.stack([torch.softmax(ev.logits(m, "forget"), 1) for m in models])
        neigh = neighbour_classes(probs, labels_all[forget_idx], forget_classes, o.top_k)
        retain_idx = ev.split.retain
        neigh_mask = np.isin(labels_all[retain_idx], neigh)
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
