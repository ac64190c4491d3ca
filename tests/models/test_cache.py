from __future__ import annotations

import anyio
import pytest

from mlgate.models.cache import ModelCache

pytestmark = pytest.mark.anyio


async def test_single_flight_loads_once_for_concurrent_first_calls() -> None:
    cache: ModelCache[str] = ModelCache(1000, len)
    loads = 0
    release = anyio.Event()

    async def loader() -> str:
        nonlocal loads
        loads += 1
        await release.wait()  # still loading while every other caller arrives
        return "model"

    results: list[str] = []

    async def one() -> None:
        results.append(await cache.get(("m", 1), loader))

    async with anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()  # all 25 inside cache.get
        release.set()
    assert loads == 1 and results == ["model"] * 25
    assert cache.stats().loads == 1


async def test_failed_load_is_not_cached_and_reaches_every_waiter() -> None:
    cache: ModelCache[str] = ModelCache(1000, len)
    attempts = 0
    release = anyio.Event()

    async def failing() -> str:
        nonlocal attempts
        attempts += 1
        await release.wait()
        raise ValueError("broken artifact")

    errors: list[str] = []

    async def one() -> None:
        try:
            await cache.get("k", failing)
        except ValueError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert errors == ["broken artifact"] * 5 and attempts == 1
    assert not cache.has("k")

    async def ok() -> str:
        return "fixed"

    assert await cache.get("k", ok) == "fixed"


async def test_lru_within_budget_and_has_never_loads() -> None:
    cache: ModelCache[str] = ModelCache(10, len)

    def value(v: str):  # type: ignore[no-untyped-def]
        async def load() -> str:
            return v

        return load

    await cache.get("a", value("aaaa"))
    await cache.get("b", value("bbbb"))
    assert cache.get_nowait("a") == "aaaa"  # a is now most recent
    await cache.get("c", value("cccc"))  # 12 bytes > 10: evict least recent (b)
    assert cache.has("a") and cache.has("c") and not cache.has("b")
    assert not cache.has("zzz") and cache.stats().loads == 3
    assert cache.total_bytes == 8 and cache.stats().evictions == 1
