"""Dynamic batching with real callables (counted, not mocked) under real concurrency."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from mlgate.errors import BackendError, Halted, InvalidInput, Overloaded
from mlgate.serving.batcher import Batcher, measure_call_cost, should_batch
from mlgate.serving.killswitch import KillSwitch
from mlgate.state.db import StateDB
from tests._support import await_until


class Model:
    """Doubles each row's sum; counts its calls and the rows of each; refuses negative values."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[int] = []
        self.gate = gate
        self.entered = threading.Event()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        self.calls.append(len(x))
        if (x < 0).any():
            raise ValueError("negative values are not allowed")
        return np.asarray(x.sum(axis=1) * 2.0)


def rows(*values: float, width: int = 3) -> np.ndarray:
    return np.array([[v] * width for v in values], dtype=float)


async def wait_for(event: threading.Event) -> None:
    assert await anyio.to_thread.run_sync(event.wait, 5), "the model was not entered within 5 s"


async def settle(batcher: Batcher, depth: int) -> None:
    await await_until(lambda: batcher.stats()["queue_depth"] >= depth, 5, every=0.001, what=f"{depth} queued")


@pytest.mark.anyio
async def test_32_concurrent_requests_share_few_model_calls() -> None:
    model = Model()
    batcher = Batcher(model, max_batch_size=64, max_wait_ms=5)
    results: dict[int, Sequence[Any]] = {}

    async def one(i: int) -> None:
        results[i] = await batcher.submit(rows(i, i + 0.5))

    async with anyio.create_task_group() as tg:
        for i in range(32):
            tg.start_soon(one, i)
    assert len(model.calls) < 32 and sum(model.calls) == 64
    for i in range(32):
        assert results[i] == [i * 6.0, (i + 0.5) * 6.0]
    stats = batcher.stats()
    assert stats["batches"] == len(model.calls) and stats["requests"] == 32
    assert stats["max_batch_size_seen"] > 1 and stats["mean_batch_size"] > 2
    assert stats["queue_depth"] == 0 and stats["call_ms"]["p50"] is not None


@pytest.mark.anyio
async def test_batches_never_exceed_max_batch_size() -> None:
    model = Model()
    batcher = Batcher(model, max_batch_size=8, max_wait_ms=5)
    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(batcher.submit, rows(i))
    assert max(model.calls) <= 8 and sum(model.calls) == 40


@pytest.mark.anyio
async def test_greedy_mode_and_a_lone_request() -> None:
    model = Model()
    batcher = Batcher(model, max_wait_ms=0)
    assert await batcher.submit(rows(1, 2)) == [6.0, 12.0]
    assert await batcher.submit(np.zeros((0, 3))) == []
    with pytest.raises(InvalidInput):
        await batcher.submit(np.zeros(3))
    assert model.calls == [2]


@pytest.mark.anyio
async def test_a_bad_request_fails_alone() -> None:
    model = Model()
    batcher = Batcher(model, max_wait_ms=5, name="iris@3")
    outcomes: dict[int, Any] = {}

    async def one(i: int) -> None:
        try:
            outcomes[i] = await batcher.submit(rows(-1.0 if i == 5 else i))
        except BackendError as exc:
            outcomes[i] = exc

    async with anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(one, i)
    assert isinstance(outcomes[5], BackendError) and "iris@3" in str(outcomes[5])
    assert "negative values" in str(outcomes[5])
    for i in set(range(12)) - {5}:
        assert outcomes[i] == [i * 6.0]
    assert batcher.stats()["failed"] == 1 and batcher.stats()["isolated_retries"] >= 1
    assert await batcher.submit(rows(2)) == [12.0]  # the batcher keeps serving


@pytest.mark.anyio
async def test_a_model_returning_the_wrong_count_is_a_backend_error() -> None:
    batcher = Batcher(lambda x: [1.0], max_wait_ms=0)
    with pytest.raises(BackendError, match="1 outputs for 2 rows"):
        await batcher.submit(rows(1, 2))


@pytest.mark.anyio
async def test_a_full_queue_refuses_at_once() -> None:
    gate = threading.Event()
    model = Model(gate)
    batcher = Batcher(model, max_queue=4, max_wait_ms=0)
    results: list[Sequence[Any]] = []

    async def one(i: int) -> None:
        results.append(await batcher.submit(rows(i)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 0)
        await wait_for(model.entered)  # the first batch is running in its thread
        for i in range(1, 5):
            tg.start_soon(one, i)
        await settle(batcher, 4)
        with pytest.raises(Overloaded, match="retry in a moment"):
            await batcher.submit(rows(9))
        gate.set()
    assert sorted(r[0] for r in results) == [0.0, 6.0, 12.0, 18.0, 24.0]
    assert batcher.stats()["overloaded"] == 1


@pytest.mark.anyio
async def test_a_halt_refuses_running_and_waiting_requests(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    ks = KillSwitch(db, poll_interval=60)
    gate = threading.Event()
    model = Model(gate)
    batcher = Batcher(model, max_wait_ms=0, admit=lambda: ks.enforce("iris"))
    outcomes: list[Any] = []

    async def one(i: int) -> None:
        try:
            outcomes.append(await batcher.submit(rows(i)))
        except Halted as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 0)
        await wait_for(model.entered)
        for i in range(1, 6):
            tg.start_soon(one, i)
        await settle(batcher, 5)
        await anyio.to_thread.run_sync(ks.halt, "iris", "bad weights", "alice")
        gate.set()
    assert len(outcomes) == 6
    # the running call is delivered by the batcher (the executor refuses it after the call: test_halt_e2e);
    # the five that waited are refused with who and why, and never reach the model
    refused = [o for o in outcomes if isinstance(o, Halted)]
    assert len(refused) == 5 and all("bad weights" in str(o) and "alice" in str(o) for o in refused)
    assert model.calls == [1]
    with pytest.raises(Halted, match="bad weights"):
        await batcher.submit(rows(1))
    ks.resume("iris", "alice")
    assert await batcher.submit(rows(1)) == [6.0]
    ks.close()
    db.close()


@pytest.mark.anyio
async def test_cancelled_callers_do_not_stall_the_others() -> None:
    gate = threading.Event()
    model = Model(gate)
    batcher = Batcher(model, max_wait_ms=0)
    results: list[Sequence[Any]] = []

    async def one(i: int) -> None:
        results.append(await batcher.submit(rows(i)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 0)
        await wait_for(model.entered)
        with anyio.move_on_after(0.05):  # this caller gives up while queued
            await batcher.submit(rows(100))
        for i in range(1, 4):
            tg.start_soon(one, i)
        await settle(batcher, 3)
        gate.set()
    assert sorted(r[0] for r in results) == [0.0, 6.0, 12.0, 18.0]
    assert all(n != 100 for n in model.calls)


@pytest.mark.anyio
async def test_a_leader_cancelled_while_gathering_hands_over() -> None:
    model = Model()
    batcher = Batcher(model, max_wait_ms=300)
    results: list[Sequence[Any]] = []

    async def one(i: int) -> None:
        results.append(await batcher.submit(rows(i)))

    # the first caller leads, then gives up mid-wait
    async with anyio.create_task_group() as tg, anyio.create_task_group() as inner:
        inner.start_soon(one, 100)
        await settle(batcher, 1)
        tg.start_soon(one, 1)
        tg.start_soon(one, 2)
        await settle(batcher, 3)  # both wait behind the leader, well within its 300 ms
        inner.cancel_scope.cancel()
    assert sorted(r[0] for r in results) == [6.0, 12.0]
    assert sum(model.calls) == 2


def test_should_batch_follows_the_cost_of_one_call() -> None:
    assert not should_batch(5e-6)  # an ONNX Runtime session
    assert should_batch(3e-3)  # a scikit-learn random forest
    cost = measure_call_cost(Model(), rows(1.0))
    assert cost > 0
