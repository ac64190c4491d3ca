"""The model cache: keyed by concrete version, single-flight, LRU within a memory budget.

* N concurrent first calls for one version run the loader once; all N get its result
  (or its error — a failed load is not cached, the next call tries again).
* ``has()`` never loads. ``get_nowait()`` is the hot path: a dict lookup and an LRU bump.
* When the sum of the entries' sizes passes the budget, the least recently used
  entries are dropped (never the one just loaded).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class CacheStats:
    entries: int
    bytes: int
    budget_bytes: int
    hits: int
    misses: int
    loads: int
    evictions: int


class ModelCache(Generic[T]):
    def __init__(self, budget_bytes: int, size_of: Callable[[T], int]) -> None:
        self._budget = budget_bytes
        self._size_of = size_of
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._inflight: dict[Hashable, asyncio.Future[T]] = {}
        self.hits = self.misses = self.loads = self.evictions = 0

    def has(self, key: Hashable) -> bool:
        return key in self._entries

    def get_nowait(self, key: Hashable) -> T | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        return value

    async def get(self, key: Hashable, loader: Callable[[], Awaitable[T]]) -> T:
        value = self.get_nowait(key)
        if value is not None:
            return value
        pending = self._inflight.get(key)
        if pending is not None:
            self.hits += 1
            return await asyncio.shield(pending)
        self.misses += 1
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            value = await loader()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: waiters re-raise it; nobody waiting is fine too
            raise
        else:
            self.loads += 1
            self._put(key, value)
            fut.set_result(value)
            return value
        finally:
            self._inflight.pop(key, None)

    def _put(self, key: Hashable, value: T) -> None:
        self._entries[key] = value
        self._sizes[key] = max(0, int(self._size_of(value)))
        while self.total_bytes > self._budget and len(self._entries) > 1:
            old, _ = self._entries.popitem(last=False)
            self._sizes.pop(old, None)
            self.evictions += 1

    def items(self) -> list[tuple[Hashable, T]]:
        return list(self._entries.items())

    @property
    def total_bytes(self) -> int:
        return sum(self._sizes.values())

    def stats(self) -> CacheStats:
        return CacheStats(
            len(self._entries),
            self.total_bytes,
            self._budget,
            self.hits,
            self.misses,
            self.loads,
            self.evictions,
        )
