"""Your own weights in and out: load / save checkpoints, resolve their architecture, and build the split of a
deletion request on a model unlearnkit did not train.

Loading never runs code from a file: ``.safetensors`` is plain tensors, and a ``.pt`` / ``.pth`` / ``.bin``
state dict is read with ``torch.load(weights_only=True)``, which refuses any pickle that would construct
something other than tensors and plain containers (a saved ``nn.Module`` or a malicious pickle is refused
before it runs). The one place user code runs is ``--arch module:function``: code the user names explicitly.

Architecture, in this order of precedence:

1. ``arch="module:function"`` — a factory importable from the user's code (the current directory is on the
   path). It is called exactly like a registered model: ``function(input_shape, num_classes, **arch_options)``,
   so a class ``MyNet(input_shape, num_classes)`` works as is, and ``build_model``'s contract is the only one
   to learn. (A no-argument factory cannot be told the data's class count, so we do not support it: wrap it,
   ``def net(input_shape, num_classes): return MyNet()``.)
2. ``arch="mlp"`` — a registered model (``unlearnkit list``) with ``arch_options``.
3. nothing — the JSON written beside the weights by ``unlearnkit train`` / ``save_checkpoint(meta=…)``
   (``model.safetensors`` → ``model.json``) names the architecture, its options, the dataset and the split.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from .cache import cpu_state
from .data.split import Split, base_split, distinct_request
from .errors import UnlearnkitError
from .models import build_model

FORMAT = "unlearnkit-checkpoint"
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


class ArchSpec(BaseModel):
    """An architecture: a registered model name or ``module:function``, with its options."""

    model_config = ConfigDict(extra="forbid")
    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class DatasetSpec(BaseModel):
    """How to reload the training data: a registered dataset, its loader options and subset."""

    model_config = ConfigDict(extra="forbid")
    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    subset: int | None = None


class CheckpointMeta(BaseModel):
    """The JSON beside a checkpoint (``model.json``): enough to rebuild the model and its training split."""

    model_config = ConfigDict(extra="forbid")
    format: str = FORMAT
    format_version: int = 1
    architecture: ArchSpec
    input_shape: list[int]
    num_classes: int
    dataset: DatasetSpec | None = None
    split_seed: int | None = None
    unseen_fraction: float | None = None
    train: dict[str, Any] | None = None
    augment: str | None = Field(
        None, description="module:function: the data augmentation θ_o was trained with (unlearnkit train --augment)"
    )
    data_fingerprint: str | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict, description="anything else (e.g. the unlearning run)")


@dataclass
class Checkpoint:
    """A loaded model with what built it: ``new_model()`` gives a fresh one of the same architecture."""

    model: nn.Module
    state: dict[str, torch.Tensor]
    arch: ArchSpec
    new_model: Callable[[], nn.Module]
    meta: CheckpointMeta | None
    path: Path


def versions() -> dict[str, str]:
    from . import __version__

    return {"unlearnkit": __version__, "torch": torch.__version__, "python": platform.python_version()}


def meta_path(weights: str | Path) -> Path:
    """The JSON beside a weights file: ``model.safetensors`` → ``model.json``."""
    return Path(weights).with_suffix(".json")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_fingerprint(dataset) -> str:
    """sha256 over the dataset's input bytes and int64 label bytes (detects a different or changed dataset)."""
    h = hashlib.sha256()
    x = dataset.x.detach().cpu().contiguous()
    h.update(str(x.dtype).encode() + str(tuple(x.shape)).encode())
    h.update(x.numpy().tobytes())
    h.update(dataset.y.detach().cpu().to(torch.int64).contiguous().numpy().tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------- weights
def resolve_weights(path: str | Path, flag: str = "checkpoint") -> Path:
    """The weights file ``path`` names: the path itself, or — for a folder such as ``unlearnkit train --out`` or
    ``unlearn --out`` writes — the one weights file in it (``model.safetensors`` first). A folder with none or
    several is an error naming what it holds."""
    p = Path(path).expanduser()
    if not p.is_dir():
        return p
    found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in WEIGHT_SUFFIXES)
    preferred = [f for f in found if f.name == "model.safetensors"]
    if preferred or len(found) == 1:
        return (preferred or found)[0]
    if not found:
        raise UnlearnkitError(
            f"{flag} {str(p)!r} is a folder with no weights file ({', '.join(WEIGHT_SUFFIXES)}); pass the weights "
            f"file itself (`unlearnkit train --out DIR` writes DIR/model.safetensors)"
        )
    raise UnlearnkitError(
        f"{flag} {str(p)!r} is a folder with {len(found)} weights files ({', '.join(f.name for f in found)}); "
        f"pass the one you mean"
    )


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from ``.safetensors`` or a ``.pt``/``.pth``/``.bin`` state dict (``weights_only=True``, on the CPU).

    A torch file may hold the state dict itself or wrap it under ``state_dict`` / ``model_state_dict``
    (the common training-loop layouts); anything else is refused with the fix."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UnlearnkitError(f"checkpoint {str(p)!r} not found; pass the path of a .safetensors or .pt state dict")
    if p.suffix not in WEIGHT_SUFFIXES:
        raise UnlearnkitError(
            f"checkpoint {p.name!r}: unknown weights format {p.suffix!r}; use one of {', '.join(WEIGHT_SUFFIXES)}"
        )
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(p)))
        except (SafetensorError, OSError, ValueError) as e:
            raise UnlearnkitError(f"checkpoint {p.name!r} is not a valid safetensors file ({e})") from None
    import pickle
    import re
    import zipfile

    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        with open(p, "rb") as f:
            head = f.read(1)  # a pickle (protocol ≥ 2, what torch.save writes) opens with 0x80
        if not zipfile.is_zipfile(p) and head != b"\x80":  # neither torch's zip format nor a pickle
            raise UnlearnkitError(
                f"checkpoint {p.name!r} could not be read as a torch file (neither a zip archive nor a pickle); pass "
                f"the file torch.save or safetensors wrote"
            ) from None
        # name what it refers to; torch's own text suggests weights_only=False, which is what this refuses
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" (it refers to {found.group(1)})" if found else ""
        raise UnlearnkitError(
            f"refused to load {p.name!r}: it is not a plain state dict of tensors{what}, and unlearnkit never "
            f"unpickles arbitrary objects (that could run code). Re-save it with torch.save(model.state_dict(), path) "
            f"or as .safetensors"
        ) from None
    except (RuntimeError, OSError, EOFError) as e:
        raise UnlearnkitError(f"checkpoint {p.name!r} could not be read as a torch file ({e})") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict) and not isinstance(obj.get(key), torch.Tensor):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        odd = (
            ", ".join(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
            if isinstance(obj, dict)
            else ""
        )
        what = f"a dict with non-tensor entries ({odd[:80]})" if odd else type(obj).__name__
        raise UnlearnkitError(f"{p.name!r} holds {what}, not a state dict of tensors; save model.state_dict()")
    return {str(k): v for k, v in obj.items()}


def state_of(model: nn.Module, like: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """CPU tensors of ``model.state_dict()``, cast to the dtypes of ``like`` (the input checkpoint) where given;
    tensors that share memory (tied weights) are cloned so safetensors can store every key."""
    out = cpu_state(model)
    if like is None:
        return out
    if set(out) != set(like):
        missing = sorted(set(like) - set(out))[:3]
        extra = sorted(set(out) - set(like))[:3]
        raise UnlearnkitError(
            f"the model's keys differ from the input checkpoint's (missing {missing}, "
            f"extra {extra}); this is a bug in the architecture resolution"
        )
    return {k: t.to(like[k].dtype) for k, t in out.items()}


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    meta: CheckpointMeta | dict | None = None,
    like: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``model`` to ``path`` (.safetensors; keys and dtypes of ``like`` when given) and, with ``meta``,
    the JSON beside it. Returns the weights path."""
    from safetensors.torch import save_file

    p = Path(path)
    if p.suffix != ".safetensors":
        raise UnlearnkitError(f"save_checkpoint writes .safetensors files; got {p.name!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    state = state_of(model, like)
    tmp = p.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.replace(p)
    if meta is not None:
        m = meta if isinstance(meta, CheckpointMeta) else CheckpointMeta(**meta)
        meta_path(p).write_text(json.dumps(m.model_dump(), indent=1))
    return p


def read_meta(weights: str | Path) -> CheckpointMeta | None:
    """The JSON beside a weights file, validated (None when there is none)."""
    mp = meta_path(weights)
    if not mp.exists():
        return None
    try:
        raw = json.loads(mp.read_text())
    except json.JSONDecodeError as e:
        raise UnlearnkitError(f"{mp} is not valid JSON ({e}); delete it and pass --arch") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        return None  # some other JSON beside the weights (not ours): ignored, --arch is then required
    try:
        return CheckpointMeta(**raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise UnlearnkitError(f"{mp} is not a valid unlearnkit checkpoint description ({problems})") from None


# --------------------------------------------------------------------------------------------- architecture
def import_callable(ref: str, flag: str = "--arch", example: str = "mynets:make_net") -> Callable:
    """``module:function`` from the user's code (the current directory is importable); ``flag`` names the
    option it came from in the errors."""
    module, _, attr = ref.partition(":")
    if not module or not attr:
        raise UnlearnkitError(f"{flag} {ref!r}: must look like module:function (e.g. {example})")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise UnlearnkitError(
            f"{flag} {ref!r}: cannot import module {module!r} ({e}); run from the folder that "
            f"holds it or add it to PYTHONPATH"
        ) from None
    except Exception as e:  # the module's own code failed (a syntax error, an exception at import)
        raise UnlearnkitError(
            f"{flag} {ref!r}: importing module {module!r} raised {type(e).__name__}: {e}; fix the module"
        ) from None
    fn = mod.__dict__.get(attr)
    if fn is None or not callable(fn):
        raise UnlearnkitError(f"{flag} {ref!r}: module {module!r} has no callable {attr!r}")
    return fn


def import_augment(ref: str | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """θ_o's data augmentation named as ``module:function`` (``unlearnkit train --augment``, recorded in
    ``model.json``): a function from a batch of model-ready inputs to the batch trained on; ``None`` /
    ``"none"`` for none."""
    if ref is None or ref == "none":
        return None
    return import_callable(ref, "--augment", "myaug:flip_and_shift")


def model_factory(arch: ArchSpec, input_shape: tuple[int, ...], num_classes: int) -> Callable[[], nn.Module]:
    """A zero-argument builder for ``arch`` (registered name, or ``module:function`` called with
    ``(input_shape, num_classes, **options)``)."""
    shape = tuple(int(s) for s in input_shape)
    if ":" in arch.name:
        fn = import_callable(arch.name)

        def build() -> nn.Module:
            try:
                m = fn(shape, num_classes, **arch.options)
            except TypeError as e:
                raise UnlearnkitError(
                    f"--arch {arch.name}: the factory must accept (input_shape, num_classes, **options), got {e}"
                ) from None
            if not isinstance(m, nn.Module):
                raise UnlearnkitError(f"--arch {arch.name} returned {type(m).__name__}, not a torch nn.Module")
            return m

        return build
    build_model(arch.name, shape, num_classes, **arch.options)  # fail early on a bad name / options
    return lambda: build_model(arch.name, shape, num_classes, **arch.options)


def _fmt_shape(t: torch.Tensor) -> str:
    return str(list(t.shape))


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], where: str, num_classes: int | None = None) -> None:
    """``model.load_state_dict(state)`` with one message naming the first missing / unexpected / mismatching
    tensor (in the model's order), and a class-count hint when the output layer is what differs."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise UnlearnkitError(
            f"{where} does not match the architecture: "
            + (
                f"the checkpoint lacks {missing[0]!r}" + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else "")
                if missing
                else ""
            )
            + ("; " if missing and unexpected else "")
            + (
                f"the checkpoint has unexpected {unexpected[0]!r}"
                + (f" (+{len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
                if unexpected
                else ""
            )
            + ". Pass the architecture it was saved from (--arch NAME --arch-option k=v, or --arch module:function)"
        )
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            hint = ""
            if (
                num_classes is not None
                and v.ndim >= 1
                and state[k].ndim == v.ndim
                and v.shape[0] == num_classes
                and state[k].shape[0] != num_classes
                and v.shape[1:] == state[k].shape[1:]
            ):
                hint = (
                    f" — it looks like the output layer: the data has {num_classes} classes but the checkpoint "
                    f"{state[k].shape[0]}; check the dataset"
                )
            raise UnlearnkitError(
                f"{where}: tensor {k!r} is {_fmt_shape(state[k])} in the checkpoint but {_fmt_shape(v)} in the "
                f"architecture{hint}. Pass the architecture options it was trained with (e.g. --arch-option "
                f"hidden=[256,128])"
            )
    model.load_state_dict(state, strict=True)


def check_outputs(model: nn.Module, dataset, where: str) -> None:
    """One forward pass on a training sample: the model must output one logit per class of the data."""
    idx = torch.as_tensor(dataset.pool[:2] if len(dataset.pool) else np.arange(min(2, len(dataset))))
    device = next(iter(model.parameters()), torch.empty(0)).device
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(dataset.to(device).inputs(idx.to(device)))
    except RuntimeError as e:
        raise UnlearnkitError(
            f"{where} cannot run on the data's inputs of shape {list(dataset.input_shape)} "
            f"({str(e).splitlines()[0]}); check the dataset and the architecture"
        ) from None
    finally:
        model.train(was)
    if out.ndim != 2 or out.shape[1] != dataset.num_classes:
        raise UnlearnkitError(
            f"{where} outputs {list(out.shape[1:])} logits per sample but the data has "
            f"{dataset.num_classes} classes; pass the dataset it was trained on (or the right "
            f"architecture)"
        )


def load_checkpoint(
    path: str | Path,
    dataset=None,
    arch: str | None = None,
    arch_options: dict | None = None,
    input_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
) -> Checkpoint:
    """Load weights into their architecture (see the module docstring for how it is resolved).

    ``dataset`` (an ArrayDataset) gives the input shape and class count and is checked against the model
    (shapes, one forward pass, and the data fingerprint recorded by ``unlearnkit train``); without it pass
    ``input_shape`` and ``num_classes`` or rely on the JSON beside the weights."""
    p = resolve_weights(path)
    state = load_state(p)
    meta = read_meta(p)
    if arch is not None:
        spec = ArchSpec(name=arch, options=arch_options or {})
    elif meta is not None:
        if arch_options:
            raise UnlearnkitError(
                "--arch-option needs --arch (the architecture in the JSON beside the checkpoint has its own options)"
            )
        spec = meta.architecture
    else:
        raise UnlearnkitError(
            f"no architecture for {p.name!r}: pass --arch NAME (see `unlearnkit list`) with "
            f"--arch-option k=v, or --arch module:function, or keep the {meta_path(p).name} "
            f"written by `unlearnkit train` beside it"
        )
    if dataset is not None:
        input_shape, num_classes = dataset.input_shape, dataset.num_classes
    elif input_shape is None or num_classes is None:
        if meta is None:
            raise UnlearnkitError("load_checkpoint needs dataset=… (or input_shape and num_classes)")
        input_shape, num_classes = tuple(meta.input_shape), meta.num_classes
    if meta is not None and dataset is not None:
        if meta.num_classes != dataset.num_classes:
            raise UnlearnkitError(
                f"{p.name} was trained for {meta.num_classes} classes but the data has "
                f"{dataset.num_classes}; pass the dataset it was trained on"
            )
        if meta.data_fingerprint and meta.data_fingerprint != data_fingerprint(dataset):
            raise UnlearnkitError(
                f"the data differs from what {p.name} was trained on (fingerprint in "
                f"{meta_path(p).name}); pass the same dataset and options "
                f"({meta.dataset.model_dump() if meta.dataset else 'see the JSON'})"
            )
    new_model = model_factory(spec, tuple(input_shape), int(num_classes))
    model = new_model()
    load_weights(model, state, f"checkpoint {p.name!r}", int(num_classes))
    model.eval()
    if dataset is not None:
        check_outputs(model, dataset, f"the model from {p.name!r}")
    return Checkpoint(model, state, spec, new_model, meta, p)


# -------------------------------------------------------------------------------------------- the request
def training_split(dataset, seed: int = 0, unseen_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, test, unseen) with no forget set yet: the split ``unlearnkit train`` trains θ_o on."""
    return base_split(dataset.labels, np.asarray(dataset.pool), np.asarray(dataset.test), seed, unseen_fraction)


def read_ids(path: str | Path, what: str = "--forget") -> np.ndarray:
    """Integer ids from a text file (one per line; blank lines and ``#`` comments allowed) or a ``.npy``."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UnlearnkitError(f"{what} file {str(p)!r} not found")
    if p.suffix == ".npy":
        arr = np.load(p, allow_pickle=False)
        if not np.issubdtype(arr.dtype, np.integer):
            raise UnlearnkitError(f"{what} {p.name}: expected an integer array, got {arr.dtype}")
        return arr.astype(np.int64).ravel()
    ids = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        try:
            ids.append(int(s))
        except ValueError:
            raise UnlearnkitError(
                f"{what} {p.name} line {n}: {s!r} is not an integer; write one training index per line"
            ) from None
    return np.asarray(ids, dtype=np.int64)


def select_where(dataset, train: np.ndarray, where: str) -> np.ndarray:
    """Training indices matching ``label=3`` (or ``label=3,5``; a class name works when the data has them)."""
    key, sep, value = where.partition("=")
    if not sep or key.strip() != "label":
        raise UnlearnkitError(f"--forget-where {where!r}: only label=<class>[,<class>…] is supported")
    names = dataset.class_names or []
    classes = []
    for v in value.split(","):
        v = v.strip()
        if v in names:
            classes.append(names.index(v))
        else:
            try:
                classes.append(int(v))
            except ValueError:
                raise UnlearnkitError(
                    f"--forget-where: {v!r} is not a class index" + (f" or one of {names}" if names else "")
                ) from None
    bad = [c for c in classes if not 0 <= c < dataset.num_classes]
    if bad:
        raise UnlearnkitError(f"--forget-where: class(es) {bad} out of range 0..{dataset.num_classes - 1}")
    return train[np.isin(dataset.labels[train], classes)]


def trained_on(dataset, meta: CheckpointMeta | None = None, holdout=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, test, unseen) of an existing model.

    train: what θ_o was trained on — the training split recorded in ``meta`` (``unlearnkit train``), else the
    whole training pool; minus the ids earlier requests removed (``meta.extra["forgotten"]``, written by
    ``unlearnkit unlearn``) and minus ``holdout`` when given. unseen: held-out data the model never saw (the audit's
    non-members and the proxy's reference) — ``holdout`` indices, else meta's unseen split, else the dataset's
    test split. An empty held-out set is refused."""
    n = len(dataset)
    if meta is not None and meta.split_seed is not None:
        train, test, unseen = training_split(dataset, meta.split_seed, meta.unseen_fraction or 0.0)
    else:
        train, test, unseen = np.asarray(dataset.pool), np.asarray(dataset.test), np.empty(0, np.int64)
    if meta is not None and meta.extra.get("forgotten"):  # earlier requests on this model: no longer trained on
        train = np.setdiff1d(train, np.asarray(meta.extra["forgotten"], dtype=np.int64))
    if holdout is not None:
        holdout = np.unique(np.asarray(holdout, dtype=np.int64))
        if len(holdout) == 0:
            raise UnlearnkitError("--holdout file is empty; list the indices of samples the model never trained on")
        bad = holdout[(holdout < 0) | (holdout >= n)]
        if len(bad):
            raise UnlearnkitError(
                f"--holdout ids {bad[:5].tolist()} are out of range: the data has {n} samples (0..{n - 1})"
            )
        train, unseen = np.setdiff1d(train, holdout), holdout
    if len(unseen) == 0:
        unseen = np.asarray(test)
    if len(unseen) == 0:
        raise UnlearnkitError(
            "no held-out data: the dataset has no test split and no unseen split was recorded; "
            "pass --holdout FILE with indices of samples the model never trained on (or an .npz "
            "with x_test, y_test)"
        )
    return np.asarray(train), np.asarray(test), np.asarray(unseen)


def deletion_split(dataset, forget, meta: CheckpointMeta | None = None, holdout=None) -> Split:
    """The Split of a deletion request on an existing model (train / test / unseen from :func:`trained_on`).
    Out-of-range ids and ids outside the training set are refused with one message."""
    n = len(dataset)
    forget = distinct_request(forget, "the forget request")
    if len(forget) == 0:
        raise UnlearnkitError("the forget request is empty; list at least one training index")
    out = forget[(forget < 0) | (forget >= n)]
    if len(out):
        raise UnlearnkitError(
            f"forget ids {out[:5].tolist()}{' …' if len(out) > 5 else ''} are out of range: the "
            f"data has {n} samples (0..{n - 1}); pass training-set indices"
        )
    train, test, unseen = trained_on(dataset, meta, holdout)
    if holdout is not None and np.isin(forget, holdout).any():
        both = np.intersect1d(holdout, forget)[:5].tolist()
        raise UnlearnkitError(
            f"ids {both} are both in the forget request and in --holdout; a held-out sample "
            f"was never trained on, so it cannot be forgotten"
        )
    outside = np.setdiff1d(forget, train)
    if len(outside):
        raise UnlearnkitError(
            f"forget ids {outside[:5].tolist()}{' …' if len(outside) > 5 else ''} are not in the "
            f"training set (they are test or held-out samples); pass indices the model was "
            f"trained on"
        )
    counts = np.bincount(dataset.labels[forget], minlength=dataset.num_classes)
    return Split(train, test, unseen, forget, {"scenario": "request", "forget_counts": counts.tolist()})


def finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


# ------------------------------------------------------------------------------------------------- training
def dataset_spec(
    name: str | None = None, path: str | Path | None = None, options: dict | None = None, subset: int | None = None
) -> DatasetSpec:
    """A dataset by registry name, or by ``path``: an ``.npz`` file (dataset ``npz``) or a folder of images
    with ``labels.csv`` (``image_folder``); paths are stored absolute so the JSON can reload them."""
    options = dict(options or {})
    if path is not None:
        p = Path(path).expanduser().resolve()
        if name is not None:
            raise UnlearnkitError("give --dataset NAME or --data PATH, not both")
        if p.suffix == ".npz":
            name = "npz"
        elif p.is_dir():
            name = "image_folder"
        else:
            raise UnlearnkitError(
                f"--data {str(path)!r}: expected an .npz file or a folder of images with "
                f"labels.csv (for a CSV table use --dataset tabular_csv --dataset-option path=…)"
            )
        options["path"] = str(p)
    if name is None:
        raise UnlearnkitError(
            "which data? pass --dataset NAME (see `unlearnkit list`) or --data PATH (.npz or an image folder)"
        )
    if "path" in options and name in ("npz", "image_folder", "tabular_csv"):
        options["path"] = str(Path(options["path"]).expanduser().resolve())
    return DatasetSpec(name=name, options=options, subset=subset)


def load_spec(spec: DatasetSpec, data_dir=None, download: bool = False):
    from .data import load_dataset

    return load_dataset(spec.name, data_dir=data_dir, download=download, subset=spec.subset, **spec.options)


def train_and_save(
    dataset,
    spec: DatasetSpec | None,
    arch: ArchSpec,
    train_config,
    out: str | Path,
    seed: int = 0,
    unseen_fraction: float = 0.1,
    device: str | torch.device = "cpu",
    augment: str | None = None,
) -> tuple[nn.Module, CheckpointMeta, Path]:
    """Train θ_o on the scenario-free training split (train / test / unseen with ``seed``) and write
    ``out/model.safetensors`` + ``out/model.json`` (+ ``out/train_ids.txt``: the training indices, one per
    line). Same weights as ``torch.manual_seed(seed); train_model(build_model(...), dataset, train, cfg, device,
    seed=seed, augment=…)``; ``augment`` (``module:function``, see :func:`import_augment`) is recorded in
    ``model.json`` so that ``unlearnkit unlearn --checkpoint`` applies it too."""
    from .device import resolve_device
    from .options import parse_options
    from .training import TrainConfig, train_model

    cfg = parse_options(TrainConfig, train_config, "train options")
    dev = resolve_device(device)
    aug = import_augment(augment)
    train, _, _ = training_split(dataset, seed, unseen_fraction)
    new_model = model_factory(arch, dataset.input_shape, dataset.num_classes)
    torch.manual_seed(seed)
    model = new_model()
    check_outputs(model, dataset, f"architecture {arch.name!r}")
    model = train_model(model, dataset, train, cfg, dev, seed=seed, augment=aug)
    meta = CheckpointMeta(
        architecture=arch,
        input_shape=list(dataset.input_shape),
        num_classes=dataset.num_classes,
        dataset=spec,
        split_seed=seed,
        unseen_fraction=unseen_fraction,
        train=cfg.model_dump(),
        augment=None if aug is None else augment,
        data_fingerprint=data_fingerprint(dataset),
        versions=versions(),
    )
    path = save_checkpoint(model, Path(out) / "model.safetensors", meta)
    (Path(out) / "train_ids.txt").write_text("\n".join(map(str, train.tolist())) + "\n")  # what can be forgotten
    return model, meta, path
