"""A bounded memory of computed values, emptied all at once when full.

Cheaper than keeping an order (an LRU): the values are quick to compute again, and what
is asked often is back in the memory after a few asks.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def remember(memory: dict[K, V], key: K, value: V, limit: int) -> V:
    """Keep `value` under `key` (emptying the memory first if it holds `limit` values)
    and return it."""
    if len(memory) >= limit:
        memory.clear()
    memory[key] = value
    return value
