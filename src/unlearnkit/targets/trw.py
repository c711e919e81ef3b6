"""``trw``: the tilted-reweighting target for class unlearning (Ebrahimpour-Boroojeny, Wang, Sundaram,
"On the Necessity of Output Distribution Reweighting for Effective Class Unlearning", arXiv 2506.20893;
TRW, renamed TREW in the ICML 2026 version).

A model retrained without class f sends f's inputs to *semantically near* classes. TRW pushes each
forget sample toward θ_o's own distribution over the remaining classes R = classes \\ F, tilted by
exp(β · π_j) where π is a sharp softmax of class similarity to f (the KL minimiser / information
projection under an expected-similarity constraint)::

    e_k = PCA_d'(ℓ̄_k)                       class embeddings (mean logits of class k under θ_o)
    s_j = cos(e_f, e_j),   π_j = softmax_{j∈R}(s_j / T)
    q_j(x) ∝ p_θo(j|x) · exp(β π_j)  for j ∈ R,   q_j(x) = 0 for j ∈ F

β = 0 is the plain drop-and-renormalise target (the paper's v1 variant; kept as an ablation).
Much of the exact math was not readable: the embedding choice, PCA width and T are a
*reconstruction* (``shared/methods/trw.md``) and are options here. The pure functions below take
logits/embeddings so the math can be checked on hand-made tables.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ..errors import UnlearnkitError
from ..eval.predict import predict_logits
from .base import TARGETS, TabulatedTarget


# --- pure math -----------------------------------------------------------------------------------
def mean_logit_embeddings(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """ℓ̄_k = mean logit vector of the samples of class k → Tensor[C, C] (step 1 of the spec)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    counts = torch.bincount(labels, minlength=num_classes).to(logits.dtype)
    missing = (counts == 0).nonzero().flatten().tolist()
    if missing:
        raise UnlearnkitError(f"trw: class(es) {missing} have no samples to embed; use embedding='classifier_rows' "
                              f"or data that covers every class")
    sums = torch.zeros(num_classes, logits.shape[1], dtype=logits.dtype).index_add_(0, labels, logits)
    return sums / counts[:, None]


def pca_project(emb: torch.Tensor, dims: int) -> torch.Tensor:
    """Centre the class embeddings (rows) and keep their top ``dims`` principal components."""
    x = emb.double() - emb.double().mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    return x @ vh[: max(1, min(dims, vh.shape[0]))].T


def similarity_prior(emb: torch.Tensor, forget_classes, temperature: float) -> torch.Tensor:
    """π: Tensor[C, C]; row f (for each forget class f) is softmax_{j∈R}(cos(e_f, e_j) / T), with 0 on the
    forget classes; rows of the other classes are 0 (unused)."""
    C = emb.shape[0]
    e = torch.nn.functional.normalize(emb.double(), dim=1)
    s = e @ e.T
    forget = torch.zeros(C, dtype=torch.bool)
    forget[list(forget_classes)] = True
    logits = (s / temperature).masked_fill(forget[None, :], float("-inf"))
    pi = torch.zeros(C, C, dtype=torch.float64)
    pi[forget] = torch.softmax(logits[forget], dim=1)
    return pi


def tilted_target(logits: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor, forget_classes,
                  beta: float) -> torch.Tensor:
    """q(x) ∝ p_θo(j|x) exp(β π_{y(x), j}) over the remaining classes, 0 on every forget class (spec steps
    3–4; computed as a masked softmax of logits + β π, which equals drop-f-renormalise-then-tilt)."""
    C = logits.shape[1]
    forget = torch.zeros(C, dtype=torch.bool)
    forget[list(forget_classes)] = True
    z = logits.double() + beta * prior[torch.as_tensor(labels, dtype=torch.long)]
    return torch.softmax(z.masked_fill(forget[None, :], float("-inf")), dim=1).float()


def drop_and_renormalise(probs: torch.Tensor, forget_classes) -> torch.Tensor:
    """p̃_j = p_j / Σ_{j'∈R} p_j' on R, 0 on the forget classes (β = 0 reference)."""
    p = probs.double().clone()
    p[:, list(forget_classes)] = 0
    return (p / p.sum(1, keepdim=True)).float()


def classifier_rows(model: nn.Module, num_classes: int) -> torch.Tensor:
    """The weight rows of the model's last linear layer with ``num_classes`` outputs."""
    head = getattr(model, "head", None)
    if not (isinstance(head, nn.Linear) and head.out_features == num_classes):
        linears = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]
        if not linears:
            raise UnlearnkitError("trw embedding='classifier_rows' needs a final nn.Linear with one row per class; "
                                  "use embedding='mean_logits' for this model")
        head = linears[-1]
    return head.weight.detach().float().cpu()


# --- the target ----------------------------------------------------------------------------------
class TRWOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beta: float = Field(10.0, ge=0, description="tilt strength β (paper: 10); 0 = drop-and-renormalise ablation")
    temperature: float = Field(0.1, gt=0, description="T of the similarity softmax π (reconstruction)")
    pca_dims: int | None = Field(None, ge=1, description="PCA width d' of the class embeddings; None = C − 1 "
                                                         "(reconstruction)")
    embedding: Literal["mean_logits", "classifier_rows"] = Field(
        "mean_logits", description="class embeddings: θ_o's mean logits per class on the training data, or the "
                                   "classifier's weight rows (reconstruction)")


@TARGETS.register("trw")
class TRW(TabulatedTarget):
    """q for every forget sample, computed once from the frozen θ_o (``ctx.original``) and cached.

    The forget classes are the classes present in the forget set (class scenarios); with several,
    all of them get q = 0 and each sample is tilted by the similarity row of its own class.
    """

    name = "trw"
    requires_class_scenario = True  # the forget classes get q = 0
    Options = TRWOptions

    def prepare(self, ctx) -> None:
        o = self.options
        C = ctx.num_classes
        forget_classes = sorted(set(np.unique(ctx.labels(ctx.split.forget)).tolist()))
        if len(forget_classes) >= C:
            raise UnlearnkitError("trw: the forget set covers every class, so no class is left to push mass to; "
                                  "use a class scenario that keeps some classes")
        f_logits = predict_logits(ctx.original, ctx.dataset, ctx.split.forget, device=ctx.device)
        if o.embedding == "mean_logits":
            tr = ctx.split.train
            emb = mean_logit_embeddings(predict_logits(ctx.original, ctx.dataset, tr, device=ctx.device),
                                        torch.as_tensor(ctx.labels(tr)), C)
        else:
            emb = classifier_rows(ctx.original, C)
        emb = pca_project(emb, o.pca_dims or C - 1)
        self.prior = similarity_prior(emb, forget_classes, o.temperature)
        self.forget_classes = forget_classes
        y = torch.as_tensor(ctx.labels(ctx.split.forget))
        self.set_table(ctx, tilted_target(f_logits, y, self.prior, forget_classes, o.beta))
