"""Class structure of a forget request, shared by weightings and metrics: head / mid / tail thirds of
the classes ranked by forget count (FaLW's grouping, Yu et al., ICLR 2026)."""

from __future__ import annotations

import numpy as np

GROUPS = ("head", "mid", "tail")


def class_thirds(counts) -> np.ndarray:
    """Group id per class: 0 head, 1 mid, 2 tail, −1 for classes with no forget sample.

    Classes with N_{f,c} > 0 are ranked by forget count, largest first (ties broken by class index,
    so the grouping is deterministic), and cut into thirds with ``np.array_split`` (the head gets
    the remainder: 10 classes → 4 / 3 / 3). Fewer than 3 present classes → every class −1.
    """
    counts = np.asarray(counts, dtype=np.int64)
    groups = np.full(len(counts), -1, dtype=np.int64)
    present = np.flatnonzero(counts > 0)
    if len(present) < 3:
        return groups
    ranked = present[np.argsort(-counts[present], kind="stable")]
    for g, members in enumerate(np.array_split(ranked, 3)):
        groups[members] = g
    return groups
