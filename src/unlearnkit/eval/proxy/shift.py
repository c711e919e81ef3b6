"""``proxy.shift_check``: whether the held-out data is drawn like D_f, read off the twin search's distances."""

from __future__ import annotations

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


from .options import ProxyOptions
from .twins import Distances, scaled_distances


@dataclass
class Shift:
    """``shift_check``'s reading (:func:`distance_shift`): the median of D_f's partial part's nearest same-label D_r
    distances over their class's held-out median (1 where held-out data is drawn like D_f), the two-sided
    Mann–Whitney p-value of those scaled distances against the held-out samples' own, and whether both say the
    held-out data is not drawn like the training data."""

    ratio: float
    p: float
    shifted: bool


def distance_shift(
    dataset,
    partial: np.ndarray,
    unseen: np.ndarray,
    dist: Distances | None,
    o: ProxyOptions,
    twins: np.ndarray | None = None,
) -> Shift | None:
    """``shift_check``: D_f's partial part and held-out data are both outside D_r, so where both are drawn like the
    training data their distances to the nearest same-label D_r sample, scaled per class by the held-out median,
    have the same distribution (median 1). Held-out data drawn otherwise — the most atypical samples, a later
    period, another source — lies farther (or nearer), and its accuracy and confidence, which the proxy's targets
    for D_f are, are not what a retrained model shows on D_f. Shifted where the median of D_f's scaled distances
    over the held-out samples' (the ratio) is below ``shift_ratio`` or above its inverse and a Mann–Whitney test
    rejects equal distributions at
    ``shift_alpha``. Exact copies (distance 0: the twin check's business) are left out, as are classes whose
    held-out median is 0 (most samples have an exact copy in D_r: COMPAS's coarse rows) and samples without a
    same-label D_r sample; None with fewer than 10 samples a side. ``twins``: a bool mask over ``partial`` of the
    samples the twin check found (a near-copy in D_r, its own business), left out too.

    It cannot tell which side was drawn otherwise: a request that picks unusual samples (the most atypical of their
    class: ratio 1.29–1.41 on digits and Fashion-MNIST) reads like held-out data of typical ones, and either way the held-out
    targets are not what a retrained model shows on D_f."""
    from scipy.stats import mannwhitneyu

    if dist is None:
        return None
    labels = np.asarray(dataset.labels)
    y_f, y_u = labels[partial], labels[unseen[dist.s_u]]
    own = np.ones(len(partial), bool) if twins is None else ~np.asarray(twins, bool)
    r_f = scaled_distances(dist.d_f, y_f, dist.scales)[(dist.scales[y_f] > 0) & (dist.d_f > 0) & own]
    r_u = scaled_distances(dist.d_u, y_u, dist.scales)[(dist.scales[y_u] > 0) & (dist.d_u > 0)]
    r_f, r_u = r_f[np.isfinite(r_f)], r_u[np.isfinite(r_u)]
    if len(r_f) < 10 or len(r_u) < 10:
        return None
    ratio = float(np.median(r_f) / np.median(r_u))  # ≈ median(r_f): r_u's is 1 but for the copies left out
    p = float(mannwhitneyu(r_f, r_u, alternative="two-sided").pvalue)
    far = ratio < o.shift_ratio or ratio > 1.0 / o.shift_ratio
    return Shift(ratio, p, bool(far and p < o.shift_alpha))
