"""``bad_teacher``: competent/incompetent teacher distillation (Chundawat et al., AAAI 2023, "Can Bad
Teaching Induce Forgetting?", §3 Eq. 3–4). The student starts at θ_o and minimises per sample
KL(T_s‖S) to the competent teacher θ_o on D_r and KL(T_d‖S) to a randomly initialised ("incompetent")
teacher T_d on D_f, both at temperature T. The random teacher comes from ``ctx.new_model()``
(seeded by the run's seed): ``unlearn``'s ``new_model=``, or without it θ_o's architecture re-initialised
(:func:`~unlearnkit.models.fresh.reinitialised`)."""

from __future__ import annotations

import torch
from pydantic import Field

from ..errors import UnlearnkitError
from ..models.batchnorm import BatchNormMode
from .base import METHODS, GradientMethod, GradientOptions
from .scrub import distill_kl


class BadTeacherOptions(GradientOptions):
    """Defaults measured on digits/MLP with ``benchmarks/baselines.py`` (3 seeds; Avg.Gap to θ_r on
    random 10% / class [3]: 1.49 / 0.50 vs θ_o's 1.99 / 52.37). T=1 is the paper's. Equal weights on the
    two KL terms push a random 10% forget set to near-uniform outputs (Avg.Gap 43), so the forget term
    is down-weighted: swept forget_weight {0.02, 0.05, 0.1, 0.2} × lr {0.005, 0.01} × epochs {2, 5}
    (and T ∈ {1, 4} at weight 1); 0.05 / 0.01 / 2 beats θ_o on both scenarios."""

    epochs: int = Field(2, ge=1)
    lr: float = Field(0.01, gt=0)
    forget_weight: float = Field(0.05, ge=0, description="weight of the incompetent-teacher KL on D_f")
    temperature: float = Field(1.0, gt=0, description="KL temperature (KL_temperature in the paper)")
    forget_batch_norm: BatchNormMode = Field(
        "train",
        description=(
            "as for every gradient method (see GradientOptions); bad_teacher keeps the reference's 'train': "
            "on two batch-norm grids' class cells (digits resnet18, Fashion-MNIST cnn; 2 seeds) it won 6 of 6 "
            "with it, 3 with 'batch' and 2 with 'running'"
        ),
    )


@METHODS.register("bad_teacher")
class BadTeacher(GradientMethod):
    """ℓ_forget,i = KL_T(T_d‖θ)(x_i); ℓ_retain,j = KL_T(θ_o‖θ)(x_j)."""

    name = "bad_teacher"
    Options = BadTeacherOptions
    weightable_terms = frozenset({"forget", "retain"})

    def setup(self, ctx):
        if ctx.new_model is None:
            raise UnlearnkitError(
                "method 'bad_teacher' needs a randomly initialised teacher: pass new_model=lambda: MyNet() to unlearn()"
            )
        teacher = ctx.new_model().to(ctx.device).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        if ctx.passes is not None:  # its forward passes on D_f are part of the method's cost
            ctx.passes.watch(teacher)
        self._incompetent = teacher

    def forget_loss(self, ctx, logits, batch):
        with torch.no_grad():
            t = self._incompetent(batch.x)
        return distill_kl(logits, t, ctx.options.temperature)

    def retain_loss(self, ctx, logits, batch):
        with torch.no_grad():
            t = ctx.original(batch.x)
        return distill_kl(logits, t, ctx.options.temperature)
