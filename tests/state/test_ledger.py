"""The buffered ledger writer against real SQLite files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from mlgate.errors import Unavailable
from mlgate.state.db import LedgerRow, StateDB
from mlgate.state.ledger import Ledger
from tests._support import wait_until


def row(subject: str = "local", i: int = 0) -> LedgerRow:
    return LedgerRow(tool="ml_predict", outcome="ok", subject=subject, duration_ms=float(i))


class FlakyDB(StateDB):
    """A real StateDB whose writes fail while ``broken`` is set (a disk or lock problem)."""

    def __init__(self, url: str, failures: int = 0) -> None:
        super().__init__(url)
        self.failures = failures
        self.broken = threading.Event()

    def append_many(self, rows: Iterable[LedgerRow]) -> None:
        if self.broken.is_set() or self.failures > 0:
            self.failures -= 1
            raise OSError("disk I/O error")
        super().append_many(rows)


@pytest.mark.anyio
async def test_flush_writes_everything_in_few_batches(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    ledger = Ledger(db)
    for i in range(2000):
        ledger.append(row(i=i))
    await ledger.flush()
    assert db.count() == 2000
    stats = ledger.stats()
    assert stats["written"] == 2000 and stats["pending"] == 0
    assert stats["batches"] < 2000  # rows were grouped, not written one by one
    assert [r.duration_ms for r in db.tail(3)] == [1997.0, 1998.0, 1999.0]
    ledger.close()
    db.close()


def test_rows_land_without_an_explicit_flush(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    ledger = Ledger(db, flush_interval=0.01)
    ledger.append(row())
    wait_until(lambda: db.count() > 0, 5, what="the row landed")
    assert db.count() == 1
    ledger.close()
    db.close()


def test_close_writes_what_is_buffered_and_later_rows_write_through(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    ledger = Ledger(db, flush_interval=10.0)  # nothing would be written before close
    for i in range(300):
        ledger.append(row(i=i))
    ledger.close()
    assert db.count() == 300
    ledger.close()  # idempotent
    ledger.append(row("late"))
    assert db.tail(1)[0].subject == "late"
    db.close()


def test_a_failing_write_is_retried(tmp_path: Path) -> None:
    db = FlakyDB(f"sqlite:///{tmp_path / 'state.db'}", failures=2)
    ledger = Ledger(db)
    for i in range(10):
        ledger.append(row(i=i))
    assert ledger.flush_blocking(timeout=30)
    assert db.count() == 10
    assert ledger.stats()["write_failures"] == 2
    ledger.close()
    db.close()


def test_an_unwritable_ledger_refuses_instead_of_growing(tmp_path: Path) -> None:
    db = FlakyDB(f"sqlite:///{tmp_path / 'state.db'}")
    db.broken.set()
    ledger = Ledger(db, max_batch=1, max_pending=5)
    with pytest.raises(Unavailable, match="audit ledger"):
        for i in range(100):
            ledger.append(row(i=i))
    db.broken.clear()  # repaired: everything accepted is written
    ledger.close()
    assert db.count() == ledger.stats()["written"] >= 5
    assert ledger.stats()["dropped"] == 0
    db.close()


def test_two_processes_append_through_ledgers_at_once(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'state.db'}"
    StateDB(target).close()
    code = """
        import sys
        from mlgate.state.db import LedgerRow, StateDB
        from mlgate.state.ledger import Ledger
        db = StateDB(sys.argv[1])
        ledger = Ledger(db, flush_interval=0.005)
        print("ready", flush=True)
        sys.stdin.readline()  # both processes start appending at the same moment
        for i in range(1500):
            ledger.append(LedgerRow(tool="ml_predict", outcome="ok", subject="other", duration_ms=i))
            if i % 100 == 0:
                db.halt("other", f"halt {i}", "other")
        ledger.close()
        db.close()
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), target],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    db = StateDB(target)
    ledger = Ledger(db, flush_interval=0.005)
    # the child imports for a second: without this the two loops would run one after the other
    assert proc.stdout.readline() == "ready\n", proc.communicate(timeout=60)[1]
    proc.stdin.write("go\n")
    proc.stdin.flush()
    for i in range(1500):
        ledger.append(row("here", i))
        if i % 100 == 0:
            db.halt("here", f"halt {i}", "here")
    ledger.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    rows = db.tail(10_000)
    assert len(rows) == 3000
    for subject in ("here", "other"):
        assert [r.duration_ms for r in rows if r.subject == subject] == [float(i) for i in range(1500)]
    assert {(h.scope, h.reason) for h in db.active_halts()} == {("here", "halt 1400"), ("other", "halt 1400")}
    db.close()
