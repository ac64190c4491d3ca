"""The audit ledger writer: calls append rows without waiting for the disk.

``Ledger(db)`` is the one ``BatchWriter`` (``state/batch.py``: group commit, back-off, fail
closed after ``MLGATE_LEDGER_FAIL_AFTER_S``) writing ``LedgerRow``s with ``StateDB.append_many``.
``append`` returns the row's sequence number; ``await committed(seq)`` returns once it is
committed; ``check`` raises ``Unavailable`` while the ledger is stalled, so a call that could not
leave its row does nothing; ``health()`` says why, for ``/healthz``. After ``close`` a row is
written at once.
"""

from __future__ import annotations

from mlgate.state.batch import BatchWriter
from mlgate.state.db import LedgerRow, StateDB

_HINT = "an operator must check the state database (MLGATE_STATE_URL) and its disk; retry later"


class Ledger(BatchWriter[LedgerRow]):
    def __init__(
        self,
        db: StateDB,
        *,
        flush_interval: float = 0.05,
        max_batch: int = 500,
        max_pending: int = 100_000,
        fail_after_s: float = 3.0,
    ) -> None:
        self.db = db
        super().__init__(
            db.append_many,
            what="the audit ledger",
            hint=_HINT,
            thread="mlgate-ledger",
            flush_interval=flush_interval,
            max_batch=max_batch,
            max_pending=max_pending,
            fail_after_s=fail_after_s,
        )
