"""A throwaway ``redis-server`` on 127.0.0.1 for the Celery tests, installed from Debian's packages when
missing (as root with apt-get, like PostgreSQL in tests/scaleout); otherwise the tests skip with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests._support import free_port, wait_until
from tests.scaleout.services import SkipService, spawn, stop


def redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SkipService(
            "redis-server is missing and installing it needs root with apt-get (apt-get install redis-server)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        if done.returncode != 0:
            raise SkipService(f"{' '.join(cmd)} failed: {done.stderr[-500:]}")
    found = shutil.which("redis-server")
    if not found:
        raise SkipService("apt-get installed redis-server but it is not on PATH")
    return found


class Redis:
    def __init__(self) -> None:
        self.exe = redis_server()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="mlgate-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._start()

    def restart(self) -> None:
        """Stop and start again on the same port: without persistence, every queued message is gone."""
        stop(self.proc)
        self._start()

    def _start(self) -> None:
        exe = self.exe
        log = self.dir / "redis.log"
        self.proc = spawn(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            log,
            cwd=self.dir,
        )
        import redis

        def answers() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {log.read_text()[-1000:]}") from None
                return False

        wait_until(answers, 10, every=0.05, what=lambda: f"redis-server answers: {log.read_text()[-1000:]}")

    def stop(self) -> None:
        stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
