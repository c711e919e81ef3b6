"""Forget scenarios: how D_f is chosen. Each returns index sets (never copies), seeded.

A scenario is ``f(labels, train, rng, **options) -> (forget_indices, info)``; ``info`` always
holds ``forget_counts`` (per class) so every run reports the histogram it produced.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnlearnkitError
from ..registry import Registry
from .split import Split, as_indices, base_split, check_seed, distinct_request

SCENARIOS: Registry = Registry("scenario")


def _number(value, what: str) -> float:
    """A real number (not a string, a list or a boolean): scenario options come from YAML and --set."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or np.isnan(value):
        raise UnlearnkitError(f"{what} must be a number, got {value!r}")
    return float(value)


def _check_fraction(fraction: float, what: str = "fraction") -> None:
    if not 0 < _number(fraction, what) < 1:
        raise UnlearnkitError(f"{what} must be in (0, 1), got {fraction}")


def _counts(labels, idx, num_classes):
    return np.bincount(labels[idx], minlength=num_classes)


@SCENARIOS.register("random")
def random_forget(labels, train, rng, num_classes, fraction: float = 0.1):
    """A uniform ``fraction`` of the training set."""
    _check_fraction(fraction)
    n = int(round(fraction * len(train)))
    if n == 0:
        raise UnlearnkitError(f"fraction={fraction} of {len(train)} training samples selects nothing; raise it")
    forget = rng.choice(train, size=n, replace=False)
    return forget, {}


def _check_classes(classes, labels, train, num_classes):
    present = set(np.unique(labels[train]).tolist())
    bad = [c for c in classes if c not in present]
    if bad:
        raise UnlearnkitError(f"class(es) {bad} not in the training data; classes are 0..{num_classes - 1}")


@SCENARIOS.register("class")
def class_forget(labels, train, rng, num_classes, classes: list[int] | int = 0):
    """All training samples of the given class(es)."""
    classes = as_indices(classes, "classes").ravel().tolist()
    _check_classes(classes, labels, train, num_classes)
    if len(set(classes)) >= len(np.unique(labels[train])):
        raise UnlearnkitError("class scenario asks to forget every class; keep at least one")
    forget = train[np.isin(labels[train], classes)]
    return forget, {"forget_classes": classes}


@SCENARIOS.register("subclass")
def subclass_forget(labels, train, rng, num_classes, classes: list[int] | int = 0, fraction: float = 0.5):
    """A ``fraction`` of one class (the rest of the class stays in D_r)."""
    cls = as_indices(classes, "classes").ravel().tolist()
    if len(cls) != 1:
        raise UnlearnkitError(f"subclass forgets part of one class; got classes={cls}")
    _check_fraction(fraction)
    _check_classes(cls, labels, train, num_classes)
    members = train[labels[train] == cls[0]]
    n = int(round(fraction * len(members)))
    if n == 0 or n == len(members):
        raise UnlearnkitError(
            f"fraction={fraction} of class {cls[0]} ({len(members)} samples) gives {n}; "
            f"choose a fraction that leaves some of the class in and out"
        )
    return rng.choice(members, size=n, replace=False), {"forget_classes": cls}


def long_tail_counts(
    class_sizes: np.ndarray,
    order: np.ndarray,
    fraction: float,
    profile: str = "exp",
    ratio: float = 10.0,
    gamma: float = 1.0,
) -> np.ndarray:
    """Per-class forget counts (indexed by class) for a long-tailed D_f of ``fraction``·N samples.

    ``order`` ranks classes head → tail. ``exp``: counts fall as ratio^(-(k-1)/(C-1)) (n_max/n_min =
    ``ratio``). ``power`` (FaLW spec, a *reconstruction* of the paper's γ profile): per-class
    forget fraction r_k ∝ (1 − (k−1)/C)^γ, scaled so Σ r_k n_k = fraction·N; γ = 0 is balanced.
    """
    _check_fraction(fraction)
    ratio, gamma = _number(ratio, "ratio"), _number(gamma, "gamma")
    C = len(order)
    sizes = class_sizes[order].astype(float)
    total = fraction * sizes.sum()
    k = np.arange(C)
    if profile == "exp":
        if ratio < 1:
            raise UnlearnkitError(f"imbalance ratio must be ≥ 1 (n_max/n_min), got {ratio}")
        shape = ratio ** (-k / max(C - 1, 1))
        counts = np.floor(total * shape / shape.sum())
    elif profile == "power":
        if gamma < 0:
            raise UnlearnkitError(f"gamma must be ≥ 0 (0 = balanced), got {gamma}")
        shape = (1 - k / C) ** gamma
        r = shape * total / (shape * sizes).sum()
        counts = np.floor(r * sizes)
    else:
        raise UnlearnkitError(f"unknown long_tail profile {profile!r}; known: exp, power")
    counts = np.maximum(counts, 1)
    too_many = counts >= sizes
    if too_many.any():
        worst = int(np.argmax(counts / sizes))
        feasible = fraction * float((sizes - 1).min() / counts.max()) if profile == "exp" else None
        hint = f" (at most fraction≈{feasible:.3f} for this ratio)" if feasible else ""
        raise UnlearnkitError(
            f"long_tail {profile} asks class {int(order[worst])} for {int(counts[worst])} forget samples but it has "
            f"{int(sizes[worst])} in training; lower the fraction or the imbalance{hint}"
        )
    out = np.zeros(len(class_sizes), dtype=np.int64)
    out[order] = counts.astype(np.int64)
    return out


@SCENARIOS.register("long_tail")
def long_tail_forget(
    labels,
    train,
    rng,
    num_classes,
    fraction: float = 0.1,
    profile: str = "exp",
    ratio: float = 10.0,
    gamma: float = 1.0,
):
    """A forget set with a long-tailed class histogram (class order head → tail is seeded)."""
    present = np.unique(labels[train])
    order = rng.permutation(present)
    sizes = _counts(labels, train, num_classes)
    counts = long_tail_counts(sizes, order, fraction, profile, ratio, gamma)
    forget = np.concatenate([rng.choice(train[labels[train] == c], size=counts[c], replace=False) for c in order])
    return forget, {"class_order": order.tolist()}


@SCENARIOS.register("correction")
def correction_split(labels, train, rng, num_classes, fraction: float = 0.2):
    """Correction unlearning (fairness / robustness): no deletion request. D_f is a seeded random
    ``fraction`` of D_train only because a Split needs one (θ_r = a model without it); the ``soft``
    weighting ignores it (the split's declared ``purpose``) and decides itself which samples lose weight."""
    _check_fraction(fraction)
    n = max(1, int(round(fraction * len(train))))
    return rng.choice(train, size=n, replace=False), {"correction": True}


@SCENARIOS.register("indices")
def index_forget(labels, train, rng, num_classes, indices: list[int] | None = None, file: str | None = None):
    """An explicit deletion request: dataset indices given as ``indices`` or a ``file`` (one integer per
    line, or a ``.npy`` array). The unseen split is carved from the rest, so every index stays in D_f."""
    if (indices is None) == (file is None):
        raise UnlearnkitError("scenario 'indices' needs exactly one of indices=[…] or file=<path>")
    if file is not None:
        from pathlib import Path

        path = Path(file).expanduser()
        if not path.exists():
            raise UnlearnkitError(f"forget-index file {str(path)!r} not found")
        try:
            indices = (
                np.load(path, allow_pickle=False)
                if path.suffix == ".npy"
                else np.loadtxt(path, dtype=np.int64, ndmin=1)
            )
        except ValueError as e:
            raise UnlearnkitError(f"{path} must hold one integer index per line ({e})") from None
        forget = distinct_request(as_indices(indices, f"the indices in {path.name}"), f"the indices in {path.name}")
    else:
        forget = distinct_request(as_indices(indices, "indices"), "indices")
    outside = np.setdiff1d(forget, train)
    if len(outside):
        raise UnlearnkitError(
            f"forget indices {outside[:10].tolist()} are not in the training pool (they are "
            f"test indices or out of range 0..{len(labels) - 1}); pass training-set indices"
        )
    return forget, {"n_requested": int(len(forget))}


correction_split.purpose = "correction"  # type: ignore[attr-defined]
index_forget.pool_level = True  # chosen before the unseen split is carved, so no request is lost


def _check_options(fn, scenario: str, options: dict) -> None:
    """Unknown option names fail here with the list the scenario takes (not as a TypeError later)."""
    import difflib
    import inspect

    takes = list(inspect.signature(fn).parameters)[4:]  # after (labels, train, rng, num_classes)
    for k in options:
        if k not in takes:
            close = difflib.get_close_matches(str(k), takes, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnlearnkitError(
                f"scenario {scenario!r}: bad options {options}: it takes no option {k!r}; it "
                f"takes: {', '.join(takes) or 'none'}.{hint}"
            )


def make_split(dataset, scenario: str = "random", seed: int = 0, unseen_fraction: float = 0.1, **options) -> Split:
    """Seeded Split for ``dataset`` (an ArrayDataset) under a named scenario and its options.
    ``unseen`` is carved from the pool unless the loader fixed it in ``dataset.extra["unseen"]``."""
    fn = SCENARIOS.get(scenario)
    check_seed(seed)
    _check_options(fn, scenario, options)
    labels = dataset.labels
    fixed_unseen = getattr(dataset, "extra", {}).get("unseen")
    rng = np.random.default_rng(seed)

    def choose(candidates):
        try:
            return fn(labels, candidates, rng, dataset.num_classes, **options)
        except TypeError as e:
            raise UnlearnkitError(f"scenario {scenario!r}: bad options {options} ({e})") from None

    pool = np.asarray(dataset.pool)
    requested = None
    if getattr(fn, "pool_level", False):  # an explicit request: pick D_f first, carve unseen from the rest
        requested = choose(pool)
        pool = np.setdiff1d(pool, requested[0])
    if fixed_unseen is not None:  # a loader-fixed validation set (e.g. adult's half of adult.test)
        train, test, unseen = pool, np.asarray(dataset.test), np.asarray(fixed_unseen)
    else:
        train, test, unseen = base_split(labels, pool, dataset.test, seed, unseen_fraction)
    if requested is not None:
        train = np.union1d(train, requested[0])
    forget, info = requested if requested is not None else choose(train)
    counts = _counts(labels, np.asarray(forget, dtype=np.int64), dataset.num_classes)
    info = {"scenario": scenario, **options, **info, "forget_counts": counts.tolist()}
    return Split(train, test, unseen, forget, info, getattr(fn, "purpose", "deletion"))
