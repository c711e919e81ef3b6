"""Small test doubles shared by test modules."""

from __future__ import annotations

from unlearnkit.eval.base import Need


class ListSource:
    """A ModelSource over models already trained: ``retrained(k)`` = the first k; an optional unlearn."""

    def __init__(self, retrained, unlearn=None):
        self._retrained, self._unlearn = list(retrained), unlearn

    def provides(self, need):
        return need is not Need.UNLEARN or self._unlearn is not None

    def retrained(self, k):
        return self._retrained[:k]

    def trained(self, indices, seed):
        raise NotImplementedError

    def trained_many(self, sets, seeds):
        raise NotImplementedError

    def unlearn(self, model, split, seed):
        return self._unlearn(model, split, seed)

    def map(self, fn, items):
        return [fn(x) for x in items]
