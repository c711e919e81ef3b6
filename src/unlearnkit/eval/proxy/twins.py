"""``proxy.twin_check``: D_f samples with a near-copy of the same label in D_r, which a retrained model fits as it
fits D_r; the nearest same-label search all of D_r is searched for (shared with the shift check)."""

from __future__ import annotations

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


from .options import ProxyOptions
from .strata import target_weights

TWIN_DIMS = 32  # nearest_same_label's projection: inputs with more features are searched in this many
SMALL_SEARCH = 2**22  # nearest_same_label: below this many (query, D_r) pairs, one search for every class at once
BLOCK_ELEMENTS = 2**26  # nearest_same_label: input elements (float32) a block of D_r holds at most


def nearest_same_label(
    dataset, retain: np.ndarray, queries: np.ndarray, block: int = 4096, dims: int = TWIN_DIMS
) -> tuple[np.ndarray, np.ndarray]:
    """Per query sample, the Euclidean distance (flattened model-ready inputs) to a nearest D_r sample of its own
    label, and that sample's dataset index: ``inf`` and −1 where its class has none in ``retain``. One search a
    class over every D_r sample of it (no subsample: a twin must not be missed), in blocks of ``block`` samples
    (fewer where ``BLOCK_ELEMENTS`` would be exceeded; where all of D_r fits one block and there are at most
    ``SMALL_SEARCH`` pairs, one search over all of it, other labels masked: the same answer in fewer calls). Inputs
    of more than 2 × ``dims`` features are compared through a fixed seeded Gaussian projection to ``dims`` (a
    Johnson–Lindenstrauss sketch: distances kept to about ±12 %, at a 25th of the cost on 784-pixel images) and
    the distance returned is the exact one to the sample found that way: at least the nearest's, and equal to it
    wherever one sample is much nearer than the rest — what a twin is. Exact search below that size."""
    labels = np.asarray(dataset.labels)
    retain, queries = np.asarray(retain, np.int64), np.asarray(queries, np.int64)
    dist, nearest = np.full(len(queries), np.inf), np.full(len(queries), -1, np.int64)
    if len(queries) == 0:
        return dist, nearest
    y_r, y_q = labels[retain], labels[queries]
    width = math.prod(dataset.input_shape)
    proj = None
    if width > 2 * dims:
        gen = torch.Generator().manual_seed(width)
        proj = (torch.randn(width, dims, generator=gen) / math.sqrt(dims)).to(dataset.x.device)
    block = max(64, min(block, BLOCK_ELEMENTS // width))  # a block's inputs stay near 256 MiB however wide
    if len(retain) <= block and len(queries) * len(retain) <= SMALL_SEARCH:  # one masked search: fewer calls
        x_q = dataset.inputs(torch.as_tensor(queries)).flatten(1).float()
        x_r = dataset.inputs(torch.as_tensor(retain)).flatten(1).float()
        d = torch.cdist(x_q, x_r) if proj is None else torch.cdist(x_q @ proj, x_r @ proj)
        other = torch.as_tensor(y_q[:, None] != y_r[None, :], device=d.device)
        i = d.masked_fill_(other, float("inf")).argmin(1)
        found = torch.isfinite(d.gather(1, i[:, None])[:, 0]).cpu().numpy()
        exact = (x_q - x_r[i]).norm(dim=1).double().cpu().numpy()
        return np.where(found, exact, np.inf), np.where(found, retain[i.cpu().numpy()], -1)
    for c in np.unique(y_q):
        at, pool = np.flatnonzero(y_q == c), retain[y_r == c]
        if len(pool) == 0:
            continue
        x_q = dataset.inputs(torch.as_tensor(queries[at])).flatten(1).float()
        z_q = x_q if proj is None else x_q @ proj
        best_d = torch.full((len(at),), float("inf"), device=x_q.device)
        best_i = torch.zeros(len(at), dtype=torch.int64, device=x_q.device)
        for start in range(0, len(pool), block):
            x_r = dataset.inputs(torch.as_tensor(pool[start : start + block])).flatten(1).float()
            i = torch.cdist(z_q, x_r if proj is None else x_r @ proj).argmin(1)
            d = (x_q - x_r[i]).norm(dim=1)  # exactly: cdist's matrix product leaves ~1e-3 on an exact copy
            better = d < best_d
            best_d, best_i = torch.where(better, d, best_d), torch.where(better, i + start, best_i)
        dist[at], nearest[at] = best_d.double().cpu().numpy(), pool[best_i.cpu().numpy()]
    return dist, nearest


@dataclass
class Twins:
    """``twin_check``'s finding (:func:`find_twins`): which samples of D_f's partial part and of the held-out
    samples have a twin in D_r, and the D_r index of each D_f sample's nearest same-label sample."""

    forget: np.ndarray  # bool over D_f's partial part
    unseen: np.ndarray  # bool over the held-out samples
    nearest: np.ndarray  # per D_f partial sample: its nearest same-label D_r sample (dataset index; −1: none)
    threshold: float  # the twin distance, over the class's held-out median (scaled_distances)
    held_out_rate: float  # the held-out (screened) samples' twin rate, weighted to D_f's class mix


TWIN_ALPHA = 1e-3  # twin_check's test level, both for held-out data's twin rate bound and for D_f's excess


def twin_excess(k_f: int, n_f: int, rate: float, n_u: float, alpha: float = TWIN_ALPHA) -> bool:
    """Whether ``k_f`` twins among ``n_f`` D_f samples are more than held-out data's twin ``rate`` (from an
    effective ``n_u`` samples) could explain: P(Binomial(n_f, r) ≥ k_f) < ``alpha`` at r = the upper 1 − ``alpha``
    Clopper–Pearson bound of the held-out rate (so neither held-out samples that happened to have no twin nor
    D_f's own count fire it by chance: on digits, 144 held-out samples with none, 3 twins fire it, 2 do not)."""
    from scipy.stats import beta, binom

    if k_f == 0 or n_u <= 0:
        return False
    k_u = rate * n_u
    r = 1.0 if k_u >= n_u else float(beta.ppf(1.0 - alpha, k_u + 1, n_u - k_u))
    return bool(binom.sf(k_f - 1, n_f, r) < alpha)


def class_scales(d_ref: np.ndarray, y_ref: np.ndarray, num_classes: int) -> np.ndarray:
    """Per class, the median of ``d_ref`` over its reference samples (the pooled median where the class has fewer
    than 5): the scale :func:`scaled_distances` divides by. Classes differ in how near their samples lie to each
    other (Fashion-MNIST's trousers have near-identical neighbours a class of bags does not)."""
    finite = np.isfinite(d_ref)
    scale = np.full(num_classes, float(np.median(d_ref[finite])) if finite.any() else 0.0)
    for c in np.unique(y_ref[finite]):
        ref = d_ref[(y_ref == c) & finite]
        if len(ref) >= 5:
            scale[c] = float(np.median(ref))
    return scale


def scaled_distances(d: np.ndarray, y: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``d`` over its class's scale (:func:`class_scales`). Where that is 0 (most samples of the class have an exact
    copy: COMPAS's coarse rows) a distance of 0 scales to 0 and any other to inf."""
    scale = scales[np.asarray(y, np.int64)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = d / scale
    out[(scale == 0) & (d == 0)] = 0.0
    return np.where(np.isnan(out), np.inf, out)


@dataclass
class Distances:
    """Each D_f partial sample's and a seeded ``twin_screen`` of held-out samples' distance to their nearest
    same-label D_r sample (:func:`nearest_same_label`), what the twin check and the shift check read."""

    s_u: np.ndarray  # positions (in ``unseen``) of the screened held-out samples
    d_u: np.ndarray  # their distances
    d_f: np.ndarray  # D_f's partial part's distances
    nearest_f: np.ndarray  # … and the D_r index of each one's nearest (−1: none)
    scales: np.ndarray  # per class, the held-out median (:func:`class_scales`)


def nearest_distances(
    dataset, retain: np.ndarray, partial: np.ndarray, unseen: np.ndarray, o: ProxyOptions
) -> Distances | None:
    """:class:`Distances` over all of D_r (``retain``), or None where D_f has no partial part, there is no held-out
    sample, or no screened held-out sample has a same-label D_r sample."""
    if len(partial) == 0 or len(unseen) == 0:
        return None
    labels = np.asarray(dataset.labels)
    n = o.twin_screen
    s_u = np.arange(len(unseen))
    if n is not None and len(unseen) > n:
        s_u = np.sort(np.random.default_rng([o.seed, 2]).permutation(len(unseen))[:n])
    d_u, _ = nearest_same_label(dataset, retain, unseen[s_u])
    if not np.isfinite(d_u).any():
        return None
    d_f, nearest = nearest_same_label(dataset, retain, partial)
    return Distances(s_u, d_u, d_f, nearest, class_scales(d_u, labels[unseen[s_u]], dataset.num_classes))


def find_twins(
    dataset,
    retain: np.ndarray,
    partial: np.ndarray,
    unseen: np.ndarray,
    o: ProxyOptions,
    dist: Distances | None = None,
) -> Twins | None:
    """``twin_check``: D_f samples (of its partial part) with a twin in D_r — a D_r sample of the same label nearer
    than all but ``twin_quantile`` of the held-out samples (a seeded ``twin_screen`` of them) are to their nearest
    same-label D_r sample, distances scaled by their class's held-out median (:func:`class_scales`) — or None
    where D_f has no more twins than held-out samples of its classes (weighted to D_f's class mix) could explain
    (:func:`twin_excess`; data with many exact duplicates, COMPAS's coarse rows, has them at the same rate in
    both) or no distances could be read. ``dist``: :func:`nearest_distances`' (searched here where not given).
    ``retain`` is all of D_r."""
    dist = dist or nearest_distances(dataset, retain, partial, unseen, o)
    if dist is None:
        return None
    labels = np.asarray(dataset.labels)
    s_u, scales = dist.s_u, dist.scales
    y_s = labels[unseen[s_u]]
    r_u = scaled_distances(dist.d_u, y_s, scales)
    t = float(np.quantile(r_u[np.isfinite(r_u)], o.twin_quantile)) if np.isfinite(r_u).any() else 0.0
    near_f = scaled_distances(dist.d_f, labels[partial], scales) <= t
    w = target_weights(y_s, labels[partial], dataset.num_classes, 0.0)  # held-out data of D_f's class mix
    rate = float(np.sum(w * (r_u <= t)))
    if not twin_excess(int(near_f.sum()), len(partial), rate, 1.0 / float(np.sum(w**2))):
        return None
    near_u = np.zeros(len(unseen), bool)
    near_u[s_u] = r_u <= t
    rest = np.setdiff1d(np.arange(len(unseen)), s_u)
    if len(rest):
        d_rest = nearest_same_label(dataset, retain, unseen[rest])[0]
        near_u[rest] = scaled_distances(d_rest, labels[unseen[rest]], scales) <= t
    return Twins(near_f, near_u, np.where(near_f, dist.nearest_f, -1), t, rate)
