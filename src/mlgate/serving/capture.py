"""Prediction capture on the hot path: which versions capture, ids for the caller, a background writer.

A version captures when its name matches a pattern in ``MLGATE_CAPTURE`` (``team-*``,
``*``) or it carries the version tag ``mlgate.capture=true``. ``add`` gives each record (a
forecast: the whole forecast) a fresh id, queues the rows and returns at once; one writer
**thread** commits queued rows in batches (like the audit ledger), so an inference call
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

import atexit
import fnmatch
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.errors import InvalidInput, Unavailable
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
        self._buf: deque[Capture] = deque()
        self._cond = threading.Condition()
        self._store: CaptureStore | None = None
        self._thread: threading.Thread | None = None
        self._appended = 0
        self._done = 0
        self._urgent = False
        self._closing = False
        self._stall: float | None = None
        self._purged_at = 0.0
        self._refreshed_at = 0.0
        self.written = 0
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
            with self._cond:
                if self._store is None:
                    store = CaptureStore(self._db())
                    self._alerts = store.active_alerts()
                    self._refreshed_at = time.monotonic()
                    self._store = store
                    self._thread = threading.Thread(target=self._run, name="mlgate-captures", daemon=True)
                    self._thread.start()
                    atexit.register(self.close)
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
        if self._stall is not None:
            self.check()
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
            with self._cond:
                if self._stall is None:
                    self._stall = time.monotonic()
                self._buf.extend(rows)
                self._appended += len(rows)
                if len(self._buf) == len(rows):
                    self._cond.notify()
        return [r.id for r in rows]

    def check(self) -> None:
        stall = self._stall
        if (
            stall is not None
            and time.monotonic() - stall > self.settings.ledger_fail_after_s + self.flush_interval
        ):
            raise Unavailable(
                f"captured predictions cannot be written ({len(self._buf)} waiting); "
                "calls of capturing models are refused until they can",
                _HINT,
            )

    def flush_blocking(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row queued so far is committed; False on timeout."""
        if self._store is None:
            return True
        with self._cond:
            target = self._appended
            self._urgent = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def purge(self) -> int:
        """Delete rows older than the retention (``MLGATE_CAPTURE_RETENTION_DAYS``); returns how many."""
        self._purged_at = time.monotonic()
        return self.store.purge(time.time() - self.settings.capture_retention_days * 86400.0)

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything queued, then stop the writer. Idempotent."""
        atexit.unregister(self.close)
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("captures: %d rows still unwritten at close", len(self._buf))

    def stats(self) -> dict[str, Any]:
        return {"pending": len(self._buf), "written": self.written}

    # -- the writer thread ----------------------------------------------------------------
    def _take(self) -> list[Capture] | None:
        with self._cond:
            self._cond.wait_for(lambda: bool(self._buf) or self._closing, ALERT_REFRESH_S)
            if not self._buf:
                return None if self._closing else []
            self._cond.wait_for(lambda: self._urgent or self._closing, self.flush_interval)
            batch = list(self._buf)
            self._buf.clear()
            self._urgent = False
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            if batch:
                self._write(batch)
                with self._cond:
                    self._done += len(batch)
                    self.written += len(batch)
                    self._stall = time.monotonic() if self._appended > self._done else None
                    self._cond.notify_all()
            self._housekeeping()

    def _write(self, batch: list[Capture]) -> None:
        delay, give_up_at = 0.05, None
        assert self._store is not None
        while True:
            try:
                self._store.insert_many(batch)
                return
            except Exception:
                log.exception("captures: writing %d rows failed; retrying in %.2fs", len(batch), delay)
            if self._closing:
                give_up_at = give_up_at or time.monotonic() + 5.0
                if time.monotonic() >= give_up_at:
                    log.error("captures: gave up on %d rows at close", len(batch))
                    return
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        try:
            if now - self._refreshed_at >= ALERT_REFRESH_S and self._store is not None:
                self._refreshed_at = now
                self._alerts = self._store.active_alerts()
            if now - self._purged_at >= PURGE_EVERY_S or not self._purged_at:
                self.purge()
        except Exception:
            log.exception("captures: housekeeping failed")


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
