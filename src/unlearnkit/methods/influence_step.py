"""``if``: one weighted influence (Newton) step, θ_new = θ̂ − H⁻¹ Σ_i ε_i g_i.

Koh & Liang 2017 (influence functions); as an unlearning step: Guo et al. 2020 / Jia et al. 2023
("IU"); with real-valued ε: Qiao et al. 2025, "Soft Weighted Machine Unlearning", §4 (IF).
Exact summed Hessian with L2, Cholesky solve; the whole model for ``logreg``, the linear head on
frozen ``model.features`` for networks. With the ``uniform`` weighting ε_i = −1 on D_f (the classic
influence-removal step); with ``soft`` ε comes from the weighting (all of D_train).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from ..influence import LinearInfluence, linear_head, set_head_params
from ..training import label_smoothing_of
from ..weighting.soft import l2_strength
from .base import METHODS, Method, MethodOptions, StrengthPath


class IFOptions(MethodOptions):
    lam: float | None = Field(
        None,
        gt=0,
        description="L2 of the summed objective in H (ignored when the weighting "
        "supplies its influence); None → n_train × training weight_decay, at least 1e-4",
    )
    scale: float = Field(1.0, gt=0, description="multiplier on the Newton step (1 = the influence prediction)")


@METHODS.register("if")
class InfluenceStep(Method):
    """One weighted Newton step θ − H⁻¹ Σ ε_i g_i (whole logreg, or the head of a network; soft weights)."""

    name = "if"
    Options = IFOptions
    strength_option = "scale"  # stop="auto": the Newton step × {¼ … 4} searched by the proxy
    search_space = {"scale": ("log", 0.1, 10.0)}  # `unlearnkit tune`
    weightable_terms = frozenset({"influence"})

    def unlearn(self, ctx):
        return self.strength_path(ctx).place(ctx.options.scale)

    def strength_path(self, ctx) -> StrengthPath:
        """One influence computation (features, Hessian, Cholesky, Newton step) for every scale the search
        tries: ``place(scale)`` sets the head to θ̂ + scale · Δθ (the same arithmetic as one run at that
        scale, so the model is identical)."""
        given = ctx.weighting.influence_weights(ctx)
        if given is not None:
            inf, eps = given
        else:
            train = ctx.split.train
            inf = LinearInfluence.from_model(
                ctx.model,
                ctx.dataset,
                train,
                l2_strength(ctx.options.lam, ctx.train_config, len(train)),
                label_smoothing_of(ctx.train_config),
            )
            eps = -np.isin(train, ctx.split.forget).astype(np.float64)
        step = inf.newton_step(torch.as_tensor(eps, device=inf.phi.device))
        _, lin = linear_head(ctx.model)

        def place(scale: float):
            delta = scale * step
            with torch.no_grad():
                set_head_params(lin, inf.theta + delta)
            ctx.record(if_step_norm=float(delta.norm()), if_lam=inf.lam)
            return ctx.model.eval()

        return StrengthPath("scale", ctx.options.scale, place)
