"""MLGATE_LEDGER_SYNC's building block: ``Ledger.committed`` waits for one row, concurrent rows share commits."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mlgate.state.db import LedgerRow, StateDB
from mlgate.state.ledger import Ledger

pytestmark = pytest.mark.anyio


async def test_every_waiter_returns_after_its_row_is_committed_and_commits_are_shared(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    ledger = Ledger(db, flush_interval=0.5)  # a long gathering window: committed() must not wait for it
    done: list[int] = []

    async def call(i: int) -> None:
        seq = ledger.append(LedgerRow(tool="ml_predict", outcome="ok", model_ref=f"m@{i}"))
        await ledger.committed(seq)
        done.append(i)
        assert any(r.model_ref == f"m@{i}" for r in db.tail(500))

    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for i in range(200):
                    tg.start_soon(call, i)
        assert sorted(done) == list(range(200))
        assert ledger.stats()["batches"] < 200  # group commit
        await ledger.committed(0)  # already written: returns at once
    finally:
        ledger.close()
