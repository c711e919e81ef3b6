"""One training loop for the original model θ_o and the retrained gold standard θ_r (the checkpoint
cache lives in :mod:`unlearnkit.cache`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from .amp import Precision, PrecisionName, channels_last, contiguous, to_format
from .errors import UnlearnkitError
from .data.split import check_model
from .models.batchnorm import running_statistics_for_one

log = logging.getLogger("unlearnkit")


class TrainConfig(BaseModel):
    """How θ_o and θ_r are trained (also the optimiser settings unlearning methods share)."""

    model_config = ConfigDict(extra="forbid")
    optimizer: Literal["sgd", "adam"] = "sgd"
    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    schedule: Literal["cosine", "step", "none"] = "cosine"
    step_size: int = Field(10, ge=1, description="epochs between ×0.1 decays for the step schedule")
    precision: PrecisionName = Field(
        "fp32",
        description="fp32 (exact, the default), bf16 (autocast) or fp16 "
        "(autocast + gradient scaling); see unlearnkit.amp",
    )
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="the cross-entropy's label smoothing (torch's label_smoothing): θ_o's and θ_r's objective, "
        "the one the gradient methods' retain terms keep training on (ft, rl, neggrad_plus, salun, l1_sparse, "
        "scrub's CE) and the one influence (`if`, the soft weighting) differentiates. For a θ_o trained elsewhere with label smoothing, pass the value it was trained with: plain "
        "cross-entropy on D_r sharpens such a model, and on digits (smoothing 0.2) stop='auto' then kept θ_o on "
        "every random-forgetting cell (26 of 48 cells won by six methods; with it 47)",
    )


def label_smoothing_of(cfg: TrainConfig | None) -> float:
    """The label smoothing θ_o was trained with, as the run's train config says (0 without one): the objective the
    retain terms keep and influence differentiates."""
    return cfg.label_smoothing if cfg is not None else 0.0


def training_identity(train: dict) -> dict:
    """A TrainConfig's fields as a trained model's identity (the model cache's key): a field added after models
    were cached is left out at its default, which trains exactly as before it existed (``label_smoothing`` 0), so
    those models keep their keys."""
    return {k: v for k, v in train.items() if not (k == "label_smoothing" and v == 0)}


def make_optimizer(params, optimizer: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise UnlearnkitError(f"unknown optimizer {optimizer!r}; known: sgd, adam")


def make_scheduler(opt, schedule: str, total_steps: int, step_every: int):
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total_steps, 1))
    if schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(step_every, 1), gamma=0.1)
    return None


def batches(
    indices: np.ndarray, batch_size: int, generator: torch.Generator, shuffle: bool = True
) -> Iterator[torch.Tensor]:
    """Index batches over ``indices`` (a fresh seeded permutation per call when ``shuffle``)."""
    idx = torch.as_tensor(indices, dtype=torch.long)
    if shuffle:
        idx = idx[torch.randperm(len(idx), generator=generator)]
    for s in range(0, len(idx), batch_size):
        yield idx[s : s + batch_size]


#: a batch transform applied to the model-ready inputs of every training batch (data augmentation)
Augment = Callable[[torch.Tensor], torch.Tensor]


def check_augment(augment: Augment | None, dataset, device) -> None:
    """Refuse an ``augment`` that is not a callable returning a tensor of its input's shape and dtype, tried on two
    training inputs before any work."""
    if augment is None:
        return
    if not callable(augment):
        raise UnlearnkitError(
            f"augment must be a function of a batch of model-ready inputs, got {type(augment).__name__}"
        )
    idx = torch.as_tensor(np.asarray(dataset.pool)[:2], device=dataset.x.device)
    x = dataset.inputs(idx).to(torch.device(device))  # two samples moved, not the data set
    try:
        out = augment(x.clone())
    except Exception as e:  # the user's function: name it, whatever it raised
        raise UnlearnkitError(f"augment failed on a batch of shape {tuple(x.shape)}: {type(e).__name__}: {e}") from e
    if not isinstance(out, torch.Tensor) or out.shape != x.shape or out.dtype != x.dtype:
        got = f"{tuple(out.shape)} {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise UnlearnkitError(
            f"augment must return a tensor of its input's shape and dtype ({tuple(x.shape)} {x.dtype}), got {got}"
        )


def train_model(
    model: nn.Module,
    dataset,
    indices: np.ndarray,
    cfg: TrainConfig,
    device: torch.device,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
    augment: Augment | None = None,
) -> nn.Module:
    """Plain supervised training on ``dataset[indices]`` with CE (``cfg.label_smoothing``); returns the model
    (in place).

    ``cfg.precision`` picks fp32 / bf16 / fp16 autocast (:class:`unlearnkit.amp.Precision`; fp32 is
    bit-identical to a loop without it). On CUDA a convolutional model trains in ``channels_last``
    and is switched back to the contiguous format at the end. The data stay on ``device``; the one
    host synchronisation per step is the loss read that checks it is finite. ``augment`` (data augmentation) maps
    each batch of model-ready inputs to the batch the model trains on (same shape and dtype).
    """
    if len(indices) == 0:
        raise UnlearnkitError("cannot train on an empty index set")
    check_model(model, dataset)  # one logit per class, takes the inputs, float32 like them (before any work)
    check_augment(augment, dataset, device)
    device = torch.device(device)
    prec = Precision(cfg.precision, device)
    model.to(device).train()
    nhwc = channels_last(model, device)
    data = dataset.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = make_optimizer(model.parameters(), cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay)
    steps_per_epoch = math.ceil(len(indices) / cfg.batch_size)
    sched = make_scheduler(opt, cfg.schedule, cfg.epochs * steps_per_epoch, cfg.step_size * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    for epoch in range(cfg.epochs):
        total = 0.0
        for b in batches(indices, cfg.batch_size, gen):
            b = b.to(device, non_blocking=True)
            with prec.autocast(), running_statistics_for_one(model, len(b)):  # one sample: no batch statistics
                x = to_format(data.inputs(b), nhwc)
                loss = loss_fn(model(x if augment is None else augment(x)), data.y[b])
            value = loss.item()  # the step's one host sync
            if not math.isfinite(value):
                raise UnlearnkitError(
                    f"training loss became {value} at epoch {epoch}; lower the learning rate"
                    + ("" if cfg.precision == "fp32" else " or use precision 'fp32'")
                )
            opt.zero_grad(set_to_none=True)
            prec.backward(loss)
            prec.step(opt)
            if sched is not None:
                sched.step()
            total += value * len(b)
        if on_epoch:
            on_epoch(epoch, total / len(indices))
    if nhwc:
        contiguous(model)
    model.eval()
    return model
