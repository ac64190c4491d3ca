"""The one batch writer behind the audit ledger and prediction capture: group commit, fail closed.

``BatchWriter(write, what=…)`` keeps a buffer and one background **thread** (not an event-loop
task, so it works from sync code, from any event loop and across loops). The thread wakes when
a row arrives, gathers for up to ``flush_interval`` seconds (or until ``max_batch`` rows wait),
then hands the batch to ``write`` — one transaction. ``append``/``extend`` only take a lock.

Durability: ``await committed(seq)`` returns once the row numbered ``seq`` is committed, without a
thread per waiter (rows appended while one transaction is in flight share the next one);
``flush_blocking``/``flush`` wait for everything appended so far; ``close`` writes what is
buffered and stops the thread (also at a clean interpreter exit).

Failing closed: a batch the database refuses is retried with back-off. The writer is *stalled*
when rows wait and none has been committed for ``fail_after_s`` (``MLGATE_LEDGER_FAIL_AFTER_S``),
whether the database raises or blocks. While stalled, ``append``, ``extend`` and ``check`` raise
``Unavailable`` and ``committed`` stops waiting and raises: nothing answers successfully without
its rows. The first commit that lands ends the stall.

A late writer is not a failing database: in a saturated process the writer thread can be starved of
the GIL while the database would commit at once. So async callers use ``await ready()`` instead of
``check`` (and ``/healthz`` awaits ``settled`` first): when rows have waited for a third of the stall
limit and no write failed or hangs, it asks the writer to commit now and waits for that commit
(backpressure, at most one stall limit) before deciding.

``idle`` runs on the writer thread between batches, at least every ``idle_every`` seconds (capture
housekeeping).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import anyio

from mlgate.clock import iso_seconds
from mlgate.errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class BatchWriter(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], None],
        *,
        what: str,
        hint: str,
        thread: str,
        flush_interval: float = 0.05,
        max_batch: int = 500,
        max_pending: int = 100_000,
        fail_after_s: float = 3.0,
        idle: Callable[[], None] | None = None,
        idle_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.what, self.hint = what, hint  # "the audit ledger": the subject of every refusal's sentence
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.fail_after_s = fail_after_s
        self.clock = clock  # of the stall (a test moves it instead of sleeping)
        self._idle, self._idle_every = idle, idle_every
        self._buf: deque[T] = deque()
        self._cond = threading.Condition()
        self._appended = 0  # rows ever appended
        self._done = 0  # rows ever written (or given up on at close)
        self._written = 0
        self._dropped = 0
        self._batches = 0
        self._failures = 0
        self._urgent = False  # someone waits: write without gathering
        self._closing = False
        # the stall clock: since when rows have waited without a commit (monotonic, wall), None when idle
        self._stall: tuple[float, float] | None = None
        self._last_error: str | None = None
        self._writing_since: float | None = None  # of the write in progress
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[bool]]] = []
        self._thread = threading.Thread(target=self._run, name=thread, daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- the caller's side ------------------------------------------------------------
    def append(self, row: T) -> int:
        """Queue one row; never blocks on I/O. Returns its sequence number for ``committed``
        (0: the writer is closed and the row was written at once)."""
        return self.extend((row,))

    def extend(self, rows: Iterable[T]) -> int:
        """Queue rows; returns the last one's sequence number (see ``append``)."""
        with self._cond:
            if not self._closing:
                self.check()
                before = len(self._buf)
                if before >= self.max_pending:
                    raise Unavailable(
                        f"{self.what} cannot be written ({before} rows are waiting); "
                        "serving is refused until it can",
                        self.hint,
                    )
                self._buf.extend(rows)
                added = len(self._buf) - before
                if not added:
                    return self._appended
                if self._stall is None:
                    self._stall = (self.clock(), time.time())
                self._appended += added
                # wake the writer only when it waits for a first row or a batch has filled up: a wake-up per
                # row would hand the GIL to the writer on every call
                if before == 0 or len(self._buf) >= self.max_batch:
                    self._cond.notify()
                return self._appended
        self.write(list(rows))
        return 0

    async def committed(self, seq: int) -> None:
        """Return once row ``seq`` is committed; the writer skips its gathering wait.

        Raises ``Unavailable`` if the row could not be written, or as soon as the writer is stalled
        (no commit for ``fail_after_s``): it never waits on a locked database for ever."""
        if seq <= self._done:
            return
        fut = self._waiter(seq)
        while True:
            done, _ = await asyncio.wait({fut}, timeout=self._time_to_stall())
            if done:
                break
            reason = self.unhealthy_reason()
            if reason is not None:
                fut.cancel()  # the writer skips a cancelled waiter
                raise Unavailable(f"this call's rows are not committed: {reason}", self.hint)
        if not fut.result():
            raise Unavailable(f"{self.what} could not commit this call's rows; serving is refused until it can",
                              self.hint)  # fmt: skip

    async def ready(self) -> None:
        """``check`` for async callers, after ``settled``: a late writer is waited for, not refused."""
        await self.settled()
        self.check()

    async def settled(self) -> None:
        """Backpressure: rows waiting for a third of the stall limit while no write failed or hangs mean the
        writer thread is late (starved in a saturated process), not that the database fails — ask it to
        commit now and wait for that (at most one stall limit). At once otherwise (``/healthz`` asks too)."""
        stall = self._stall
        late = stall is not None and self.clock() - stall[0] > self._limit() / 3
        if late and self._last_error is None and not self._closing:  # closed: no writer to wait for
            writing = self._writing_since
            if writing is None or self.clock() - writing <= self._limit():  # not a write that hangs
                fut = self._waiter(self._appended)
                try:
                    await asyncio.wait({fut}, timeout=self._limit())
                finally:
                    fut.cancel()  # the writer skips a cancelled waiter

    def _waiter(self, seq: int) -> asyncio.Future[bool]:
        """A future the writer settles once row ``seq`` is committed; the writer skips its gathering wait."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        with self._cond:
            if seq > self._done:
                self._waiters.append((seq, loop, fut))
                self._urgent = True
                self._cond.notify_all()
            else:
                fut.set_result(True)
        return fut

    # -- health ---------------------------------------------------------------------------
    def unhealthy_reason(self) -> str | None:
        """Why calls are refused now (stalled for ``fail_after_s``), or None when healthy."""
        stall = self._stall
        if stall is None or self.clock() - stall[0] < self._limit():
            return None
        error = f"; last error: {self._last_error}" if self._last_error else "; the database does not answer"
        return (
            f"{self.what} cannot be written since {iso_seconds(stall[1])} "
            f"({self._appended - self._done} rows waiting{error}); serving is refused until it can"
        )

    def healthy(self) -> bool:
        return self.unhealthy_reason() is None

    def health(self) -> dict[str, Any]:
        """For ``/healthz``: ``{"ok": bool, "reason": str | None, "pending": int}`` (no paths, no URLs)."""
        reason = self.unhealthy_reason()
        return {"ok": reason is None, "reason": reason, "pending": self._appended - self._done}

    def check(self) -> None:
        """Raise ``Unavailable`` while stalled: call before a call does anything."""
        if self._stall is not None and (reason := self.unhealthy_reason()) is not None:
            raise Unavailable(reason, self.hint)

    def _limit(self) -> float:
        return self.fail_after_s + self.flush_interval  # a gathering wait is not a stall

    def _time_to_stall(self) -> float:
        stall = self._stall
        left = self._limit() if stall is None else self._limit() - (self.clock() - stall[0])
        return max(left, 0.02)

    def flush_blocking(self, timeout: float | None = None) -> bool:
        """Wait until every row appended so far is written; False on timeout."""
        with self._cond:
            target = self._appended
            self._urgent = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    async def flush(self) -> None:
        """Like ``flush_blocking``, from async code (the wait runs in a worker thread)."""
        await anyio.to_thread.run_sync(self.flush_blocking)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything buffered, then stop the writer thread. Idempotent."""
        atexit.unregister(self.close)
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("%s: %d rows still unwritten at close", self.what, len(self._buf))

    @property
    def pending(self) -> int:
        return len(self._buf)

    def stats(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy(),
            "pending": len(self._buf),
            "written": self._written,
            "dropped": self._dropped,
            "batches": self._batches,
            "write_failures": self._failures,
        }

    # -- the writer thread ---------------------------------------------------------------
    def _take(self) -> list[T] | None:
        """Wait for rows, gather a batch, take it (None: stop; empty: idle time)."""
        with self._cond:
            self._cond.wait_for(lambda: bool(self._buf) or self._closing, self._idle_every)
            if not self._buf:
                return None if self._closing else []
            self._cond.wait_for(
                lambda: self._urgent or self._closing or len(self._buf) >= self.max_batch,
                self.flush_interval,
            )
            n = min(len(self._buf), self.max_batch)
            batch = [self._buf.popleft() for _ in range(n)]
            if not self._buf:
                self._urgent = False
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            if batch:
                self._commit(batch)
            if self._idle is not None:
                try:
                    self._idle()
                except Exception:
                    log.exception("%s: housekeeping failed", self.what)

    def _commit(self, batch: list[T]) -> None:
        self._writing_since = self.clock()
        try:
            written = self._write(batch)
        finally:
            self._writing_since = None
        with self._cond:
            self._done += len(batch)
            self._stall = (self.clock(), time.time()) if self._appended > self._done else None
            if written:
                self._last_error = None
            self._written += len(batch) if written else 0
            self._dropped += 0 if written else len(batch)
            self._batches += 1
            self._cond.notify_all()
            ready = [w for w in self._waiters if w[0] <= self._done]
            if ready:
                self._waiters = [w for w in self._waiters if w[0] > self._done]
        for _, loop, fut in ready:
            with contextlib.suppress(RuntimeError):  # that event loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, fut, written)

    def _write(self, batch: list[T]) -> bool:
        """Write one batch, retrying with back-off; gives up only when closing and out of retries."""
        delay = 0.05
        give_up_at: float | None = None
        while True:
            try:
                self.write(batch)
                return True
            except Exception as exc:
                self._failures += 1
                self._last_error = type(exc).__name__  # the class only: /healthz is public
                log.exception("%s: writing %d rows failed; retrying in %.2fs", self.what, len(batch), delay)
            if self._closing:
                give_up_at = give_up_at or time.monotonic() + 5.0
                if time.monotonic() >= give_up_at:
                    log.error("%s: gave up on %d rows at close", self.what, len(batch))
                    return False
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _settle(fut: asyncio.Future[bool], written: bool) -> None:
    if not fut.done():
        fut.set_result(written)
