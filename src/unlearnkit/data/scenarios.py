"""Forget scenarios: how D_f is chosen. Each returns index sets (never copies), seeded.

A scenario is ``f(labels, train, rng, **options) -> (forget_indices, info)``; ``info`` always
holds ``forget_counts`` (per class) so every run reports the histogram it produced.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnlearnkitError
from ..registry import Registry
from .split import Split, base_split

SCENARIOS: Registry = Registry("scenario")


def _check_fraction(fraction: float, what: str = "fraction") -> None:
    if not 0 < fraction < 1:
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
    classes = [int(c) for c in np.atleast_1d(classes)]
    _check_classes(classes, labels, train, num_classes)
    if len(set(classes)) >= len(np.unique(labels[train])):
        raise UnlearnkitError("class scenario asks to forget every class; keep at least one")
    forget = train[np.isin(labels[train], classes)]
    return forget, {"forget_classes": classes}


@SCENARIOS.register("subclass")
def subclass_forget(labels, train, rng, num_classes, classes: list[int] | int = 0, fraction: float = 0.5):
    """A ``fraction`` of one class (the rest of the class stays in D_r)."""
    cls = [int(c) for c in np.atleast_1d(classes)]
    if len(cls) != 1:
        raise UnlearnkitError(f"subclass forgets part of one class; got classes={cls}")
    _check_fraction(fraction)
    _check_classes(cls, labels, train, num_classes)
    members = train[labels[train] == cls[0]]
    n = int(round(fraction * len(members)))
    if n == 0 or n == len(members):
        raise UnlearnkitError(f"fraction={fraction} of class {cls[0]} ({len(members)} samples) gives {n}; "
                              f"choose a fraction that leaves some of the class in and out")
    return rng.choice(members, size=n, replace=False), {"forget_classes": cls}


def long_tail_counts(class_sizes: np.ndarray, order: np.ndarray, fraction: float,
                     profile: str = "exp", ratio: float = 10.0, gamma: float = 1.0) -> np.ndarray:
    """Per-class forget counts (indexed by class) for a long-tailed D_f of ``fraction``·N samples.

    ``order`` ranks classes head → tail. ``exp``: counts fall as ratio^(-(k-1)/(C-1)) (n_max/n_min =
    ``ratio``). ``power`` (FaLW spec, a *reconstruction* of the paper's γ profile): per-class
    forget fraction r_k ∝ (1 − (k−1)/C)^γ, scaled so Σ r_k n_k = fraction·N; γ = 0 is balanced.
    """
    _check_fraction(fraction)
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
def long_tail_forget(labels, train, rng, num_classes, fraction: float = 0.1, profile: str = "exp",
                     ratio: float = 10.0, gamma: float = 1.0):
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
    weighting ignores it (``info["correction"]``) and decides itself which samples lose weight."""
    _check_fraction(fraction)
    n = max(1, int(round(fraction * len(train))))
    return rng.choice(train, size=n, replace=False), {"correction": True}


def make_split(dataset, scenario: str = "random", seed: int = 0, unseen_fraction: float = 0.1, **options) -> Split:
    """Seeded Split for ``dataset`` (an ArrayDataset) under a named scenario and its options.
    ``unseen`` is carved from the pool unless the loader fixed it in ``dataset.extra["unseen"]``."""
    fn = SCENARIOS.get(scenario)
    labels = dataset.labels
    fixed_unseen = getattr(dataset, "extra", {}).get("unseen")
    if fixed_unseen is not None:  # a loader-fixed validation set (e.g. adult's half of adult.test)
        train, test, unseen = np.asarray(dataset.pool), np.asarray(dataset.test), np.asarray(fixed_unseen)
    else:
        train, test, unseen = base_split(labels, dataset.pool, dataset.test, seed, unseen_fraction)
    rng = np.random.default_rng(seed)
    try:
        forget, info = fn(labels, train, rng, dataset.num_classes, **options)
    except TypeError as e:
        raise UnlearnkitError(f"scenario {scenario!r}: bad options {options} ({e})") from None
    counts = _counts(labels, np.asarray(forget, dtype=np.int64), dataset.num_classes)
    info = {"scenario": scenario, **options, **info, "forget_counts": counts.tolist()}
    return Split(train, test, unseen, forget, info)
