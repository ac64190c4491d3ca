"""The kill switch: local halts at once, other instances and processes within a second."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from mlgate.errors import Halted
from mlgate.serving.killswitch import KillSwitch
from mlgate.state.db import Halt, StateDB
from tests._support import wait_until


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def db(url: str) -> Iterator[StateDB]:
    state = StateDB(url)
    yield state
    state.close()


def eventually(condition: Callable[[], bool], within: float = 1.0) -> None:
    """``condition()`` holds within ``within`` seconds (the poll interval is far shorter)."""
    wait_until(condition, within, every=0.005)


def refuses(ks: KillSwitch, model: str) -> bool:
    """Whether a call would be refused as halted, asked as the serving path asks (``enforce``): a poller that a
    loaded host starved past the blind window is woken and waited for, not taken for a failing database (the
    synchronous ``check`` refused such a test as blind once, on a busy CI host)."""
    try:
        anyio.run(ks.enforce, model)
    except Halted:
        return True
    return False


def test_nothing_halted_lets_every_call_through(db: StateDB) -> None:
    ks = KillSwitch(db)
    for name in ("iris", "churn", "*"):
        ks.check(name)
    assert ks.snapshot() == []
    ks.check("iris")  # nothing halted: no refusal
    ks.close()


def test_a_halt_refuses_at_once_and_says_who_when_why(db: StateDB) -> None:
    ks = KillSwitch(db, poll_interval=60)  # no help from the poller
    halt = ks.halt("iris", "predictions drifted", "alice@ops")
    with pytest.raises(Halted) as info:
        ks.check("iris")
    text = str(info.value)
    assert "alice@ops" in text and halt.at in text and "predictions drifted" in text
    assert info.value.hint is not None and "an operator must run ml_resume" in info.value.hint
    assert '"model": "iris"' in info.value.hint
    ks.check("churn")  # other models keep serving
    assert [h.scope for h in ks.snapshot()] == ["iris"]
    assert ks.resume("iris", "bob") is True
    ks.check("iris")
    assert ks.resume("iris", "bob") is False
    ks.close()


def test_halting_everything_refuses_every_model(db: StateDB) -> None:
    ks = KillSwitch(db, poll_interval=60)
    ks.halt(None, "incident 7", "carol")
    for name in ("iris", "churn"):
        with pytest.raises(Halted, match="all model serving is halted"):
            ks.check(name)
    ks.resume("iris", "dave")  # lifting a model halt does not lift the global one
    assert refuses(ks, "iris")
    ks.resume(None, "dave")
    ks.check("iris")
    ks.close()


def test_another_instance_on_the_same_file_sees_halt_and_resume_within_a_second(url: str) -> None:
    db_a, db_b = StateDB(url), StateDB(url)
    a, b = KillSwitch(db_a), KillSwitch(db_b)
    b.check("iris")
    a.halt("iris", "bad release", "alice")
    eventually(lambda: refuses(b, "iris"))
    with pytest.raises(Halted, match="bad release"):
        b.check("iris")
    a.resume("iris", "alice")
    eventually(lambda: not refuses(b, "iris"))
    for ks in (a, b):
        ks.close()
    db_a.close()
    db_b.close()


def test_a_halt_survives_a_restart(url: str) -> None:
    db = StateDB(url)
    ks = KillSwitch(db)
    ks.halt(None, "maintenance", "erin")
    ks.close()
    db.close()
    db2 = StateDB(url)
    restarted = KillSwitch(db2)  # refuses from the first call, before any poll
    with pytest.raises(Halted, match="maintenance"):
        restarted.check("iris")
    restarted.close()
    db2.close()


def test_a_halt_from_another_process_is_honoured_within_a_second(db: StateDB, url: str) -> None:
    ks = KillSwitch(db)
    code = """
        import sys
        from mlgate.state.db import StateDB
        db = StateDB(sys.argv[1])
        db.halt("iris", "from the other process", "frank")
        print("halted", flush=True)
        sys.stdin.readline()
        db.resume("iris", "frank")
        print("resumed", flush=True)
        db.close()
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "halted"
    eventually(lambda: refuses(ks, "iris"))
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "resumed"
    eventually(lambda: not refuses(ks, "iris"))
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    ks.close()


class SlowReadDB(StateDB):
    """A real StateDB whose next read of the halts pauses, to force the refresh race."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.reading = threading.Event()
        self.release = threading.Event()
        self.pause = False

    def active_halts(self) -> list[Halt]:
        halts = super().active_halts()
        if self.pause:
            self.pause = False
            self.reading.set()
            self.release.wait(10)
        return halts


def test_a_stale_refresh_never_undoes_a_local_halt(url: str) -> None:
    db = SlowReadDB(url)
    ks = KillSwitch(db, start=False)
    db.pause = True
    refresher = threading.Thread(target=ks.refresh)
    refresher.start()
    assert db.reading.wait(10)  # the refresh has read "nothing halted" and is about to apply it
    ks.halt("iris", "race", "gina")
    db.release.set()
    refresher.join()
    assert refuses(ks, "iris")
    ks.refresh()
    assert refuses(ks, "iris")
    db.close()
