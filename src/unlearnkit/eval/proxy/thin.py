"""``proxy.thin_below``: a class D_r keeps little of, read by a linear probe retrained on D_r."""

from __future__ import annotations

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch


from .options import ProxyOptions
from .prior import kept_fraction


@dataclass
class Thin:
    """``thin_below``'s reading (:func:`thin_share`): per nearly removed class, its kept fraction, the retrained
    probe's accuracy on D_f's samples of it and the training-set probe's on held-out samples of it; and the share of
    D_f's partial part expected right (the other classes' samples count as right)."""

    classes: dict  # class → (kept fraction, probe on D_f, probe on held-out)
    share: float


PROBE_MAX_ITER = 100  # lbfgs iterations of thin_below's probe (500: the same shares to 0.031, 1.8× the time)
PROBE_DIMS = 1024  # thin_below's probe: inputs with more features are read through a seeded projection to this many
PROBE_SAMPLES = 30_000  # thin_below's probe: samples a fit reads at most (per_class shrinks with many classes)


def probe_features(dataset, idx: np.ndarray) -> np.ndarray:
    """The probe's features for ``dataset[idx]``: the flattened model-ready inputs (float64), or for inputs of more
    than ``PROBE_DIMS`` features a fixed seeded Gaussian projection of them to ``PROBE_DIMS`` (a linear model on a
    Johnson–Lindenstrauss sketch: bounded memory on CIFAR- or ImageNet-sized inputs; digits and Fashion-MNIST are
    read as they are)."""
    x = dataset.inputs(torch.as_tensor(np.asarray(idx, np.int64))).flatten(1).double()
    width = x.shape[1]
    if width > PROBE_DIMS:
        gen = torch.Generator().manual_seed(width)
        x = x @ (torch.randn(width, PROBE_DIMS, generator=gen, dtype=torch.float64) / math.sqrt(PROBE_DIMS)).to(
            x.device
        )
    return x.cpu().numpy()


def probe(dataset, pool: np.ndarray, per_class: int, seed: int):
    """A multinomial logistic regression on the standardised :func:`probe_features` of a class-stratified seeded
    sample of ``pool`` (at most ``per_class`` a class, and ``PROBE_SAMPLES`` in all), each sample weighted by its
    class's size over its sample's: the fit of all of ``pool`` in expectation, at a bounded cost. (scaler,
    classifier)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(dataset.labels)
    gen = np.random.default_rng([seed, 3])
    idx, w = [], []
    classes = np.unique(labels[pool])
    per_class = min(per_class, max(10, PROBE_SAMPLES // len(classes)))  # many classes: fewer a class
    for c in classes:
        members = pool[labels[pool] == c]
        chosen = np.sort(gen.permutation(members)[:per_class])
        idx.append(chosen)
        w.append(np.full(len(chosen), len(members) / len(chosen)))
    at = np.concatenate(idx)
    x = probe_features(dataset, at)
    scaler = StandardScaler().fit(x)
    with warnings.catch_warnings():  # the iteration cap is deliberate (PROBE_MAX_ITER): no ConvergenceWarning
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=PROBE_MAX_ITER).fit(
            scaler.transform(x), labels[at], sample_weight=np.concatenate(w)
        )
    return scaler, clf


def thin_share(dataset, split, partial: np.ndarray, unseen: np.ndarray, o: ProxyOptions) -> Thin | None:
    """``thin_below``: for each class of ``partial`` (D_f's partial part) that D_r keeps less than ``thin_below`` of,
    how much of it a model retrained on D_r still classifies — a :func:`probe` fitted on D_r, scored on those D_f
    samples, over the same probe fitted on the training set, scored on held-out samples of the class (clipped to [0,
    1]; 1 where the class has no held-out sample) — and the share of ``partial`` expected right. None where no class
    is that thin."""
    if o.thin_below is None or len(partial) == 0:
        return None
    labels = np.asarray(dataset.labels)
    kept = kept_fraction(labels[split.train], labels[split.retain], dataset.num_classes)
    thin = [int(c) for c in np.unique(labels[partial]) if 0 < kept[c] < o.thin_below]
    if not thin:
        return None
    fitted = [probe(dataset, np.asarray(pool), o.probe_per_class, o.seed) for pool in (split.retain, split.train)]

    def accuracy(which: int, idx: np.ndarray, c: int) -> float:
        scaler, clf = fitted[which]
        return float(np.mean(clf.predict(scaler.transform(probe_features(dataset, idx))) == c))

    classes, right = {}, float(np.sum(~np.isin(labels[partial], thin)))
    for c in thin:
        f_c, u_c = partial[labels[partial] == c], unseen[labels[unseen] == c]
        on_f = accuracy(0, f_c, c)
        on_u = accuracy(1, u_c, c) if len(u_c) else float("nan")
        ratio = min(1.0, on_f / on_u) if len(u_c) and on_u > 0 else 1.0
        classes[c] = (float(kept[c]), on_f, on_u)
        right += ratio * len(f_c)
    return Thin(classes, right / len(partial))
