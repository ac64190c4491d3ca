"""Dynamic batching: concurrent requests to one model coalesce into one model call.

One ``Batcher`` per loaded model. ``await submit(rows)`` queues the (already
validated) rows; requests that arrive together are stacked with ``np.vstack``,
the model is called once in a worker thread, and the outputs are split back in
order. There is no background task: the request at the head of the queue is the
*leader*. It waits until its own arrival + ``max_wait_ms`` (or until
``max_batch_size`` rows are queued), takes a batch, runs it, and hands leadership
to the next queued request. One model call per batcher is in flight at a time;
requests arriving meanwhile queue up and form the next batch. ``max_wait_ms=0``
gives greedy batching (no waiting; batches form only while the model is busy).

Safety:
- a full queue (``max_queue`` requests) refuses at once with ``Overloaded``;
- ``admit()`` (the kill switch check) runs before every batch: a refusal fails
  every queued request with that error, so nothing waiting reaches the model
  after a halt (the executor checks once more after the call, so nothing
  computed across a halt is delivered);
- if a batched call raises, each request of the batch is re-run alone, so one
  bad request fails alone with ``BackendError`` and its neighbours are answered.

Models whose one-row call costs microseconds (ONNX Runtime) lose by batching:
``should_batch(measure_call_cost(call, row))`` decides at load time.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import numpy as np

from mlgate.errors import BackendError, InvalidInput, MlgateError, Overloaded

Outputs = Sequence[Any] | np.ndarray  # one output per input row
ModelCall = Callable[[np.ndarray], Outputs]
BATCH_THRESHOLD_S = 200e-6  # one call cheaper than this is not worth batching


def should_batch(call_cost_s: float, threshold_s: float = BATCH_THRESHOLD_S) -> bool:
    """Batch a model only when one call costs at least ``threshold_s`` (~200 µs)."""
    return call_cost_s >= threshold_s


def measure_call_cost(call: Callable[[np.ndarray], Any], rows: np.ndarray, repeats: int = 7) -> float:
    """The median seconds of ``call(rows)`` after one warm-up call (use a single row)."""
    call(rows)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call(rows)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _fresh(exc: BaseException) -> BaseException:
    """A copy of ``exc`` to raise in another task (one instance raised twice mixes tracebacks)."""
    try:
        return copy.copy(exc)
    except Exception:
        return exc


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    p50, p99 = np.percentile(np.asarray(values), [50, 99])
    return {"p50": round(float(p50), 3), "p99": round(float(p99), 3)}


@dataclass(eq=False)
class _Request:
    rows: np.ndarray
    t0: float
    event: anyio.Event = field(default_factory=anyio.Event)
    result: Sequence[Any] | None = None
    error: BaseException | None = None
    done: bool = False

    def finish(self, error: BaseException | None = None) -> None:
        if error is not None:
            self.error, self.result = error, None
        elif self.result is None and self.error is None:
            self.error = BackendError("the batch ended without an answer", "retry the call")
        self.done = True
        self.event.set()


class Batcher:
    """Coalesces concurrent ``submit`` calls into batched model calls (one event loop only)."""

    def __init__(
        self,
        call: ModelCall,
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 2.0,
        max_queue: int = 1024,
        admit: Callable[[], Awaitable[None]] | None = None,
        name: str = "the model",
    ) -> None:
        self.call = call
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait = max(0.0, max_wait_ms) / 1000
        self.max_queue = max_queue
        self.admit = admit
        self.name = name
        self._queue: deque[_Request] = deque()
        self._queued_rows = 0
        self._leader: _Request | None = None
        self._filled: anyio.Event | None = None
        self._batches = self._requests = self._rows = self._max_seen = 0
        self._overloaded = self._refused = self._failed = self._isolations = 0
        self._call_ms: deque[float] = deque(maxlen=1000)
        self._latency_ms: deque[float] = deque(maxlen=1000)

    async def submit(self, rows: np.ndarray) -> Sequence[Any]:
        """Run ``rows`` (shape ``(k, n_features)``) through the model; one output per row, in order (a slice
        of what the model call returned: a list, or a sequence that slices itself, ``execution.Classified``)."""
        if not isinstance(rows, np.ndarray) or rows.ndim != 2:
            raise InvalidInput("rows must be a 2-D array (rows × features)", "validate the input first")
        if rows.shape[0] == 0:
            return []
        if len(self._queue) >= self.max_queue:
            self._overloaded += 1
            raise Overloaded(
                f"{self.name} is overloaded: {len(self._queue)} requests are already waiting",
                "retry in a moment",
            )
        req = _Request(rows, time.perf_counter())
        self._queue.append(req)
        self._queued_rows += rows.shape[0]
        if self._leader is None:
            self._leader = req
        else:
            if self._filled is not None and self._queued_rows >= self.max_batch_size:
                self._filled.set()
            try:
                await req.event.wait()
            except BaseException:
                self._abandon(req)
                raise
        if not req.done:  # promoted to leader (or leader from the start)
            await self._lead(req)
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def stats(self) -> dict[str, Any]:
        return {
            "queue_depth": len(self._queue),
            "batches": self._batches,
            "requests": self._requests,
            "rows": self._rows,
            "mean_batch_size": round(self._rows / self._batches, 2) if self._batches else 0.0,
            "max_batch_size_seen": self._max_seen,
            "overloaded": self._overloaded,
            "refused": self._refused,
            "failed": self._failed,
            "isolated_retries": self._isolations,
            "call_ms": _percentiles(self._call_ms),
            "latency_ms": _percentiles(self._latency_ms),
        }

    # -- leadership -------------------------------------------------------------------
    async def _lead(self, req: _Request) -> None:
        try:
            await self._gather()
            batch = await self._take()
            if batch:
                await self._run(batch)
        finally:
            if not req.done:  # cancelled before its batch ran
                self._remove(req)
            self._leader = None
            self._promote()

    def _promote(self) -> None:
        if self._leader is None and self._queue:
            self._leader = self._queue[0]
            self._leader.event.set()  # wakes it with done=False: it leads

    def _remove(self, req: _Request) -> None:
        try:
            self._queue.remove(req)
            self._queued_rows -= req.rows.shape[0]
        except ValueError:
            pass

    def _abandon(self, req: _Request) -> None:
        """A waiting request was cancelled: drop it, and pass on leadership if it had it."""
        if not req.done:
            self._remove(req)
        if self._leader is req:
            self._leader = None
            self._promote()

    async def _gather(self) -> None:
        if not self._queue or self.max_wait <= 0:
            return
        deadline = self._queue[0].t0 + self.max_wait
        while self._queued_rows < self.max_batch_size:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._filled = anyio.Event()
            try:
                with anyio.move_on_after(remaining):
                    await self._filled.wait()
            finally:
                self._filled = None

    async def _take(self) -> list[_Request]:
        if self.admit is not None:
            try:
                await self.admit()
            except Exception as exc:  # e.g. a halt landed while these waited
                self._refused += len(self._queue)
                for waiting in self._queue:
                    waiting.finish(_fresh(exc))
                self._queue.clear()
                self._queued_rows = 0
                return []
        batch: list[_Request] = []
        rows = 0
        while self._queue:
            n = self._queue[0].rows.shape[0]
            if batch and rows + n > self.max_batch_size:
                break
            batch.append(self._queue.popleft())
            rows += n
        self._queued_rows -= rows
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        failure: BaseException | None = None
        try:
            await anyio.to_thread.run_sync(self._execute, batch)
        except Exception as exc:  # not from the model (the thread catches those): fail the batch
            failure = BackendError(f"running a batch of {self.name} failed: {exc}", "retry the call")
        finally:
            now = time.perf_counter()
            for req in batch:
                req.finish(_fresh(failure) if failure is not None else None)
                self._latency_ms.append((now - req.t0) * 1000)
                if req.error is not None and failure is None:
                    self._failed += 1
            n = sum(req.rows.shape[0] for req in batch)
            self._batches += 1
            self._requests += len(batch)
            self._rows += n
            self._max_seen = max(self._max_seen, n)

    # -- in the worker thread ------------------------------------------------------------
    def _execute(self, batch: list[_Request]) -> None:
        t0 = time.perf_counter()
        try:
            if len(batch) == 1:
                self._answer(batch[0])
                return
            try:
                outputs = self.call(np.vstack([req.rows for req in batch]))
                self._split(batch, outputs)
            except Exception:
                self._isolations += 1
                for req in batch:  # find the request that broke the batch; answer the others
                    self._answer(req)
        finally:
            self._call_ms.append((time.perf_counter() - t0) * 1000)

    def _answer(self, req: _Request) -> None:
        try:
            self._split([req], self.call(req.rows))
        except MlgateError as exc:
            req.error = exc
        except Exception as exc:
            req.error = BackendError(
                f"{self.name} failed on this input: {type(exc).__name__}: {exc}",
                "check the input values against ml_model_info; other requests were not affected",
            )

    def _split(self, batch: list[_Request], outputs: Outputs) -> None:
        total = sum(req.rows.shape[0] for req in batch)
        if len(outputs) != total:
            raise ValueError(f"the model returned {len(outputs)} outputs for {total} rows")
        start = 0
        for req in batch:
            end = start + req.rows.shape[0]
            part = outputs if start == 0 and end == total else outputs[start:end]
            req.result = part if isinstance(part, Sequence) else list(part)  # an array: one item per row
            start = end
