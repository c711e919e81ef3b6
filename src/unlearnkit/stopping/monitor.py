"""The :class:`Monitor` a gradient method's run carries: divergence guards in both modes, and under ``auto`` the
proxy scored at fixed points, the best state kept and the run stopped on overshoot, patience or divergence."""

from __future__ import annotations

import math
import weakref

import numpy as np
import torch
from torch.nn.utils import get_total_norm

from ..errors import UnlearnkitError
from ..passes import evaluating
from ..predict import predict_logits
from ..eval.proxy import ProxyReference


from .facts import kept_facts, reference_facts
from .options import StopOptions


class StopRun(Exception):
    """Raised inside a loop's optimiser step when ``stop="auto"`` has decided; caught by ``unlearn``."""


@torch.no_grad()
def parameter_norm(model) -> float:
    """‖θ‖₂ over all parameters: :func:`torch.nn.utils.get_total_norm` (one fused norm per device and dtype, not
    an operator chain per tensor: the once-an-epoch guard cost ResNet-18 about 250 operators this way; fp32
    accumulation, relative error ~1e-7 against float64, for a guard that compares with a factor of 3); one
    host sync."""
    params = list(model.parameters())  # no detach needed (no_grad): one operator fewer per tensor
    return float(get_total_norm(params, 2.0)) if params else 0.0


def best_step(curve: list[tuple[int, float]], min_delta: float = 0.0) -> int:
    """The step of the lowest proxy gap (the earliest among ties / within ``min_delta`` of a later one)."""
    best_s, best_v = None, math.inf
    for s, v in curve:
        if v < best_v - min_delta:
            best_s, best_v = s, v
    return best_s


def shared_reference(ctx, options: StopOptions) -> ProxyReference:
    """The proxy's reference from θ_o for this unlearn call, built once (evaluation passes) and shared by
    the :class:`Monitor`, the lr search's runs (trials copy ``ctx``) and the strength search."""
    if ctx.proxy_reference is None:
        with evaluating(ctx.passes):
            ctx.proxy_reference = ProxyReference.build(
                ctx.original, ctx.dataset, ctx.split, options.proxy, ctx.device, baseline=ctx.baseline
            )
    return ctx.proxy_reference


def keepable(values: dict, options: StopOptions) -> bool:
    """Whether auto may keep a state with these proxy values: not if its RA may have fallen by more than
    ``max_damage`` points against θ_o — the D_r sample's estimate plus ``damage_z`` standard errors, since it
    is measured on a sample — nor if its accuracy on the held-out samples lost more than ``max_unseen_damage``
    (the rest of ``proxy_damage``). A collapse is never the answer, whatever the other terms say."""
    ra_bound = values["proxy_ra_loss"] + options.damage_z * values["proxy_ra_loss_se"]
    unseen_loss = values["proxy_damage"] - values["proxy_ra_loss"]
    return ra_bound <= options.max_damage and unseen_loss <= options.max_unseen_damage


class Monitor:
    """Guards (both modes) and auto-stopping for one run of a gradient method on ``ctx``."""

    def __init__(
        self,
        method_name: str,
        ctx,
        steps_per_epoch: int,
        mode: str,
        options: StopOptions,
        lower: str,
        settles_at: int = 0,
    ):
        self.name, self.mode, self.o, self.lower = method_name, mode, options, lower
        # auto: no patience or overshoot stop before this step (the method's objective still changes on a schedule
        # until then, :meth:`GradientMethod.settles_at`); evaluations, the best state and the guards run as always
        self.settles_at = settles_at
        self._ctx = weakref.ref(ctx)  # ctx.monitor is this Monitor: a strong reference back would make a cycle
        cadence = options.every if mode == "auto" else options.guard_every
        self.every = max(1, round(cadence * steps_per_epoch))
        if mode == "auto" and options.max_interval is not None:
            self.every = min(self.every, options.max_interval)
        self.patience_evals = max(1, math.ceil(options.patience * steps_per_epoch / self.every))
        self.early: set[int] = set()  # auto: evaluations before the first regular one (every/2, every/4, …)
        self.at = set(options.at_steps) if mode == "auto" and options.at_steps else None  # exact steps only
        if mode == "auto" and options.early_min is not None and self.at is None:
            s = self.every // 2
            while s >= options.early_min:
                self.early.add(s)
                s //= 2
        self.norm_o = parameter_norm(ctx.original)
        self.ref = None
        self.last_step = 0
        self.curve: list[tuple[int, float]] = []
        self.warnings: list[str] = []
        self.reason = "budget"
        self.refused = 0  # auto: evaluated states not kept for damage (max_damage, max_unseen_damage)
        if mode == "auto":
            self.ref = shared_reference(ctx, options)
            start = dict(self.ref.values_o)  # θ_o's score, computed with the reference
            self.best = (0, start["proxy_gap"], None)  # None: the best state is θ_o itself
            self.kept_fa = self.ref.fa_o  # the best state's forget_accuracy (θ_o's until a state beats it)
            self._log(0, start)
        else:
            rng = np.random.default_rng(ctx.seed)
            r = np.asarray(ctx.split.retain)
            self.guard_idx = np.sort(rng.choice(r, size=min(options.guard_samples, len(r)), replace=False))
            self.logit_norm_o = self._logit_norm(
                predict_logits(ctx.original, ctx.dataset, self.guard_idx, device=ctx.device)
            )

    @staticmethod
    def _logit_norm(logits: torch.Tensor) -> float:
        return float(logits.double().norm(dim=1).mean()) if len(logits) else 0.0

    def _log(self, step: int, values: dict) -> None:
        self.curve.append((step, values["proxy_gap"]))
        self.ctx.record(step=step, **values)

    # called by GradientMethod.optimizer_step --------------------------------------------------------------
    def nonfinite(self, step: int, value: float, where: str) -> None:
        self.diverged(step, f"loss is {value} at step {step} ({where})")

    @property
    def ctx(self):
        """The run's context (alive while its run is: the Monitor is only used inside it). Held weakly, so
        that a finished context (its model copies, the best state, the proxy reference: GPU memory) is
        freed when its job ends, not at the next cyclic garbage collection."""
        ctx = self._ctx()
        if ctx is None:
            raise RuntimeError("the Monitor outlived its run's context")
        return ctx

    def after_step(self, step: int) -> None:
        """``step`` updates done; evaluates every ``self.every`` steps and, under auto, at the early steps
        before the first of those (raises StopRun when auto decides)."""
        self.last_step = step
        if self.at is not None:  # exact steps (step_refine's re-runs): evaluate there, stop after the last
            if step in self.at:
                self.evaluate(step)
            if step >= max(self.at):
                self.reason = "at_steps"
                raise StopRun
            return
        if step % self.every and step not in self.early:
            return
        self.evaluate(step)

    def evaluate(self, step: int) -> None:
        with evaluating(self.ctx.passes):  # proxy and guard passes are evaluation, not the method's cost
            self._evaluate(step)

    def _evaluate(self, step: int) -> None:
        model = self.ctx.model
        ratio = parameter_norm(model) / max(self.norm_o, 1e-12)
        if not math.isfinite(ratio) or ratio > self.o.param_factor:
            self.diverged(
                step, f"the parameter norm grew {ratio:.3g}× θ_o's (stopping.param_factor {self.o.param_factor})"
            )
        screened = False
        if self.mode == "auto":
            head = self.o.screen_retain
            screened = head is not None and head < len(self.ref.retain)
            lg = self.ref.forward(model, slice(0, head) if screened else slice(None))
            logit_norm = self._logit_norm(lg["retain"])
            logit_norm_o = self.ref.retain_logit_norm(len(lg["retain"]))  # θ_o's on the same samples
        else:
            logit_norm = self._logit_norm(
                predict_logits(model, self.ctx.dataset, self.guard_idx, device=self.ctx.device)
            )
            logit_norm_o = self.logit_norm_o
        lr = logit_norm / max(logit_norm_o, 1e-12)
        if not math.isfinite(lr) or lr > self.o.logit_factor:
            self.diverged(
                step, f"the mean logit norm on D_r grew {lr:.3g}× θ_o's (stopping.logit_factor {self.o.logit_factor})"
            )
        if self.mode != "auto":
            return
        values = self.ref.evaluate_logits(lg)
        if screened and (self._may_improve(values) or not keepable(values, self.o)):  # on the whole D_r sample
            rest = self.ref.retain_logits(model, slice(self.o.screen_retain, None))
            values = self.ref.evaluate_logits({**lg, "retain": torch.cat([lg["retain"], rest])})
        self._log(step, values)
        gap = values["proxy_gap"]
        if not keepable(values, self.o):
            self.refused += 1
        elif gap < self.best[1] - self.o.min_delta:
            self.best = (step, gap, {k: v.detach().clone() for k, v in model.state_dict().items()})
            self.kept_fa = self.ref.forget_accuracy(lg["forget"])
        elif self.at is not None or step < self.settles_at:  # exact steps, or a schedule still running: no stop
            return
        elif gap > self.best[1] + self.o.overshoot:
            self.reason = f"overshoot: proxy gap {gap:.2f} > best {self.best[1]:.2f} + {self.o.overshoot}"
            raise StopRun
        elif step - self.best[0] >= self.patience_evals * self.every:  # in steps: early evaluations don't count
            self.reason = f"patience: no better proxy gap for {self.o.patience} epoch(s)"
            raise StopRun

    def _may_improve(self, values: dict) -> bool:
        """Whether a state scored on the head of the D_r sample could beat the best on all of it: its RA loss
        there is at least 0, so its proxy gap there is at least this one less the RA-loss part. (A state the head
        calls unkeepable is scored on the whole sample too: a refused state does not count toward patience, so
        that decision needs the whole sample as well.)"""
        share = self.o.proxy.damage_share
        return values["proxy_gap"] - share * values["proxy_ra_loss"] < self.best[1] - self.o.min_delta

    def diverged(self, step: int, what: str) -> None:
        if self.mode != "auto":
            raise UnlearnkitError(f"method {self.name!r} diverged at step {step}: {what}; lower {self.lower}")
        msg = f"diverged at step {step}: {what}; rolled back to step {self.best[0]}"
        self.warnings.append(msg)
        self.reason = "divergence"
        raise StopRun

    def finish(self) -> dict | None:
        """Auto: evaluate the final state if it was not, load the best state and record the summary."""
        if self.mode != "auto":
            return None
        if self.reason == "budget" and (not self.curve or self.curve[-1][0] != self.last_step):
            try:
                self.evaluate(self.last_step)
            except StopRun:
                pass
        step, gap, state = self.best
        with torch.no_grad():
            self.ctx.model.load_state_dict(state if state is not None else self.ctx.original.state_dict())
        summary = {
            "best_step": step,
            "best_proxy_gap": gap,
            "steps_run": self.last_step,
            "every": self.every,
            "first_evaluation": min(self.early, default=self.every),
            "settles_at": self.settles_at,
            "reason": self.reason,
            "evaluations": len(self.curve),
            "refused_for_damage": self.refused,
            "warnings": list(self.warnings),
            **kept_facts(self.kept_fa),
            # what the targets rest on, as a search's summary has it (a single run's warnings read it too)
            **(reference_facts(self.ref) if self.ref is not None else {}),
        }
        self.ctx.record(auto_stop=summary)
        return summary
