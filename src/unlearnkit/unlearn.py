"""The library entry point: ``unlearn(model, dataset, split, method, weighting, target)``."""
from __future__ import annotations

import copy
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .data.split import Split
from .device import resolve_device
from .errors import UnlearnkitError
from .methods import METHODS
from .options import build, parse_options
from .passes import PassCounter
from .targets import TARGETS
from .training import TrainConfig, train_model
from .weighting import WEIGHTINGS
from .context import UnlearnContext

log = logging.getLogger("unlearnkit")


@dataclass
class UnlearnResult:
    model: nn.Module
    seconds: float
    moved: bool
    param_change: float
    history: list[dict] = field(default_factory=list)
    method: str = ""
    weighting: str = "uniform"
    target: str = "none"
    passes: dict[str, int] = field(default_factory=dict)


@dataclass
class Plan:
    """A validated method ∘ weighting ∘ target composition (checked before any work is done)."""

    method: object
    options: object
    weighting: object
    target: object

    @classmethod
    def make(cls, method: str, weighting: str = "uniform", target: str = "none", options: dict | None = None,
             weighting_options: dict | None = None, target_options: dict | None = None) -> "Plan":
        m_cls = METHODS.get(method)
        opts = parse_options(m_cls.Options, options, f"method {method!r}")
        m = m_cls()
        w = build(WEIGHTINGS, weighting, weighting_options)
        TARGETS.get(target)
        m.check_composition(w, target)
        effective = target if target != "none" else m.default_target
        t = build(TARGETS, effective, target_options if effective == target else None)
        return cls(m, opts, w, t)


def unlearn(model: nn.Module, dataset, split: Split, method: str = "rl", weighting: str = "uniform",
            target: str = "none", *, options: dict | None = None, weighting_options: dict | None = None,
            target_options: dict | None = None, device: str = "auto", seed: int = 0,
            train_config: TrainConfig | dict | None = None, new_model: Callable[[], nn.Module] | None = None,
            retrained: Callable[[], tuple[nn.Module, float]] | None = None,
            progress: Callable[[dict], None] | None = None,
            on_epoch: Callable[[nn.Module, int], dict | None] | None = None) -> UnlearnResult:
    """Unlearn ``split.forget`` from a copy of ``model`` (θ_o is never changed).

    ``dataset`` is an :class:`~unlearnkit.data.ArrayDataset` (wrap your own with
    ``from_torch_dataset``). ``new_model`` builds a fresh model of the same architecture (needed by
    ``retrain`` and methods with a random teacher); ``retrained`` may supply a cached θ_r.
    ``on_epoch(model, epoch)`` may return values (e.g. FA/RA/TA) recorded in the history per epoch.
    """
    plan = Plan.make(method, weighting, target, options, weighting_options, target_options)
    dev = resolve_device(device)
    tcfg = parse_options(TrainConfig, train_config, "train_config")
    original = copy.deepcopy(model).to(dev).eval()
    for p in original.parameters():
        p.requires_grad_(False)
    work = copy.deepcopy(model).to(dev)
    data = dataset.to(dev)

    def fresh_model():
        if new_model is None:
            raise UnlearnkitError(f"method {method!r} needs a fresh model: pass new_model=lambda: MyNet()")
        return new_model().to(dev)

    def retrain_provider():
        if retrained is not None:
            return retrained()
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        m = train_model(fresh_model(), data, split.retain, tcfg, dev, seed=seed)
        return m, time.perf_counter() - t0

    ctx = UnlearnContext(model=work, original=original, dataset=data, split=split, num_classes=dataset.num_classes,
                         device=dev, seed=seed, options=plan.options, weighting=plan.weighting, target=plan.target,
                         new_model=fresh_model, retrained=retrain_provider, train_config=tcfg, progress=progress,
                         on_epoch=on_epoch)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with PassCounter(work, original) as counter:
        ctx.passes = counter
        plan.weighting.prepare(ctx)
        ctx.split = plan.weighting.driving_split(ctx)
        plan.target.prepare(ctx)
        out = plan.method.unlearn(ctx)
    seconds = ctx.cost_seconds if ctx.cost_seconds is not None else time.perf_counter() - t0
    passes = counter.as_dict()
    if ctx.cost_passes is not None:
        passes["total"] = ctx.cost_passes
    bad = [k for k, v in out.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise UnlearnkitError(f"method {method!r} left non-finite parameters ({', '.join(bad[:3])}); "
                              f"lower its lr or epochs")
    change = parameter_distance(out, original)
    moved = change > 0
    if not moved and plan.method.moves_model:
        warnings.warn(f"method {method!r} did not change the model (parameter change 0); check its lr/epochs",
                      RuntimeWarning, stacklevel=2)
    return UnlearnResult(out.eval(), seconds, moved, change, ctx.history, method, plan.weighting.name,
                         plan.target.name, passes)


@torch.no_grad()
def parameter_distance(a: nn.Module, b: nn.Module) -> float:
    """‖θ_a − θ_b‖₂ over all parameters and buffers that are floating point."""
    sa, sb = a.state_dict(), b.state_dict()
    total = 0.0
    for k, v in sa.items():
        if v.is_floating_point():
            total += float(((v - sb[k].to(v.device)) ** 2).sum())
    return total ** 0.5
