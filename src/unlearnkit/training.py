"""One training loop for the original model θ_o and the retrained gold standard θ_r, plus the
checkpoint cache (safetensors, keyed by a hash of everything that determines the weights)."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Callable, Iterator, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import UnlearnkitError

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


def batches(indices: np.ndarray, batch_size: int, generator: torch.Generator, shuffle: bool = True) -> Iterator[torch.Tensor]:
    """Index batches over ``indices`` (a fresh seeded permutation per call when ``shuffle``)."""
    idx = torch.as_tensor(indices, dtype=torch.long)
    if shuffle:
        idx = idx[torch.randperm(len(idx), generator=generator)]
    for s in range(0, len(idx), batch_size):
        yield idx[s: s + batch_size]


def train_model(model: nn.Module, dataset, indices: np.ndarray, cfg: TrainConfig, device: torch.device,
                seed: int = 0, on_epoch: Callable[[int, float], None] | None = None) -> nn.Module:
    """Plain supervised training on ``dataset[indices]`` with CE; returns the model (in place)."""
    if len(indices) == 0:
        raise UnlearnkitError("cannot train on an empty index set")
    model.to(device).train()
    data = dataset.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = make_optimizer(model.parameters(), cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay)
    steps_per_epoch = math.ceil(len(indices) / cfg.batch_size)
    sched = make_scheduler(opt, cfg.schedule, cfg.epochs * steps_per_epoch, cfg.step_size * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(cfg.epochs):
        total = 0.0
        for b in batches(indices, cfg.batch_size, gen):
            b = b.to(device)
            loss = loss_fn(model(data.inputs(b)), data.y[b])
            if not torch.isfinite(loss):
                raise UnlearnkitError(f"training loss became {loss.item()} at epoch {epoch}; lower the learning rate")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(b)
        if on_epoch:
            on_epoch(epoch, total / len(indices))
    model.eval()
    return model


def fingerprint(payload: dict) -> str:
    """Stable short hash of a JSON-able payload (numpy index arrays are hashed by content)."""

    def default(o):
        if isinstance(o, np.ndarray):
            return hashlib.sha256(np.ascontiguousarray(o, dtype=np.int64).tobytes()).hexdigest()
        if isinstance(o, BaseModel):
            return o.model_dump()
        if isinstance(o, (np.integer, np.floating)):
            return o.item()
        raise TypeError(f"cannot fingerprint {type(o)}")

    text = json.dumps(payload, sort_keys=True, default=default)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ModelCache:
    """Checkpoints under ``root/<key>.safetensors`` with ``<key>.json`` metadata (train seconds)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.safetensors", self.root / f"{key}.json"

    def load(self, key: str, model: nn.Module) -> dict | None:
        weights, meta = self.paths(key)
        if not (weights.exists() and meta.exists()):
            return None
        try:
            state = load_file(str(weights))
            model.load_state_dict(state)
        except Exception as e:  # corrupt file or a different architecture under the same key
            raise UnlearnkitError(f"checkpoint {weights} is corrupt or does not match the model ({e}); "
                                  f"delete it and re-run to retrain") from None
        return json.loads(meta.read_text())

    def save(self, key: str, model: nn.Module, meta: dict) -> None:
        weights, meta_path = self.paths(key)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        tmp = weights.with_suffix(".tmp")
        save_file(state, str(tmp))
        tmp.replace(weights)
        meta_path.write_text(json.dumps(meta))

    def memo(self, key: str, compute: Callable[[], dict]) -> dict:
        """A JSON value cached under ``key`` (e.g. θ_r's metrics, shared by every job of its split)."""
        path = self.root / f"{key}.values.json"
        if path.exists():
            return json.loads(path.read_text())
        value = compute()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(value))
        tmp.replace(path)
        return value

    def get_or_train(self, key: str, build: Callable[[], nn.Module], fit: Callable[[nn.Module], nn.Module],
                     label: str = "model") -> tuple[nn.Module, dict]:
        """The cached model for ``key`` or a freshly trained one; meta has ``train_s`` and ``cached``."""
        model = build()
        meta = self.load(key, model)
        if meta is not None:
            log.info("reusing cached %s %s", label, key)
            model.eval()
            return model, {**meta, "cached": True}
        t0 = time.perf_counter()
        model = fit(model)
        meta = {"train_s": time.perf_counter() - t0, "label": label}
        self.save(key, model, meta)
        return model, {**meta, "cached": False}
