"""Prediction capture on the hot path: which versions capture, ids for the caller, a background writer.

A version captures when its name matches a pattern in ``MLGATE_CAPTURE`` (``team-*``,
``*``) or it carries the version tag ``mlgate.capture=true``. ``add`` gives each record (a
forecast: the whole forecast) a fresh id, queues the rows and returns at once; the one batch
writer (``state/batch.py``, the audit ledger's) commits them on its thread, so an inference call
never waits for the disk. Inputs are kept only with ``MLGATE_CAPTURE_INPUTS``.

No id is handed out for a row that can be lost quietly:

- ``flush_blocking`` (called by ``ml_record_actuals`` before joining) and ``close`` (runtime
  shutdown, and ``atexit``) commit everything queued;
- a batch the database refuses is retried with back-off, and once rows have waited
  ``MLGATE_LEDGER_FAIL_AFTER_S`` without a commit, capturing calls are refused
  (``Unavailable``) until a commit lands — the same fail-closed rule as the ledger;
- with ``MLGATE_LEDGER_SYNC`` the call answers only after its rows are committed.

The writer also deletes rows older than ``MLGATE_CAPTURE_RETENTION_DAYS`` (at start, then
hourly) and re-reads the active quality alerts every ``ALERT_REFRESH_S`` (other replicas
raise them too); ``warnings`` serves them from memory to every inference result.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.errors import InvalidInput
from mlgate.state.batch import BatchWriter
from mlgate.state.captures import Capture, CaptureStore
from mlgate.state.db import StateDB

log = logging.getLogger(__name__)
TAG_CAPTURE = "mlgate.capture"
ALERT_REFRESH_S = 2.0
PURGE_EVERY_S = 3600.0
_HINT = "an operator must check the state database (MLGATE_STATE_URL); retry later"


class Captures:
    def __init__(
        self, settings: Settings, db: Callable[[], StateDB], *, flush_interval: float = 0.05
    ) -> None:
        self.settings = settings
        self._db = db
        self.flush_interval = flush_interval
        self._on: dict[tuple[str, int], bool] = {}
        self._alerts: dict[tuple[str, int], list[str]] = {}
        self._lock = threading.Lock()
        self._store: CaptureStore | None = None
        self._writer: BatchWriter[Capture] | None = None
        self._purged_at = 0.0
        self._refreshed_at = 0.0
        # ids: 64 random bits per process, then a counter (unique without a uuid4 per row, which costs more)
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count(1)

    # -- policy ---------------------------------------------------------------------------
    def enabled(self, info: VersionInfo) -> bool:
        found = self._on.get(info.key)
        if found is None:
            tag = str(info.tags.get(TAG_CAPTURE, "")).lower() in ("true", "1", "on", "yes")
            found = self._on[info.key] = tag or any(
                fnmatch.fnmatchcase(info.name, p) for p in self.settings.capture
            )
        return found

    def warnings(self, name: str, version: int) -> list[str]:
        return self._alerts.get((name, version), [])

    def set_alerts(self, name: str, version: int, messages: list[str]) -> None:
        alerts = dict(self._alerts)
        if messages:
            alerts[(name, version)] = messages
        else:
            alerts.pop((name, version), None)
        self._alerts = alerts

    # -- the store ------------------------------------------------------------------------
    @property
    def store(self) -> CaptureStore:
        """The capture tables, opened (and the writer started) on first use. Blocks: call from a thread."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    store = CaptureStore(self._db())
                    self._alerts = store.active_alerts()
                    self._refreshed_at = time.monotonic()
                    self._writer = BatchWriter(
                        store.insert_many, what="captured predictions", hint=_HINT, thread="mlgate-captures",
                        flush_interval=self.flush_interval, fail_after_s=self.settings.ledger_fail_after_s,
                        idle=self._housekeeping, idle_every=ALERT_REFRESH_S,
                    )  # fmt: skip
                    self._store = store
        return self._store

    async def opened(self) -> CaptureStore:
        return self._store if self._store is not None else await anyio.to_thread.run_sync(lambda: self.store)

    # -- the caller's side ----------------------------------------------------------------
    async def add(
        self,
        info: VersionInfo,
        kind: str,
        predictions: list[Any],
        inputs: list[Any] | None,
        keys: list[str] | None,
        subject: str | None = None,
    ) -> list[str]:
        """Queue one captured row per prediction, bound to the caller's ``subject``; returns their ids (never
        blocks on the disk unless ``MLGATE_LEDGER_SYNC``)."""
        if self._store is None:
            await self.opened()
        if self._writer is not None:
            await self._writer.ready()
        now = time.time()
        keep = inputs if self.settings.capture_inputs and inputs is not None else None
        prefix, count = self._prefix, self._count
        rows = [
            Capture(
                f"{prefix}{next(count):016x}", None if keys is None else keys[i], info.name, info.version,
                info.sha256, kind, now, p, None if keep is None else keep[i], subject,
            )
            for i, p in enumerate(predictions)
        ]  # fmt: skip
        if self.settings.ledger_sync:
            await anyio.to_thread.run_sync(self.store.insert_many, rows)
        else:
            assert self._writer is not None
            self._writer.extend(rows)
        return [r.id for r in rows]

    def check(self) -> None:
        """``Unavailable`` while captured rows wait unwritten for ``MLGATE_LEDGER_FAIL_AFTER_S``."""
        if self._writer is not None:
            self._writer.check()

    def flush_blocking(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row queued so far is committed; False on timeout."""
        return self._writer is None or self._writer.flush_blocking(timeout)

    def purge(self) -> int:
        """Delete rows older than the retention (``MLGATE_CAPTURE_RETENTION_DAYS``); returns how many."""
        self._purged_at = time.monotonic()
        return self.store.purge(time.time() - self.settings.capture_retention_days * 86400.0)

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything queued, then stop the writer. Idempotent."""
        if self._writer is not None:
            self._writer.close(timeout)

    def stats(self) -> dict[str, Any]:
        w = self._writer
        return {"pending": 0 if w is None else w.pending, "written": 0 if w is None else w.stats()["written"]}

    @property
    def written(self) -> int:
        return 0 if self._writer is None else int(self._writer.stats()["written"])

    def _housekeeping(self) -> None:
        """On the writer thread, between batches: re-read the alerts, purge old rows."""
        now = time.monotonic()
        if self._store is None:
            return
        if now - self._refreshed_at >= ALERT_REFRESH_S:
            self._refreshed_at = now
            self._alerts = self._store.active_alerts()
        if now - self._purged_at >= PURGE_EVERY_S or not self._purged_at:
            self.purge()


def check_keys(keys: list[str] | None, n: int) -> None:
    """Caller-supplied keys: one per record, each a short string."""
    if keys is None:
        return
    if not isinstance(keys, list) or len(keys) != n:
        raise InvalidInput(f"keys has {len(keys) if isinstance(keys, list) else 0} items for {n} records",
                           "send one key per record, or no keys")  # fmt: skip
    for k in keys:
        if not isinstance(k, str) or not 1 <= len(k) <= 200:
            raise InvalidInput(
                f"key {k!r:.40} is not a string of 1 to 200 characters", "send short string keys"
            )


async def captured(
    rt: Any, info: VersionInfo, kind: str, predictions: list[Any], inputs: list[Any] | None,
    keys: list[str] | None, warnings: list[str], *, subject: str,
) -> tuple[list[str] | None, list[str]]:  # fmt: skip
    """The inference hook: ids of the captured rows (None when the version does not capture), bound to the
    caller's ``subject``, and the warnings with the version's active quality alerts added."""
    caps: Captures = rt.captures
    if not caps.enabled(info):
        if keys is not None:
            return None, [*warnings, f"{info.name} does not capture predictions: keys are not stored"]
        return None, warnings
    ids = await caps.add(info, kind, predictions, inputs, keys, subject)
    alerts = caps.warnings(info.name, info.version)
    return ids, [*warnings, *alerts] if alerts else warnings
