"""The kill switch: halts that operators set and every replica honours.

``check(model)`` is on the hot path of every prediction, so it reads an in-memory
snapshot (a dict of active halts by scope) and never touches the database: when
nothing is halted it is one dict truth test. A background **thread** refreshes the
snapshot from the state database every ``poll_interval`` seconds, so a halt set by
another process sharing the database is honoured within that interval.

``halt`` and ``resume`` write through to the database and swap the local snapshot
before they return: from the moment ``halt`` returns, ``check`` refuses in this
process. A refresh that started before a local change is discarded, so a stale
read can never undo a halt that just landed.

Failing closed: a replica that cannot read the halts cannot know whether an operator
halted something. When no poll has succeeded for ``fail_after`` intervals (failing or
hanging), ``check`` refuses every call with ``Unavailable`` naming why and since when,
logged loudly once, until a poll reads the state again.

A late poller is not a failing database: in a saturated process the poller thread can be
starved of the GIL for seconds while the database answers at once (6,000 back-to-back
calls refused 531–726 as blind). So the serving path calls ``await enforce(...)``: when
the snapshot has missed a poll (older than two intervals) and the last read did not fail,
it wakes the poller and waits for its read (at most one blind window), then checks. A
halt is thus honoured within about two intervals however busy the process is, and a call
is refused as blind only when a read failed or hangs.

Halt scopes are registered model names, ``hf:org/repo`` for a pulled Hub snapshot
(every revision of it), ``sha256:<hex>`` for an artifact digest, and ``*`` for all
serving; ``scope_of`` maps the name a caller's reference resolves to onto its scope,
and a loaded version adds every scope that reaches its bytes (``halt_scopes.py``). A
halt indexes its named scope and the scopes it covers, so a check stays a few dict
lookups; the refusal says which halt and which scope matched.

Followers ride the same poll: callables run after each read of the halts (and once at
construction), e.g. the runtime's read of the alias generations (``state/generations.py``)
that lets every replica forget alias answers another replica moved. A follower that fails
is logged; it never makes the replica blind.

``halt``, ``resume`` and ``refresh`` block on the database: call them through
``anyio.to_thread.run_sync`` from async code. ``check`` and ``snapshot`` never block;
``enforce`` waits only while the snapshot missed a poll and the database is not known to fail.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import anyio

from mlgate.clock import iso_seconds
from mlgate.errors import Halted, Unavailable
from mlgate.state.db import ALL, Halt, StateDB

log = logging.getLogger(__name__)


def _index(halts: Iterable[Halt]) -> dict[str, Halt]:
    """Active halts by every scope they reach: the named scope wins over another halt's cover."""
    active = [h for h in halts if h.active]
    index = {c: h for h in active for c in h.covers}
    index.update({h.scope: h for h in active})
    return index


def scope_of(model_name: str) -> str:
    """The halt scope covering a model: ``hf:org/repo`` for a Hub snapshot (given as ``hf:org/repo@rev``
    or as the bare ``org/repo`` a parsed reference carries: registered names never contain '/'),
    else the registered model's name."""
    if model_name.startswith("hf:"):
        return "hf:" + model_name[3:].partition("@")[0].lower()
    if "/" in model_name:
        return "hf:" + model_name.partition("@")[0].lower()
    return model_name


def halted_error(halt: Halt, model_name: str, matched: str | None = None) -> Halted:
    """The error a refused call gets: who halted, when, why, which scope matched, and how to lift it."""
    if halt.scope == ALL:
        what, resume = f"all model serving is halted ({model_name} was not run)", "ml_resume without a model"
    else:
        what, resume = f"model '{halt.scope}' is halted", f'ml_resume {{"model": "{halt.scope}"}}'
        matched = matched or scope_of(model_name)
        if scope_of(model_name) != halt.scope:  # reached through its origin or its bytes: say which
            what += f" ({model_name} is matched by {matched}: the same origin or bytes)"
    return Halted(
        f"{what}: halted by {halt.by} at {halt.at} because: {halt.reason}",
        f"an operator must run {resume} (scope ml:halt) before calls are served again",
    )


class KillSwitch:
    def __init__(
        self,
        db: StateDB,
        poll_interval: float = 0.5,
        *,
        start: bool = True,
        fail_after: int = 3,
        followers: Sequence[Callable[[], None]] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.clock = clock  # of the blind window (a test moves it instead of sleeping)
        self.followers = tuple(followers)
        self.poll_interval = poll_interval
        self.fail_after = (
            fail_after  # MLGATE_HALT_FAIL_AFTER: polls without a successful read before refusing
        )
        self._last_ok = self.clock()  # of the last successful read of the halts (the constructor's)
        self._last_ok_wall = time.time()
        self._last_error: str | None = None
        self._blind_logged = False
        self._halts: dict[str, Halt] = _index(db.active_halts())  # swapped whole, never mutated
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every local halt/resume
        self._stop = threading.Event()
        self._wake = threading.Event()  # set: the poller reads now (a call found the snapshot old)
        self._reading_since: float | None = None  # of the poller's read in progress
        self._thread: threading.Thread | None = None
        self.refresh_errors = 0
        self._follow()
        if start:
            self._thread = threading.Thread(target=self._poll, name="mlgate-killswitch", daemon=True)
            self._thread.start()

    # -- the hot path -------------------------------------------------------------
    def check(self, model_name: str, scopes: Iterable[str] = ()) -> None:
        """Raise ``Halted`` if all serving, ``model_name``'s scope or any of ``scopes`` (those of the
        loaded version: ``halt_scopes.served_scopes``) is halted, ``Unavailable`` if this replica cannot
        read the halts; otherwise return at once."""
        if self._thread is not None and self.clock() - self._last_ok > self._blind_after():
            self._refuse_blind()
        halts = self._halts
        if halts:
            halt = halts.get(ALL)
            if halt is not None:
                raise halted_error(halt, model_name)
            for scope in (scope_of(model_name), *scopes):
                halt = halts.get(scope)
                if halt is not None:
                    raise halted_error(halt, model_name, scope)

    async def enforce(self, model_name: str, scopes: Iterable[str] = ()) -> None:
        """``check`` on the serving path: first, if the snapshot missed a poll while nothing says the
        database fails (the poller was starved, or is mid-read), wake the poller and wait — at most one
        blind window — for its read: neither serve from an old snapshot nor refuse a call the database
        would allow."""
        await self.settled()
        self.check(model_name, scopes)

    async def settled(self) -> None:
        """Return once the snapshot is as fresh as the poller can make it: at once when it is, else after
        waking a late poller and waiting for its read (``enforce``; ``/healthz`` asks the same way)."""
        if self._thread is not None and self.clock() - self._last_ok > self._late_after():
            await self._await_read()

    def _late_after(self) -> float:
        return 2 * self.poll_interval  # the snapshot missed a poll

    async def _await_read(self) -> None:
        window = self._blind_after()
        give_up = time.monotonic() + window  # the real clock: a test's frozen clock must not hold a call
        while self.clock() - self._last_ok > self._late_after() and time.monotonic() < give_up:
            if self._last_error is not None:  # the last read failed: serve or refuse as ``check`` says
                return
            reading = self._reading_since
            if reading is not None and self.clock() - reading > window:  # a read hangs
                return
            self._wake.set()
            await anyio.sleep(min(0.01, self.poll_interval / 10))

    def matching(self, scopes: Iterable[str]) -> tuple[Halt, str] | None:
        """The halt that stops a version with these scopes, and the scope that matched (status)."""
        halts = self._halts
        for scope in (ALL, *scopes):
            if scope in halts:
                return halts[scope], scope
        return None

    def unhealthy_reason(self) -> str | None:
        """Why this replica refuses serving (it cannot read the halts), or None (for ``/healthz``)."""
        if self._thread is None or self.clock() - self._last_ok <= self._blind_after():
            return None
        since = iso_seconds(self._last_ok_wall)
        why = f" ({self._last_error})" if self._last_error else " (the database does not answer)"
        return (
            f"serving is refused: this replica has not read the halt state since {since}{why}, "
            "so a halt set by an operator could be missed"
        )

    def _blind_after(self) -> float:
        return self.poll_interval * (self.fail_after + 1)  # N polls failed, plus one interval of slack

    def _note_blind(self) -> str | None:
        """The reason this replica is blind (logged loudly once per episode), or None."""
        reason = self.unhealthy_reason()
        if reason is not None and not self._blind_logged:
            self._blind_logged = True
            log.critical("kill switch: %s; refusing every call until the state database can be read", reason)
        return reason

    def _refuse_blind(self) -> None:
        reason = self._note_blind()
        if reason is None:
            return
        raise Unavailable(
            reason,
            "an operator must check the state database (MLGATE_STATE_URL); "
            "serving resumes as soon as this replica reads it again",
        )

    def snapshot(self) -> list[Halt]:
        """The active halts this process honours now (for ``ml_serving_status``)."""
        unique = {h.scope: h for h in self._halts.values()}
        return sorted(unique.values(), key=lambda h: (h.scope != ALL, h.scope))

    # -- operators ---------------------------------------------------------------
    def halt(self, model: str | None, reason: str, by: str, covers: Iterable[str] = ()) -> Halt:
        """Halt one scope (``None``: all serving) and the scopes it ``covers``; in force in this process
        when this returns."""
        with self._lock:
            halt = self.db.halt(model, reason, by, covers)
            old = [h for h in self._halts.values() if h.scope != halt.scope]
            self._halts = _index([*old, halt])
            self._generation += 1
        return halt

    def resume(self, model: str | None, by: str) -> bool:
        """Lift the halt of one model (``None``: the all-serving halt); False if there was none."""
        with self._lock:
            resumed = self.db.resume(model, by)
            scope = ALL if model is None else model.strip()
            self._halts = _index(h for h in self._halts.values() if h.scope != scope)
            self._generation += 1
        return resumed

    # -- the refresh --------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the active halts now (the poller does this every ``poll_interval``)."""
        with self._lock:
            generation = self._generation
        halts = _index(self.db.active_halts())
        with self._lock:
            if generation == self._generation:  # no local halt/resume raced this read
                self._halts = halts
            self._last_ok, self._last_ok_wall = self.clock(), time.time()
            self._last_error = None
            if self._blind_logged:
                self._blind_logged = False
                log.warning("kill switch: the halt state is readable again; serving resumes")
        self._follow()

    def _follow(self) -> None:
        for follower in self.followers:
            try:
                follower()
            except Exception:
                log.exception("kill switch: a follower of the halt poll failed")

    def _poll(self) -> None:
        while True:
            self._wake.wait(self.poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            self._reading_since = self.clock()
            try:
                self.refresh()
            except Exception as exc:
                self.refresh_errors += 1
                self._last_error = f"{type(exc).__name__}"  # the class only: /healthz is public
                log.exception(
                    "kill switch: reading halts failed (%d s since the last good read)",
                    int(self.clock() - self._last_ok),
                )
                self._note_blind()
            finally:
                self._reading_since = None

    def close(self) -> None:
        """Stop the poller thread (the database stays open: it is not ours)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
