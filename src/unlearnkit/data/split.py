"""Splits: frozen integer index arrays into one dataset (docs/architecture.md "Contracts")."""

from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np

from ..errors import UnlearnkitError

MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seed range


def as_indices(values, what: str) -> np.ndarray:
    """``values`` as an int64 array, refusing anything that is not a whole number (a float id such as 3.7
    or a float ``.npy`` with fractions would otherwise be truncated silently; 3.0 is accepted as 3)."""
    arr = np.atleast_1d(np.asarray(values))
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))]
        if len(bad) == 0:
            return arr.astype(np.int64)
        example = bad[:5].tolist()
    elif arr.dtype.kind == "O":
        flat = arr.ravel().tolist()
        bad = [v for v in flat if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
        if not bad:
            return np.asarray(flat, dtype=np.int64).reshape(arr.shape)
        example = bad[:5]
    else:  # strings, booleans, …
        example = arr.ravel()[:5].tolist()
    raise UnlearnkitError(
        f"{what} must be whole numbers (integer ids), got {example}: a fractional id would be "
        f"truncated silently; pass integers"
    )


def check_seed(seed, what: str = "seed") -> int:
    """A seed is a whole number in 0..2^32−1 (numpy and scikit-learn refuse others deep inside)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise UnlearnkitError(f"{what} must be a whole number in 0..{MAX_SEED}, got {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class Split:
    """train / test / unseen (held out from the training pool) / forget ⊂ train; retain = train − forget.

    ``purpose``: ``deletion`` (D_f is a request to forget) or ``correction`` (fairness/robustness: D_f
    is a stand-in and a weighting decides which samples lose weight); declared by the scenario."""

    train: np.ndarray
    test: np.ndarray
    unseen: np.ndarray
    forget: np.ndarray
    info: dict = field(default_factory=dict, compare=False)
    purpose: str = "deletion"

    def __post_init__(self):
        for name in ("train", "test", "unseen", "forget"):
            object.__setattr__(self, name, np.sort(as_indices(getattr(self, name), f"split.{name}").ravel()))
        if self.purpose not in ("deletion", "correction"):
            raise UnlearnkitError(f"split purpose {self.purpose!r} is not 'deletion' or 'correction'")
        if len(self.forget) == 0:
            raise UnlearnkitError("the forget set is empty; choose a scenario that selects at least one sample")
        if not np.isin(self.forget, self.train).all():
            raise UnlearnkitError("the forget set must be a subset of the training set")
        object.__setattr__(self, "retain", np.setdiff1d(self.train, self.forget, assume_unique=True))
        if len(self.retain) == 0:
            raise UnlearnkitError("the forget set covers the whole training set; nothing would be retained")

    retain: np.ndarray = field(init=False, default=None, compare=False)  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("train", "test", "unseen", "forget")} | {
            "info": self.info,
            "purpose": self.purpose,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Split":
        return cls(d["train"], d["test"], d["unseen"], d["forget"], d.get("info", {}), d.get("purpose", "deletion"))


def check_split(dataset, split: Split) -> None:
    """Refuse a split that does not index into ``dataset`` (e.g. made for another dataset or another
    ``subset``), before it turns into an IndexError deep inside training: every index must be in
    0..len(dataset)−1, train/unseen must lie in the dataset's training pool (or its loader-fixed unseen
    split) and the test indices outside train."""
    n = len(dataset)
    for name in ("train", "test", "unseen", "forget"):
        idx = getattr(split, name)
        if len(idx) and (idx[0] < 0 or idx[-1] >= n):
            raise UnlearnkitError(
                f"split.{name} holds index {int(idx[-1] if idx[-1] >= n else idx[0])} but dataset "
                f"{dataset.name!r} has {n} samples (0..{n - 1}); the split was made for another "
                f"dataset: make it with make_split(this_dataset, …)"
            )
    pool = np.union1d(dataset.pool, np.asarray(dataset.extra.get("unseen", []), dtype=np.int64))
    held_out = np.union1d(pool, dataset.test)  # held-out data may be test samples (a user's own checkpoint)
    for name, allowed in (("train", pool), ("unseen", held_out)):
        outside = np.setdiff1d(getattr(split, name), allowed)
        if len(outside):
            raise UnlearnkitError(
                f"split.{name} holds {len(outside)} indices outside dataset {dataset.name!r}'s "
                f"training pool (e.g. {outside[:5].tolist()}); the split was made for another "
                f"dataset or subset: make it with make_split(this_dataset, …)"
            )
    seen = np.intersect1d(split.train, split.unseen)
    if len(seen):
        raise UnlearnkitError(
            f"split.unseen and split.train share {len(seen)} indices (e.g. {seen[:5].tolist()}); "
            f"held-out samples must not be trained on: pass indices the model never saw"
        )
    leak = np.intersect1d(split.train, split.test)
    if len(leak):
        raise UnlearnkitError(
            f"split.test and split.train share {len(leak)} indices (e.g. {leak[:5].tolist()}); "
            f"a test sample must not be trained on: make the split with make_split(dataset, …)"
        )


PROBE_ROWS = 8  # training samples check_model passes through the model


def looks_like_probabilities(out) -> bool:
    """Whether model outputs ``out`` [batch, classes] are probabilities rather than logits: every value in [0, 1] and
    every row summing to 1 (to 1e-4) — what a final ``nn.Softmax`` gives and logits of a trained model practically
    never do. Log-probabilities (a final ``nn.LogSoftmax``) are not refused: softmax reads them exactly as the
    logits they came from."""
    if not out.is_floating_point() or out.shape[1] < 2:
        return False
    out = out.double()
    return bool(((out >= 0) & (out <= 1)).all() and ((out.sum(1) - 1).abs() <= 1e-4).all())


FIT_SAMPLES = 512  # D_r samples fit_warning reads θ_o on


def fit_warning(model, dataset, split, seed: int = 0) -> str | None:
    """A warning where ``model`` (θ_o) has not learnt its own training data as the data reaches it here: on a seeded
    sample of D_r it is less accurate than always predicting D_r's most common class (by two standard errors), or it
    predicts one class for every sample of a D_r with several. What that catches is data fed differently from how the
    model was trained — class ids in another order, another normalisation, channels transposed — which no shape check
    sees; unlearning such a model measures nothing. None where the model fits."""
    import torch

    from ..predict import predict_logits

    retain = np.asarray(split.retain)
    labels = np.asarray(dataset.labels)
    if len(np.unique(labels[retain])) < 2:  # one class left (a binary task's class removed): no majority to beat
        return None
    idx = np.sort(np.random.default_rng(seed).choice(retain, size=min(FIT_SAMPLES, len(retain)), replace=False))
    device = next(iter(model.parameters()), torch.empty(0)).device
    pred = predict_logits(model, dataset.to(device), idx, device=device).argmax(1).numpy()
    y = labels[idx]
    acc = float(np.mean(pred == y))
    counts = np.bincount(labels[retain])
    majority = float(counts.max() / len(retain))
    se = math.sqrt(majority * (1.0 - majority) / len(idx))
    single = len(np.unique(pred)) == 1 and len(np.unique(y)) > 1
    if acc >= majority - 2.0 * se and not single:
        return None
    if single:
        what = f"predicts class {int(pred[0])} for all {len(idx)} samples of its own training data (D_r) it was read on"
    else:
        what = (
            f"is right on only {100 * acc:.1f} % of {len(idx)} samples of its own training data (D_r), no better than "
            f"always predicting its most common class ({100 * majority:.1f} %)"
        )
    return (
        f"θ_o {what}: is the data fed to it as it was trained on — the same class ids in the same order, the same "
        f"normalisation, channels in the same place? Unlearning a model that has not learnt the data measures nothing"
    )


def check_model(model, dataset) -> None:
    """Refuse a model whose output does not have one logit per class of ``dataset`` (one forward pass
    on ``PROBE_ROWS`` training samples, in eval mode, without gradients; the model's mode is restored), that outputs
    probabilities (:func:`looks_like_probabilities`), whose float parameters differ in dtype from the inputs, or that
    is a TorchScript module."""
    import torch

    if isinstance(model, torch.jit.ScriptModule):  # its deepcopy's parameters are not leaves: no optimiser takes them
        raise UnlearnkitError(
            "the model is a TorchScript module (torch.jit.script / trace), which cannot be copied and trained "
            "here; pass the Python nn.Module it was made from (torch.compile'd modules are fine)"
        )
    try:
        param = next(model.parameters())
        device = param.device
    except StopIteration:
        device = torch.device("cpu")
    x = dataset.inputs(
        np.asarray(dataset.pool[:PROBE_ROWS] if len(dataset.pool) else np.arange(min(PROBE_ROWS, len(dataset))))
    )
    floats = {p.dtype for p in model.parameters() if p.is_floating_point()}
    if x.is_floating_point() and floats and floats != {x.dtype}:
        got = ", ".join(sorted(str(d).replace("torch.", "") for d in floats))
        raise UnlearnkitError(
            f"the model's parameters are {got} but dataset {dataset.name!r} holds {str(x.dtype).replace('torch.', '')} "
            f"inputs; convert the model with model.float() (for lower precision use TrainConfig(precision='bf16') "
            f"or the method option precision='bf16': autocast, with float32 weights)"
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x.to(device))
    except (RuntimeError, TypeError, ValueError) as e:
        raise UnlearnkitError(
            f"the model cannot take the inputs of dataset {dataset.name!r} (shape "
            f"{tuple(dataset.input_shape)}: {str(e).splitlines()[0]}); build it for that input "
            f"shape, e.g. build_model(name, dataset.input_shape, dataset.num_classes)"
        ) from None
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):  # a tuple (logits, features), a dict, a Hugging Face ModelOutput, …
        raise UnlearnkitError(
            f"the model returns a {type(out).__name__}, not a tensor of logits; unlearnkit needs forward(x) to return "
            f"the logits alone, shape [batch, {dataset.num_classes}]: wrap it in an nn.Module whose forward returns "
            f"them (e.g. `return self.inner(x)[0]` or `return self.inner(x)['logits']`)"
        )
    if out.dim() != 2 or out.shape[1] != dataset.num_classes:
        shape = (1, *out.shape[1:])
        raise UnlearnkitError(
            f"the model outputs {shape} for one sample but dataset {dataset.name!r} has "
            f"{dataset.num_classes} classes; give it a final layer with {dataset.num_classes} "
            f"outputs (logits of shape [batch, {dataset.num_classes}])"
        )
    if looks_like_probabilities(out):
        raise UnlearnkitError(
            f"the model's outputs look like probabilities (on {len(out)} training samples every output is in [0, 1] "
            f"and each row sums to 1): unlearnkit needs logits — its losses apply log-softmax and its evaluations "
            f"softmax, which would squash probabilities toward uniform; remove the final Softmax (a final "
            f"LogSoftmax is fine)"
        )


def whole_classes(split: Split, labels: np.ndarray) -> list[int] | None:
    """The classes a *class* split forgets: D_f is every training sample of some classes and keeps at
    least one class. ``None`` for any other split (random, long-tail, part of a class, …)."""
    forget_classes = np.unique(labels[split.forget])
    train_classes = np.unique(labels[split.train])
    whole = split.train[np.isin(labels[split.train], forget_classes)]
    if len(forget_classes) < len(train_classes) and np.array_equal(whole, split.forget):
        return forget_classes.tolist()
    return None


def distinct_request(ids, what: str) -> np.ndarray:
    """The distinct ids of a deletion request, sorted; a warning names the repeats (each sample is forgotten
    once: a repeated id does not weigh more)."""
    import warnings

    ids = np.asarray(ids, dtype=np.int64)
    out, counts = np.unique(ids, return_counts=True)
    if len(out) < len(ids):
        warnings.warn(
            f"{what}: {len(ids) - len(out)} repeated id(s) (first: {int(out[counts > 1][0])}); "
            f"{len(out)} distinct samples are forgotten, each once",
            stacklevel=3,
        )
    return out


def base_split(
    labels: np.ndarray, pool: np.ndarray, test: np.ndarray, seed: int, unseen_fraction: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carve a stratified, seeded ``unseen`` split from the training pool: (train, test, unseen)."""
    if not 0 <= unseen_fraction < 1:
        raise UnlearnkitError(f"unseen_fraction must be in [0, 1), got {unseen_fraction}")
    if unseen_fraction == 0:
        return np.asarray(pool), np.asarray(test), np.empty(0, dtype=np.int64)
    train, unseen = stratified_split(pool, labels[pool], seed, test_size=unseen_fraction, what="the unseen split")
    return np.sort(train), np.asarray(test), np.sort(unseen)


def stratified_split(
    idx: np.ndarray,
    strata: np.ndarray,
    seed: int,
    *,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    what: str = "the split",
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's seeded ``train_test_split(idx, stratify=strata)`` (the same indices wherever it
    works), made to work on data it refuses: the samples of a class with one sample (which cannot be in
    both parts) stay in the first part (training) and the rest is split as before; where there are still
    more classes than a part has room for (60 samples, 10 classes, 6 held out) the split is drawn at
    random with a warning."""
    import warnings

    from sklearn.model_selection import train_test_split

    idx, strata = np.asarray(idx), np.asarray(strata)
    kw = dict(test_size=test_size, train_size=train_size, random_state=seed)
    values, counts = np.unique(strata, return_counts=True)
    lone = np.isin(strata, values[counts < 2])
    if lone.any() and isinstance(train_size, (int, np.integer)):
        kw["train_size"] = train_size - int(lone.sum())
    try:
        a, b = train_test_split(idx[~lone], stratify=strata[~lone], **kw)
        return np.r_[np.asarray(a), idx[lone]], np.asarray(b)
    except ValueError:
        pass
    try:
        a, b = train_test_split(idx, test_size=test_size, train_size=train_size, random_state=seed)
    except ValueError as e:
        raise UnlearnkitError(f"cannot make {what} from {len(idx)} samples: {e}") from None
    warnings.warn(
        f"{what} could not be stratified by class ({len(idx)} samples in {len(values)} classes): it was "
        f"drawn at random, so some classes may be missing from one part",
        stacklevel=3,
    )
    return np.asarray(a), np.asarray(b)
