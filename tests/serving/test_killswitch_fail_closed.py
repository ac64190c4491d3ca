"""A replica that cannot read the halts refuses serving (fails closed), and `hf:org/repo` is a halt scope."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import anyio
import pytest

from mlgate.errors import Halted, Unavailable
from mlgate.server.http import unhealthy
from mlgate.serving.killswitch import KillSwitch, scope_of
from mlgate.serving.runtime import Runtime
from mlgate.serving.status import _scope
from mlgate.state.db import Halt, StateDB
from tests._support import wait_until

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def eventually(condition: Callable[[], bool], within: float = 3.0) -> None:
    wait_until(condition, within)


def blind(ks: KillSwitch, model: str = "demo-regressor") -> bool:
    try:
        ks.check(model)
    except Unavailable as exc:
        assert not isinstance(exc, Halted)
        return True
    return False


def test_a_replica_that_cannot_read_the_halts_refuses_until_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    db = StateDB(f"sqlite:///{path}")
    polls: list[None] = []
    ks = KillSwitch(db, poll_interval=0.05, fail_after=3, followers=[lambda: polls.append(None)])
    try:
        eventually(lambda: len(polls) >= 4)  # the constructor's read and three polls
        eventually(lambda: not blind(ks) and ks.unhealthy_reason() is None)  # a 50 ms poller may run late
        t0 = time.monotonic()
        ks.refresh()  # the last good read happens after t0 (the poller's own reads only come later)
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE halts")  # the state database becomes unreadable for this replica
        eventually(lambda: blind(ks))
        assert time.monotonic() - t0 >= 3 * 0.05  # not before N intervals without a good read
        with pytest.raises(Unavailable) as err:
            ks.check("anything")
        text = str(err.value)
        assert "has not read the halt state since" in text and "OperationalError" in text
        assert "a halt set by an operator could be missed" in text and "MLGATE_STATE_URL" in text
        for _ in range(20):
            blind(ks)
        loud = [
            r for r in caplog.records if r.levelno == logging.CRITICAL and "kill switch" in r.getMessage()
        ]
        assert len(loud) == 1  # logged loudly, once
        StateDB(f"sqlite:///{path}").close()  # the table is back (migration recreates it)
        eventually(lambda: not blind(ks))
        assert ks.unhealthy_reason() is None
    finally:
        ks.close()
        db.close()


def test_a_switch_without_a_poller_is_not_blind(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    now = [0.0]
    ks = KillSwitch(db, poll_interval=0.01, start=False, clock=lambda: now[0])
    now[0] += 60.0  # far past the blind window of a replica that polls (0.01 s × (3 + 1))
    ks.check("m")  # nothing polls, nothing to fail: explicit refreshes only
    db.close()


class Hanging(StateDB):
    """A state database whose read of the halts blocks while ``hang`` is set (a stalled server)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.hang = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def active_halts(self) -> list[Halt]:
        if self.hang.is_set():
            self.entered.set()
            self.release.wait(30)
        return super().active_halts()


@pytest.mark.anyio
async def test_an_old_snapshot_waits_for_a_read_rather_than_refusing(tmp_path: Path) -> None:
    """A starved poller (a saturated process) leaves the snapshot old while the database answers: the
    serving path wakes the poller and is served on its fresh read; a plain ``check`` would have refused."""
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    now = [0.0]
    ks = KillSwitch(db, poll_interval=60, clock=lambda: now[0])  # the poller would not read for a minute
    try:
        now[0] += 600.0  # the snapshot looks ten minutes old, as if the poller had not run
        assert blind(ks)
        with anyio.fail_after(5):  # far less than the poll interval: the call woke the poller
            await ks.enforce("demo-regressor")
        assert not blind(ks) and ks.unhealthy_reason() is None
        now[0] += 600.0
        assert ks.unhealthy_reason() is not None  # the snapshot's age alone
        with anyio.fail_after(5):
            assert await unhealthy(cast(Runtime, SimpleNamespace(killswitch=ks))) == []  # /healthz asks first
        ks.halt("demo-regressor", "bad weights", "ops")
        now[0] += 600.0
        with anyio.fail_after(5), pytest.raises(Halted, match="bad weights"):
            await ks.enforce("demo-regressor")  # the fresh read still carries the halt
    finally:
        ks.close()
        db.close()


@pytest.mark.anyio
async def test_a_failed_or_hanging_read_refuses_at_once(tmp_path: Path) -> None:
    """Waiting is only for a poller that is late: a read that failed, or one that hangs past the window,
    refuses the call at once (not after the window, and never served from the old snapshot)."""
    path = tmp_path / "state.db"
    db = Hanging(f"sqlite:///{path}")
    now = [0.0]
    ks = KillSwitch(db, poll_interval=60, clock=lambda: now[0])
    try:
        db.hang.set()
        now[0] += 600.0
        await anyio.to_thread.run_sync(ks._wake.set)  # the poller starts a read, which hangs
        await anyio.to_thread.run_sync(db.entered.wait, 5)
        now[0] += 600.0  # the read has hung for ten minutes
        with anyio.fail_after(5), pytest.raises(Unavailable, match="has not read the halt state"):
            await ks.enforce("demo-regressor")
        db.hang.clear()
        db.release.set()
        await anyio.to_thread.run_sync(lambda: wait_until(lambda: not blind(ks), 5))
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE halts")
        now[0] += 600.0
        with anyio.fail_after(5), pytest.raises(Unavailable, match="OperationalError"):
            await ks.enforce("demo-regressor")  # woken, the poller's read failed: refused, not waited out
    finally:
        db.release.set()
        ks.close()
        db.close()


def test_hub_snapshot_references_map_onto_their_halt_scope() -> None:
    assert _scope("hf:acme/iris-onnx") == "hf:acme/iris-onnx"
    assert _scope(f"hf:Acme/Iris-ONNX@{COMMIT}") == "hf:acme/iris-onnx"
    assert _scope("demo-regressor@3") == "demo-regressor" and _scope(None) is None and _scope("*") is None
    for bad in ("hf:acme", "hf:../etc", "hf:a/b/c"):
        with pytest.raises(Exception, match="Hub repository id"):
            _scope(bad)
    # the forms serving checks: a parsed reference's name ('org/repo') and a loaded snapshot's name
    assert scope_of("acme/iris-onnx") == scope_of(f"hf:acme/iris-onnx@{COMMIT}") == "hf:acme/iris-onnx"
    assert scope_of("demo-regressor") == "demo-regressor"


def test_halting_a_hub_repo_refuses_its_revisions_only(tmp_path: Path) -> None:
    db = StateDB(f"sqlite:///{tmp_path / 'state.db'}")
    ks = KillSwitch(db, start=False)
    scope = _scope(f"hf:acme/iris-onnx@{COMMIT}")
    ks.halt(scope, "suspicious upload", "ops")
    for name in ("acme/iris-onnx", f"hf:acme/iris-onnx@{COMMIT}", "hf:acme/iris-onnx@v1"):
        with pytest.raises(Halted, match="suspicious upload"):
            ks.check(name)
    for name in ("acme/iris-onnx-2", "hf:acme/other@v1", "iris-onnx", "demo-regressor"):
        ks.check(name)
    ks.resume(scope, "ops")
    ks.check("acme/iris-onnx")
    db.close()
