"""Method contracts: every gradient method is per-sample losses in one shared loop.

    loss = Σ_i w_i ℓ_forget(θ; x_i, target_i) / Σ_i w_i  +  λ · mean_j ℓ_retain(θ; x_j, y_j)

A subclass of :class:`GradientMethod` supplies ``forget_loss`` / ``retain_loss`` (Tensor[B]); the
loop does batching, device moves, weighting, NaN checks and progress once for all methods.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from typing import ClassVar, Iterator, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ..amp import Precision, channels_last
from ..errors import CompositionError, UnlearnkitError
from ..models.batchnorm import BatchNormMode, batch_norm_layers, batch_norm_mode
from ..passes import evaluating
from ..registry import Registry
from ..stopping import Monitor, StopMode, StopOptions, StrengthPath
from ..training import batches, label_smoothing_of, make_optimizer, make_scheduler
from ..weighting.base import reduce_weighted

METHODS: Registry = Registry("method")


class MethodOptions(BaseModel):
    """Options every method takes: how it stops (see :mod:`unlearnkit.stopping`)."""

    model_config = ConfigDict(extra="forbid")
    stop: StopMode | None = Field(None, description="auto | none; overrides unlearn(stop=…) for this method")
    stopping: StopOptions = Field(
        default_factory=StopOptions,  # type: ignore[arg-type]
        description="auto-stop cadence, patience, divergence guards and the proxy's options",
    )


class GradientOptions(MethodOptions):
    """Shared optimiser settings of gradient methods (defaults suit the digits/MLP presets)."""

    epochs: int = Field(5, ge=1, description="passes over the driving set (D_r if the method uses it, else D_f)")
    lr: float = Field(0.01, gt=0)
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    batch_size: int = Field(64, ge=1, description="forget batch size", json_schema_extra={"reads": "forget"})
    retain_batch_size: int = Field(64, ge=1, json_schema_extra={"reads": "retain"})
    forget_weight: float = Field(1.0, ge=0, description="α on the forget term", json_schema_extra={"reads": "forget"})
    retain_weight: float = Field(1.0, ge=0, description="λ on the retain term", json_schema_extra={"reads": "retain"})
    schedule: Literal["none", "cosine"] = "none"
    grad_clip: float | None = Field(None, gt=0)
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32",
        description="autocast dtype of the forward passes (fp16 adds gradient scaling); fp32 = exactly the plain loop",
    )
    forget_batch_norm: BatchNormMode = Field(
        "batch",
        description=(
            "batch-norm layers on forward passes over D_f: 'batch' (default) normalises with the batch's "
            "statistics, as training mode does, and leaves the running statistics as they are; 'train' also "
            "moves them toward D_f's, as PyTorch and the reference implementations do (a D_f batch is one class "
            "under class forgetting, and every retained input is then normalised with its statistics); "
            "'running' normalises with the running statistics (eval mode). No effect on a model without batch norm"
        ),
        json_schema_extra={"reads": "forget"},
    )


def option_reads(options_cls: type[BaseModel], name: str) -> Literal["forget", "retain"] | None:
    """The set an option acts on, as its field declares (``json_schema_extra={"reads": ...}``), also where an
    Options subclass redefines the field with another default (ga's ``batch_size``): the first declaration up
    the class hierarchy counts. None: an option of the whole run."""
    for klass in options_cls.__mro__:
        field = klass.__dict__.get("__pydantic_fields__", {}).get(name) if issubclass(klass, BaseModel) else None
        extra = field.json_schema_extra if field is not None else None
        if isinstance(extra, dict) and extra.get("reads") in ("forget", "retain"):
            return extra["reads"]  # type: ignore[return-value]
    return None


class Method:
    """A registered unlearning method. ``unlearn(ctx)`` changes ``ctx.model`` and returns it."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[MethodOptions]] = MethodOptions
    weightable_terms: ClassVar[frozenset[str]] = frozenset()
    accepts_target: ClassVar[bool] = False
    default_target: ClassVar[str] = "none"
    #: False for methods that leave θ_o as it is on purpose (``original``): no "did not move" warning
    moves_model: ClassVar[bool] = True
    #: option → (kind, low, high) that ``unlearnkit tune`` searches (kind: log | int | float); entries
    #: naming no field of ``Options`` are ignored
    search_space: ClassVar[dict[str, tuple[str, float, float]]] = {
        "lr": ("log", 1e-4, 0.1),
        "epochs": ("int", 1, 10),
        "forget_weight": ("log", 0.01, 1.0),
    }
    #: which sets the method reads (the tuner offers ``forget_weight`` only when it reads D_f)
    uses_forget: ClassVar[bool] = False
    uses_retain: ClassVar[bool] = False
    #: whether it trains on batches of the data (gradient steps), where ``unlearn(augment=…)`` applies
    trains_on_batches: ClassVar[bool] = False
    #: a gradient method's regulariser weight whose cost is damage (l1_sparse "l1"): stop="auto" lowers it
    #: (``stopping.damage_lower``) for the lr search's runs after one whose states were mostly refused for damage
    damage_option: ClassVar[str | None] = None
    #: a one-shot method's strength option (e.g. ssd "alpha"): stop="auto" picks its value by the proxy
    strength_option: ClassVar[str | None] = None
    #: which way the strength option weakens the method: "smaller" (a step or scale) or "larger" (ssd's α, a
    #: selection threshold); the strength search extends that way when every value it tried cost too much
    strength_weaker: ClassVar[Literal["smaller", "larger"]] = "smaller"

    def strength_path(self, ctx) -> StrengthPath | None:
        """For ``stop="auto"``'s strength search: a :class:`StrengthPath` when the method can move along its
        strength without recomputing what it derives from the data (``fisher``: one Fisher and one direction
        serve every step). ``None`` (default): the search reruns :meth:`unlearn` on a copy of θ_o with
        ``strength_option`` set to each value."""
        return None

    def check_options(self, options: BaseModel) -> None:
        """Reject an option given explicitly that this method would ignore (at config time, not silently)."""

    def check_composition(self, weighting, target_name: str) -> None:
        """Reject a weighting or target this method cannot use (at config time, not silently)."""
        if weighting.name != "uniform" and not (weighting.terms & self.weightable_terms):
            what = (
                "has no per-sample loss"
                if not self.weightable_terms
                else f"weights only its {'/'.join(sorted(self.weightable_terms))} loss"
            )
            raise CompositionError(
                f"method {self.name!r} cannot use weighting {weighting.name!r}: it {what}; "
                f"use weighting 'uniform' or a gradient method such as rl, ga, neggrad_plus"
            )
        if target_name != "none" and not self.accepts_target:
            raise CompositionError(
                f"method {self.name!r} does not push forget samples toward a distribution, so "
                f"target {target_name!r} cannot apply; use target 'none' or a method such as "
                f"rl, neggrad_plus"
            )

    def unlearn(self, ctx) -> nn.Module:
        raise NotImplementedError


def soft_cross_entropy(logits: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per-sample −Σ_c q_c log p_θ(c|x) (= KL(q‖p_θ) + const)."""
    return -(q * F.log_softmax(logits, dim=1)).sum(1)


def training_loss(ctx, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy as θ_o was trained: with the run's ``train_config.label_smoothing`` (0 without a
    train config). The retain terms keep training on this objective; a forget term's own loss is the method's."""
    return F.cross_entropy(logits, y, reduction="none", label_smoothing=label_smoothing_of(ctx.train_config))


def cycle_batches(indices, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless seeded batches over ``indices``, reshuffled every pass."""
    for _ in itertools.count():
        yield from batches(indices, batch_size, generator)


class GradientMethod(Method):
    """The shared loop. Class attributes say which sets a method reads."""

    Options = GradientOptions
    uses_forget: ClassVar[bool] = True
    uses_retain: ClassVar[bool] = True
    trains_on_batches: ClassVar[bool] = True

    def check_options(self, options: BaseModel) -> None:
        """An option that only acts on a set the method does not read (an option field's ``reads``: ``forget`` or
        ``retain``), given explicitly, is an error: ft with ``forget_weight`` would silently run as without it."""
        uses = {"forget": self.uses_forget, "retain": self.uses_retain}
        sets = {"forget": "the forget set D_f", "retain": "the retain set D_r"}
        unread: dict[str, list[str]] = {}
        for name in sorted(options.model_fields_set):
            reads = option_reads(type(options), name)
            if reads is not None and not uses[reads]:
                unread.setdefault(reads, []).append(name)
        if unread:
            what = " and ".join(sets[k] for k in unread)
            names = [n for names in unread.values() for n in names]
            raise CompositionError(
                f"method {self.name!r} does not read {what}, so option{'s' if len(names) > 1 else ''} "
                f"{', '.join(map(repr, names))} would have no effect; remove {'them' if len(names) > 1 else 'it'}"
            )

    # hooks ------------------------------------------------------------------------------
    def setup(self, ctx) -> None:
        """Before the loop (masks, teachers)."""

    def forget_loss(self, ctx, logits: torch.Tensor, batch) -> torch.Tensor:
        raise NotImplementedError

    def retain_loss(self, ctx, logits: torch.Tensor, batch) -> torch.Tensor:
        return training_loss(ctx, logits, batch.y)

    def parameters(self, ctx):
        return ctx.model.parameters()

    def before_step(self, ctx) -> None:
        """After backward, before the optimiser step (e.g. mask gradients)."""

    def after_step(self, ctx) -> None:
        """After the optimiser step (e.g. restore frozen weights)."""

    def extra_loss(self, ctx, step: int, total_steps: int) -> torch.Tensor | None:
        """A parameter penalty added to the loss (e.g. ℓ1)."""
        return None

    def settles_at(self, ctx) -> int:
        """The step until which this method's objective changes on a schedule (a decaying penalty, a phase of
        ascent steps), 0 when it does not. Under ``stop="auto"`` no patience or overshoot stop happens before it:
        the proxy read mid-schedule scores a transient (ℓ1-sparse's early penalty lowers RA and the proxy rises,
        then falls as the penalty decays), so stopping there ends the run before the objective it was given.
        The proxy is still read, the best state kept and the divergence guards applied throughout."""
        return 0

    # loop -------------------------------------------------------------------------------
    def steps_per_epoch(self, ctx) -> int:
        o = ctx.options
        if self.uses_retain:
            return math.ceil(len(ctx.split.retain) / o.retain_batch_size)
        return math.ceil(len(ctx.split.forget) / o.batch_size)

    def batch_norm_mode(self, ctx, name: str, size: int) -> BatchNormMode:
        """How a training forward of term ``name`` over ``size`` samples treats batch norm: a batch of one has
        no batch statistics (running ones); a forget term as ``forget_batch_norm`` says."""
        if size == 1:
            return "running"
        return ctx.options.forget_batch_norm if name == "forget" else "train"

    def term(self, ctx, idx, step: int, name: str, loss_fn) -> torch.Tensor:
        batch = ctx.batch(idx)
        with (
            ctx.precision.autocast() if ctx.precision is not None else contextlib.nullcontext(),
            batch_norm_mode(ctx.batch_norms, self.batch_norm_mode(ctx, name, len(batch.host_idx))),
        ):
            logits = ctx.model(batch.x)
            losses = loss_fn(ctx, logits, batch)
        losses = losses.float()
        w = ctx.weighting.weights(ctx, batch, logits.detach(), step, name)
        return reduce_weighted(losses, w, ctx.weighting.normalize)

    def optimizer_step(self, ctx, opt, sched, loss: torch.Tensor, step: int, where: str) -> float:
        """NaN check, backward, hooks, clipping and the update — the one place every loop steps."""
        o = ctx.options
        value = loss.item()
        if not math.isfinite(value):
            if ctx.monitor is not None:
                ctx.monitor.nonfinite(step, value, where)  # raises (auto: rolls back)
            raise UnlearnkitError(
                f"method {self.name!r}: loss is {value} at step {step} ({where}); "
                f"lower lr (now {o.lr}) or the number of epochs"
            )
        opt.zero_grad(set_to_none=True)
        prec = ctx.precision if ctx.precision is not None and ctx.precision.enabled else None
        if prec is None:  # fp32: exactly the plain loop
            loss.backward()
            self.before_step(ctx)
            if o.grad_clip:
                nn.utils.clip_grad_norm_(ctx.model.parameters(), o.grad_clip)
            opt.step()
        else:  # autocast (+ fp16 scaling): gradients are unscaled before hooks and clipping read them
            prec.backward(loss)
            prec.unscale_(opt)
            self.before_step(ctx)
            if o.grad_clip:
                nn.utils.clip_grad_norm_(ctx.model.parameters(), o.grad_clip)
            prec.step(opt)
        self.after_step(ctx)
        if sched is not None:
            sched.step()
        if ctx.monitor is not None:
            ctx.monitor.after_step(step + 1)  # guards; auto: proxy, best state, may raise StopRun
        return value

    def start(self, ctx) -> tuple[torch.Generator, torch.optim.Optimizer]:
        """Train mode, the ``setup`` hook, the seeded batch generator, the optimiser and the
        :class:`~unlearnkit.stopping.Monitor` (guards; auto-stop under ``ctx.stop == "auto"``)."""
        o = ctx.options
        ctx.model.train()
        ctx.batch_norms = batch_norm_layers(ctx.model)  # found once per run; every term's forward sets their mode
        if "forget_batch_norm" in o.model_fields_set and not ctx.batch_norms:
            warnings.warn(
                f"method {self.name!r}: forget_batch_norm={o.forget_batch_norm!r} has no effect, the model has no "
                "batch-norm layer; remove the option",
                RuntimeWarning,
                stacklevel=2,
            )
        self.setup(ctx)
        opt = make_optimizer(list(self.parameters(ctx)), o.optimizer, o.lr, o.momentum, o.weight_decay)
        ctx.precision = Precision(o.precision, ctx.device)
        ctx.nhwc = channels_last(ctx.model, ctx.device)  # CUDA + conv: NHWC model and batches (undone by unlearn())
        with evaluating(ctx.passes):  # the proxy reference and guard baselines are evaluation passes
            ctx.monitor = Monitor(
                self.name,
                ctx,
                self.steps_per_epoch(ctx),
                ctx.stop,
                o.stopping,
                lower=f"lr (now {o.lr}) or the number of epochs (now {o.epochs})",
                settles_at=self.settles_at(ctx),
            )
        return torch.Generator().manual_seed(ctx.seed), opt

    def unlearn(self, ctx) -> nn.Module:
        o = ctx.options
        model = ctx.model
        gen, opt = self.start(ctx)
        per_epoch = self.steps_per_epoch(ctx)
        total = per_epoch * o.epochs
        sched = make_scheduler(opt, o.schedule, total, 0)
        forget_stream = cycle_batches(ctx.split.forget, o.batch_size, gen) if self.uses_forget else None
        retain_stream = cycle_batches(ctx.split.retain, o.retain_batch_size, gen) if self.uses_retain else None
        step = 0
        for epoch in range(o.epochs):
            running = 0.0
            for _ in range(per_epoch):
                loss = self.step_loss(ctx, forget_stream, retain_stream, step, total)
                running += self.optimizer_step(ctx, opt, sched, loss, step, f"epoch {epoch}")
                step += 1
            ctx.end_epoch(epoch + 1, o.epochs, loss=running / per_epoch)
        model.eval()
        return model

    def step_loss(self, ctx, forget_stream, retain_stream, step: int, total: int) -> torch.Tensor:
        o = ctx.options
        terms = []
        with ctx.precision.step_region() if ctx.precision is not None else contextlib.nullcontext():
            if forget_stream is not None:  # under autocast: the two forwards share one cast of the weights
                terms.append(o.forget_weight * self.term(ctx, next(forget_stream), step, "forget", self.forget_loss))
            if retain_stream is not None:
                terms.append(o.retain_weight * self.term(ctx, next(retain_stream), step, "retain", self.retain_loss))
        extra = self.extra_loss(ctx, step, total)
        if extra is not None:
            terms.append(extra)
        return sum(terms[1:], terms[0])
