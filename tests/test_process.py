"""The process-wide patches (mlgate/process.py): each holds its lock while patched, and puts back what it
changed — also when the block raises."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from mlgate import process
from tests._support import wait_until


class Boom(Exception):
    pass


def _uris() -> tuple[str, str]:
    import mlflow

    return mlflow.get_tracking_uri(), mlflow.get_registry_uri()


def test_mlflow_uris_point_both_and_are_restored_after_an_exception(tmp_path: Path) -> None:
    before = _uris()
    uri = f"sqlite:///{tmp_path / 'a.db'}"
    with pytest.raises(Boom), process.mlflow_uris(uri):
        assert _uris() == (uri, uri)
        raise Boom
    assert _uris() == before
    with process.mlflow_uris(uri), process.mlflow_uris(uri):  # nested, same registry: fine
        assert _uris() == (uri, uri)
    assert _uris() == before
    with process.mlflow_uris(uri), pytest.raises(RuntimeError, match="cannot point them"):
        process.point_mlflow_at(f"sqlite:///{tmp_path / 'b.db'}")  # would wait for itself
    assert _uris() == before


class _Watched(threading.Condition):
    """The lock of ``mlflow_uris``, telling when a block starts to wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_a_block_for_another_registry_waits_and_the_same_registry_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    seen: dict[str, tuple[str, str]] = {}
    entered = {name: threading.Event() for name in ("same", "other")}
    lock = _Watched()
    monkeypatch.setattr(process, "_MLFLOW", lock)

    def block(name: str, uri: str) -> None:
        with process.mlflow_uris(uri):
            entered[name].set()
            seen[name] = _uris()

    with process.mlflow_uris(a):
        same = threading.Thread(target=block, args=("same", a))
        other = threading.Thread(target=block, args=("other", b))
        same.start()
        other.start()
        assert entered["same"].wait(10)  # the same registry runs beside this block
        # another registry waits for the lock: it either waits (asserted) or got in (a failure), not after a guess
        wait_until(lambda: lock.waiting.is_set() or entered["other"].is_set(), what="the other block waits")
        assert not entered["other"].is_set()
        assert _uris() == (a, a)
    other.join(10)
    same.join(10)
    assert seen == {"same": (a, a), "other": (b, b)}


def test_torch_hub_offline_refuses_this_threads_downloads_and_restores_everything(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import torch.hub

    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / "hubmod_for_test.py").write_text("X = 1\n")
    page = tmp_path / "page.txt"
    page.write_text("through")
    before = (torch.hub.get_dir(), torch.hub.download_url_to_file, urllib.request.urlopen)
    home = os.environ.get("TORCH_HOME")
    attempts: list[str] = []
    others: list[bytes] = []

    def another_thread() -> None:  # not the loading thread: the original urlopen answers
        with urllib.request.urlopen(page.as_uri()) as r:
            others.append(r.read())

    sys.path.insert(0, str(folder))
    try:
        with pytest.raises(Boom), process.torch_hub_offline(folder, attempts):
            assert process._TORCH_HUB.locked()  # loads take turns
            assert os.environ["TORCH_HOME"] == torch.hub.get_dir() != before[0]
            import hubmod_for_test  # noqa: F401  # a module of the snapshot

            with pytest.raises(process.DownloadRefused):
                urllib.request.urlopen("https://example.invalid/weights.pt")
            with pytest.raises(process.DownloadRefused):
                torch.hub.download_url_to_file("https://example.invalid/w2.pt", str(tmp_path / "w"))
            t = threading.Thread(target=another_thread)
            t.start()
            t.join(10)
            raise Boom
    finally:
        sys.path.remove(str(folder))
    assert attempts == ["https://example.invalid/weights.pt", "https://example.invalid/w2.pt"]
    assert others == [b"through"]
    assert not process._TORCH_HUB.locked()
    assert (torch.hub.get_dir(), torch.hub.download_url_to_file, urllib.request.urlopen) == before
    assert os.environ.get("TORCH_HOME") == home
    assert "hubmod_for_test" not in sys.modules  # the snapshot's modules do not outlive it


def test_prometheus_multiprocess_is_idempotent(tmp_path: Path) -> None:
    """In a process of its own: the switch changes every metric of the process it runs in."""
    code = (
        "import sys; from pathlib import Path; from mlgate import process\n"
        "from prometheus_client import values\n"
        "assert values.ValueClass is values.MutexValue\n"
        "process.prometheus_multiprocess(Path(sys.argv[1]))\n"
        "first = values.ValueClass\n"
        "assert first is not values.MutexValue\n"
        "process.prometheus_multiprocess(Path(sys.argv[1]))\n"
        "assert values.ValueClass is first\n"
        "import os; assert os.environ['PROMETHEUS_MULTIPROC_DIR'] == sys.argv[1]\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = (
        str(Path(__file__).resolve().parents[1] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    )
    target = tmp_path / "metrics"
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert target.is_dir()
