"""The ledger fails closed: a locked database refuses calls within seconds, and a SIGKILL loses no reported row."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import anyio
import pytest

from mlgate.errors import Unavailable
from mlgate.state.batch import BatchWriter
from mlgate.state.db import LedgerRow, StateDB
from mlgate.state.ledger import Ledger
from tests._support import await_until


def row(ref: str) -> LedgerRow:
    return LedgerRow(tool="ml_promote", outcome="ok", model_ref=ref)


def lock(path: Path) -> sqlite3.Connection:
    """Another connection holding the write lock of the database (what a stuck writer looks like)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


@pytest.mark.anyio
async def test_a_locked_database_refuses_calls_within_the_limit_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = StateDB(f"sqlite:///{path}")
    ledger = Ledger(db, flush_interval=0.01, fail_after_s=0.5)
    try:
        await ledger.committed(ledger.append(row("before")))
        assert ledger.healthy() and ledger.health() == {"ok": True, "reason": None, "pending": 0}
        locker = lock(path)
        t0 = time.monotonic()
        seq = ledger.append(row("during"))  # accepted: the stall has not lasted fail_after_s yet
        with anyio.fail_after(5), pytest.raises(Unavailable, match="audit ledger cannot be written since"):
            await ledger.committed(seq)  # fails instead of waiting for the lock (busy timeout 30 s)
        assert time.monotonic() - t0 >= 0.5
        health = ledger.health()
        assert health["ok"] is False and "serving is refused until it can" in health["reason"]
        with pytest.raises(Unavailable, match="serving is refused until it can"):
            ledger.append(row("refused"))
        with pytest.raises(Unavailable):
            ledger.check()
        locker.execute("ROLLBACK")
        locker.close()
        await await_until(ledger.healthy, every=0.02, what="the ledger recovers")
        await ledger.committed(ledger.append(row("after")))
        refs = [r.model_ref for r in db.tail(10)]
        assert refs == ["before", "during", "after"]  # the refused row never entered
    finally:
        ledger.close()
        db.close()


@pytest.mark.anyio
async def test_a_database_that_raises_also_stalls_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = StateDB(f"sqlite:///{path}")
    ledger = Ledger(db, flush_interval=0.01, fail_after_s=0.3)
    try:
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE ledger")  # every insert now fails at once
        seq = ledger.append(row("lost"))
        with anyio.fail_after(5), pytest.raises(Unavailable, match="last error: OperationalError"):
            await ledger.committed(seq)
        assert ledger.stats()["healthy"] is False and ledger.stats()["write_failures"] > 0
    finally:
        StateDB(f"sqlite:///{path}").close()  # recreate the table so close can write what is waiting
        ledger.close()
        db.close()


CALLER = """
    import asyncio, sys
    from mlgate.errors import Unavailable
    from mlgate.state.db import LedgerRow, StateDB
    from mlgate.state.ledger import Ledger

    async def main() -> None:
        # a long gathering window: a row that was only queued would still be in memory at the kill
        ledger = Ledger(StateDB(sys.argv[1]), flush_interval=2.0, fail_after_s=0.3)
        i = 0
        while True:
            i += 1
            try:
                seq = ledger.append(LedgerRow(tool="ml_promote", outcome="ok", model_ref=f"call-{i}"))
                await ledger.committed(seq)
            except Unavailable:
                print(f"refused {i}", flush=True)
                await asyncio.sleep(0.05)  # a client's back-off before it retries (nobody waits on it)
                continue
            print(f"ok {i}", flush=True)  # what the client saw: a successful answer

    asyncio.run(main())
"""


def test_every_call_that_reported_success_has_its_row_after_a_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    url = f"sqlite:///{path}"
    StateDB(url).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CALLER), url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    reported: list[str] = []
    refused = 0
    locker: sqlite3.Connection | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "the caller process died"
            word, i = line.split()
            if word == "ok":
                reported.append(f"call-{i}")
            else:
                refused += 1
            if len(reported) == 40 and locker is None:
                locker = lock(path)  # the database goes away under load
            if refused >= 5:
                break
        assert locker is not None and refused >= 5, "a locked ledger kept answering successfully"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        if locker is not None:
            locker.execute("ROLLBACK")
            locker.close()
    db = StateDB(url)
    stored = {r.model_ref for r in db.tail(100_000)}
    db.close()
    missing = [ref for ref in reported if ref not in stored]
    assert not missing, f"{len(missing)} calls answered successfully but left no row: {missing[:5]}"
    assert len(reported) >= 40


class Log:
    """A batch writer's target: fails while ``failing``, blocks while ``hang`` is set (a stalled database)."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.failing = False
        self.hang = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, rows: list[str]) -> None:
        if self.hang.is_set():
            self.entered.set()
            self.release.wait(30)
        if self.failing:
            raise RuntimeError("refused")
        self.rows.extend(rows)


def late_writer(log: Log, now: list[float]) -> BatchWriter[str]:
    """A writer that gathers for a minute unless asked to commit, on a clock the test moves: rows left
    waiting look like a writer thread starved in a saturated process."""
    return BatchWriter(
        log.write, what="the test log", hint="retry", thread="test-log", flush_interval=60.0,
        fail_after_s=1.0, clock=lambda: now[0],
    )  # fmt: skip


@pytest.mark.anyio
async def test_a_late_writer_is_waited_for_not_refused(tmp_path: Path) -> None:
    """Rows waiting past the limit while no write failed: ``ready`` asks for the commit and waits for it;
    ``check`` alone would refuse a call whose row the database takes at once."""
    log, now = Log(), [0.0]
    writer = late_writer(log, now)
    try:
        writer.append("a")
        now[0] += 600.0
        with pytest.raises(Unavailable, match="the test log cannot be written since"):
            writer.check()
        with anyio.fail_after(5):  # far less than the gathering minute: the caller asked for the commit
            await writer.ready()
        assert log.rows == ["a"] and writer.healthy()
    finally:
        writer.close()


@pytest.mark.anyio
async def test_a_failed_or_hanging_write_refuses_at_once(tmp_path: Path) -> None:
    """Waiting is only for a late writer: after a failed write, or with a write hanging past the limit,
    ``ready`` refuses at once (not after a wait)."""
    log, now = Log(), [0.0]
    writer = late_writer(log, now)
    try:
        log.failing = True
        writer.append("a")
        assert not await anyio.to_thread.run_sync(writer.flush_blocking, 0.2)  # the write was tried, failed
        now[0] += 600.0
        with anyio.fail_after(0.5), pytest.raises(Unavailable, match="last error: RuntimeError"):
            await writer.ready()
        log.failing = False
        await await_until(writer.healthy, every=0.02, what="the retried write lands")
        log.hang.set()
        writer.append("b")
        assert not await anyio.to_thread.run_sync(writer.flush_blocking, 0.01)
        await anyio.to_thread.run_sync(log.entered.wait, 5)
        now[0] += 600.0  # the write has hung for ten minutes
        with anyio.fail_after(0.5), pytest.raises(Unavailable, match="the database does not answer"):
            await writer.ready()
    finally:
        log.failing = False
        log.release.set()
        writer.close()
    assert log.rows == ["a", "b"]
