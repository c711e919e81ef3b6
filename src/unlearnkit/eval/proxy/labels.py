"""``proxy.label_check``: D_f labelled unlike its neighbours in D_r (mislabelled or poisoned samples), read
in input space and in θ_o's penultimate features."""

from __future__ import annotations

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...models.head import penultimate
from ...passes import record
from ...predict import map_batches, map_inputs


from .options import ProxyOptions
from .strata import target_weights


def embeddings(
    model, dataset, idx: np.ndarray, device: torch.device, inputs: torch.Tensor | None = None
) -> list[np.ndarray]:
    """Where to look for ``dataset[idx]``'s neighbours: the flattened inputs (which no training can move) and, for
    a model whose penultimate layer is known (:func:`~unlearnkit.models.head.penultimate`: the built-in models, an
    ``nn.Sequential`` ending in an ``nn.Linear``), its penultimate features (what θ_o learnt the classes look
    like, but pulled toward their labels for the samples it memorised); float32 on the host, one batched pass
    (over ``inputs``, those samples' model-ready inputs, where given)."""
    found = penultimate(model)
    feats = found[0] if found is not None else None
    if isinstance(feats, nn.Module) and next(feats.parameters(), None) is None:
        feats = None  # nothing learnt before the head (a Sequential(Flatten, Linear)): the inputs again
    spaces = [lambda x: x] + ([feats] if feats is not None else [])

    def fn(x: torch.Tensor) -> list[torch.Tensor]:
        if feats is not None:
            record(model, len(x))  # the features pass, which the model's forward hook does not see
        return [f(x).flatten(1).float().cpu() for f in spaces]

    parts = map_batches(model, dataset, idx, fn, device=device) if inputs is None else map_inputs(model, inputs, fn)
    return [torch.cat([p[i] for p in parts]).numpy() for i in range(len(spaces))] if parts else []


def neighbour_agreement(ref_x: np.ndarray, ref_y: np.ndarray, x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per query sample, the fraction of its ``k`` nearest reference samples (Euclidean, exact) whose label is
    the query's: the neighbours scikit-learn's brute-force :class:`~sklearn.neighbors.NearestNeighbors` finds
    (the tests compare), from one ``torch.cdist`` and a ``topk`` — about half its time on 784-pixel inputs,
    where this search is most of the proxy reference's cost. Where distances tie at the k-th place either
    may keep a different one of the tied samples."""
    if len(x) == 0 or len(ref_x) == 0:
        return np.zeros(len(x))
    r, q = torch.from_numpy(np.asarray(ref_x, np.float32)), torch.from_numpy(np.asarray(x, np.float32))
    nb = torch.cdist(q, r).topk(min(k, len(ref_x)), dim=1, largest=False).indices.numpy()
    return (np.asarray(ref_y)[nb] == np.asarray(y)[:, None]).mean(1)


def label_share(agree_f: np.ndarray, agree_u: np.ndarray, w_u: np.ndarray, gap: float) -> float | None:
    """The share of D_f whose labels look as trustworthy as held-out data's: mean agreement on D_f over the
    ``w_u``-weighted mean on held-out samples (the same class mix), clipped to [0, 1] — or None where D_f's
    agreement is not below the held-out one's by more than ``gap`` and 4 standard errors (a clean D_f)."""
    if len(agree_f) < 2 or len(agree_u) < 2:
        return None
    a_f, a_u, se = agreement_means(agree_f, agree_u, w_u)
    if a_u <= 0 or a_u - a_f <= max(gap, 4.0 * se):
        return None
    return float(np.clip(a_f / a_u, 0.0, 1.0))


def agreement_means(agree_f: np.ndarray, agree_u: np.ndarray, w_u: np.ndarray) -> tuple[float, float, float]:
    """Mean agreement on D_f, the ``w_u``-weighted mean on held-out samples, and the standard error of their
    difference (D_f's sample variance over its size plus the weighted mean's Σw²·(a − ā)²)."""
    w = np.asarray(w_u, float) / np.sum(w_u)
    a_f, a_u = float(np.mean(agree_f)), float(np.sum(w * agree_u))
    se = float(np.sqrt(np.var(agree_f, ddof=1) / len(agree_f) + np.sum(w**2 * (agree_u - a_u) ** 2)))
    return a_f, a_u, se


def clearly_clean(agree_f: np.ndarray, agree_u: np.ndarray, w_u: np.ndarray, gap: float) -> bool:
    """Whether a subsample's agreements rule out a shortfall of ``gap``: D_f's shortfall below the held-out
    mean plus 4 standard errors stays under it (then the full sets' shortfall exceeds ``gap`` only by a
    4-SE chance, and :func:`label_share` on them would not fire)."""
    if len(agree_f) < 2 or len(agree_u) < 2:
        return False
    a_f, a_u, se = agreement_means(agree_f, agree_u, w_u)
    return a_u - a_f + 4.0 * se < gap


def check_labels(
    original,
    dataset,
    retain: np.ndarray,
    partial: np.ndarray,
    unseen: np.ndarray,
    o: ProxyOptions,
    device,
    inputs: torch.Tensor | None = None,
) -> tuple[float | None, float, float]:
    """``label_check``: (the share of D_f's partial part ``partial`` labelled like held-out data, or None; the
    mean neighbour agreement on it; the held-out one's), in the space where D_f looks least like held-out data.
    Each space first searches a seeded subsample of ``label_screen`` samples a side, and all of them only where
    that subsample cannot rule out the shortfall (:func:`clearly_clean`). ``inputs``: the model-ready inputs of
    ``retain``, ``partial`` and ``unseen`` in that order, where the reference keeps them."""
    labels = np.asarray(dataset.labels)
    queries = np.concatenate([partial, unseen])  # one pass over all three sets, one search a space
    # D_f's class mix exactly (no shrinkage toward the pool: agreement differs by class far more than accuracy
    # does, e.g. Fashion-MNIST's coats in pixel space); the SE counts the cost
    w_c = target_weights(labels[unseen], labels[partial], dataset.num_classes, 0.0)
    n = o.label_screen
    screen = n is not None and (len(partial) > n or len(unseen) > n)
    if screen:  # positions in partial / unseen; its own generator, so the reference's other subsamples stay put
        gen = np.random.default_rng([o.seed, 1])
        s_f = np.sort(gen.permutation(len(partial))[:n])
        s_u = np.sort(gen.permutation(len(unseen))[:n])
        w_s = target_weights(labels[unseen[s_u]], labels[partial], dataset.num_classes, 0.0)
    found = []  # (share or None, agreement on D_f, on held-out) per space
    for e in embeddings(original, dataset, np.concatenate([retain, queries]), device, inputs):
        e_r, e_f, e_u = e[: len(retain)], e[len(retain) : len(retain) + len(partial)], e[len(retain) + len(partial) :]
        if screen:
            agree_f, agree_u = (
                neighbour_agreement(e_r, labels[retain], x, labels[idx], o.label_neighbours)
                for x, idx in ((e_f[s_f], partial[s_f]), (e_u[s_u], unseen[s_u]))
            )
            if clearly_clean(agree_f, agree_u, w_s, o.label_gap):
                found.append((None, *agreement_means(agree_f, agree_u, w_s)[:2]))
                continue
        agree = neighbour_agreement(e_r, labels[retain], e[len(retain) :], labels[queries], o.label_neighbours)
        agree_f, agree_u = agree[: len(partial)], agree[len(partial) :]
        a_f, a_u = float(np.mean(agree_f)), float(np.sum(w_c * agree_u))  # (w_c sums to 1; one sample has no SE)
        found.append((label_share(agree_f, agree_u, w_c, o.label_gap), a_f, a_u))
    # the space where D_f looks least like held-out data (a memorised poison shows less in features)
    _, a_f, a_u = min(found, key=lambda t: t[1] / max(t[2], 1e-12))
    fired = [t[0] for t in found if t[0] is not None]
    return (min(fired) if fired else None), a_f, a_u
