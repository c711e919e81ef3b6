"""Small test doubles shared by test modules."""

from __future__ import annotations

from unlearnkit.sources import FixedSource as ListSource  # models already trained: retrained(k) = the first k

__all__ = ["ListSource"]
