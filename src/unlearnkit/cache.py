"""The trained-model cache: safetensors checkpoints keyed by a hash of everything that determines the
weights, plus memoised JSON values (e.g. θ_r's reference metrics) shared by every job of a split."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel
from safetensors.torch import load_file, save_file
from torch import nn

from .errors import UnlearnkitError

log = logging.getLogger("unlearnkit")


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
