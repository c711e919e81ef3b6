"""The trained-model cache: safetensors checkpoints keyed by a hash of everything that determines the
weights, plus memoised JSON values (e.g. θ_r's reference metrics) shared by every job of a split.

The cache never serves content it cannot vouch for: each checkpoint's JSON metadata holds its key and the
sha256 of the safetensors bytes, each memoised value file holds its key and the sha256 of key + value, and
both are checked on every read. A file that fails a check (corrupt, truncated, swapped for another entry's,
written by an older version) is logged as a warning naming it and recomputed — the cache is a cache.
Entries are written atomically (temp file + ``os.replace``) and trained under an exclusive ``flock`` on
``<key>.lock``, so two processes that need the same model train it once (the second waits, then reads it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel
from safetensors.torch import load as load_bytes, save as save_bytes
from torch import nn

from .errors import UnlearnkitError

try:  # POSIX advisory locks; where fcntl is missing (Windows) locking is a no-op
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

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


def _hash_tensor(digest, t) -> None:
    """Feed dtype, shape and the raw bytes of ``t`` (any device) into ``digest`` (no extra copy on CPU)."""
    t = torch.as_tensor(t).detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.float()
    digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
    digest.update(memoryview(np.ascontiguousarray(t.numpy())).cast("B"))  # type: ignore[arg-type]


def data_fingerprint(dataset) -> str:
    """sha256 over a dataset's actual tensors (x, y and the input normalisation), so a model trained on
    edited data (same name, options and labels, other features) gets another cache key. Computed once per
    dataset and memoised in ``dataset.extra`` (shared with its ``.to(device)`` copies); the memo is checked
    against the tensors' shapes and dtypes. Assumes x / y are not edited in place after loading."""
    probe = [tuple(dataset.x.shape), str(dataset.x.dtype), tuple(dataset.y.shape), str(dataset.y.dtype)]
    memo = dataset.extra.get("_data_fingerprint")
    if memo is not None and memo[0] == probe:
        return memo[1]
    digest = hashlib.sha256()
    for part in (dataset.x, dataset.y, dataset.mean, dataset.std):
        _hash_tensor(digest, part)
    value = digest.hexdigest()
    dataset.extra["_data_fingerprint"] = (probe, value)
    return value


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[int]:
    """An exclusive ``fcntl.flock`` on ``path`` (created if missing) for the ``with`` block; yields the fd.
    ``blocking=False`` raises ``BlockingIOError`` when another process holds it. The lock dies with its
    holder (a killed process never leaves a stale lock); lock files are left in place on purpose."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        yield fd
    finally:
        os.close(fd)  # releases the lock


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace`` (readers see the old
    or the new file, never a torn one)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors of ``model.state_dict()`` that safetensors can store: a tensor sharing memory
    with an earlier key (tied weights, a module registered under two names) is cloned."""
    out, seen = {}, set()
    for k, v in model.state_dict().items():
        t = v.detach().cpu()
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[k] = t.contiguous()
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _value_digest(key: str, text: str) -> str:
    return sha256(f"{key}\n{text}".encode())


class ModelCache:
    """Checkpoints under ``root/<key>.safetensors`` with ``<key>.json`` metadata (key, sha256, train seconds)
    and memoised values under ``root/<key>.values.json``; see the module docstring for the checks."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UnlearnkitError(
                f"cannot create the model cache folder {self.root} ({e}); pass a writable "
                f"--cache-dir or set $UNLEARNKIT_CACHE"
            ) from None

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.safetensors", self.root / f"{key}.json"

    @contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """Exclusive lock on one entry (``<key>.lock``) while it is checked and, if missing, computed."""
        path = self.root / f"{key}.lock"
        with ExitStack() as stack:
            try:
                stack.enter_context(file_lock(path))
            except OSError as e:
                raise UnlearnkitError(
                    f"cannot lock {path} in the model cache ({e}); pass a writable --cache-dir or set $UNLEARNKIT_CACHE"
                ) from None
            yield

    @staticmethod
    def _read_json(path: Path, warn: bool = True):
        """The parsed JSON of ``path``, or None (with a warning naming the file) when it cannot be read."""
        try:
            return json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            if warn:
                log.warning("cache file %s is unreadable (%s); recomputing it", path, e)
            return None

    def load(self, key: str, model: nn.Module, warn: bool = True) -> dict | None:
        """Load ``key``'s weights into ``model`` and return its metadata, or None when the entry is missing or
        fails a check (metadata for another key, weights whose sha256 differs, a state dict that does not fit
        the model); a failed check is logged as a warning naming the file unless ``warn`` is False."""
        weights, meta_path = self.paths(key)
        if not (weights.exists() and meta_path.exists()):
            return None
        say = log.warning if warn else log.debug
        meta = self._read_json(meta_path, warn)
        if not isinstance(meta, dict):
            if meta is not None:
                say("cache metadata %s is not a JSON object; retraining", meta_path)
            return None
        if meta.get("key") != key:
            say(
                "cache metadata %s is for key %r, not %r (a swapped or stale entry); retraining",
                meta_path,
                meta.get("key"),
                key,
            )
            return None
        try:
            blob = weights.read_bytes()
        except OSError as e:
            say("cached checkpoint %s is unreadable (%s); retraining", weights, e)
            return None
        if sha256(blob) != meta.get("sha256"):
            say(
                "cached checkpoint %s does not match the sha256 in %s (corrupt, or another entry's weights); "
                "retraining",
                weights,
                meta_path,
            )
            return None
        try:
            model.load_state_dict(load_bytes(blob))
        except Exception as e:  # a state dict of another architecture under this key
            say("cached checkpoint %s does not fit the model (%s); retraining", weights, e)
            return None
        return {k: v for k, v in meta.items() if k not in ("key", "sha256")}

    def save(self, key: str, model: nn.Module, meta: dict) -> None:
        """Weights first, then the metadata that vouches for them (key + sha256), each written atomically."""
        weights, meta_path = self.paths(key)
        blob = save_bytes(cpu_state(model))
        atomic_write(weights, blob)
        atomic_write(meta_path, json.dumps({**meta, "key": key, "sha256": sha256(blob)}).encode())

    def _read_value(self, path: Path, key: str, warn: bool):
        say = log.warning if warn else log.debug
        stored = self._read_json(path, warn)
        if stored is None:
            return None
        if not isinstance(stored, dict) or stored.get("key") != key or "value" not in stored:
            say(
                "memoised value %s is not the entry for key %r (swapped, stale or older format); recomputing", path, key
            )
            return None
        text = json.dumps(stored["value"], sort_keys=True)
        if _value_digest(key, text) != stored.get("sha256"):
            say("memoised value %s does not match its sha256; recomputing", path)
            return None
        return {"value": stored["value"]}

    def memo(self, key: str, compute: Callable[[], dict]) -> dict:
        """A JSON value cached under ``key`` (e.g. θ_r's metrics, shared by every job of its split). The value
        returned is always the JSON round-trip of what was computed, cached or not."""
        path = self.root / f"{key}.values.json"
        if path.exists():
            hit = self._read_value(path, key, warn=False)
            if hit is not None:
                return hit["value"]
        with self.lock(key):
            if path.exists():  # written while we waited, or a bad file to report and replace
                hit = self._read_value(path, key, warn=True)
                if hit is not None:
                    return hit["value"]
            text = json.dumps(compute(), sort_keys=True)
            atomic_write(
                path, json.dumps({"key": key, "sha256": _value_digest(key, text), "value": json.loads(text)}).encode()
            )
            return json.loads(text)

    def get_or_train(
        self, key: str, build: Callable[[], nn.Module], fit: Callable[[nn.Module], nn.Module], label: str = "model"
    ) -> tuple[nn.Module, dict]:
        """The cached model for ``key`` or a freshly trained one; meta has ``train_s`` and ``cached``.
        Training happens under the entry's lock: a second process wanting the same model waits and reads it."""
        model = build()
        existed = all(p.exists() for p in self.paths(key))
        meta = self.load(key, model, warn=False) if existed else None  # a failure is re-checked under the lock
        if meta is None:
            with self.lock(key):
                if all(p.exists() for p in self.paths(key)):  # trained while we waited, or a bad entry to report
                    existed = True
                    model = build()
                    meta = self.load(key, model, warn=True)
                if meta is None:
                    if existed:
                        model = build()  # untouched by a partial load_state_dict
                    t0 = time.perf_counter()
                    model = fit(model)
                    meta = {"train_s": time.perf_counter() - t0, "label": label}
                    self.save(key, model, meta)
                    return model, {**meta, "cached": False}
        log.info("reusing cached %s %s", label, key)
        model.eval()
        return model, {**meta, "cached": True}
