"""Real services on 127.0.0.1 for the scale-out tests: PostgreSQL, ``mlflow server``, MLServer,
``mlflow models serve``. Each starts in its own temporary folder and process group.

Facts these rely on (verified): initdb/pg_ctl refuse root, so they run as ``nobody`` via
runuser in a ``mkdtemp`` folder chowned to it (pytest's tmp_path is 0700 per user);
``unix_socket_directories`` must point at that folder; ``mlflow server`` needs
``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` and ``--workers 1``; ``mlflow models serve``
finds uvicorn on PATH; MLServer lives in its own venv (it pins fastapi/starlette).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
MLSERVER_VENV = ROOT / ".venv-mlserver"
MLSERVER_PINS = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"]


class SkipService(Exception):
    """A service that cannot run here; the message is the skip reason."""


def spawn(
    args: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # children left behind (uvicorn under models serve)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited ({proc.returncode}): {log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready in {timeout}s: {log.read_text()[-3000:]}")


# -- PostgreSQL -------------------------------------------------------------------------
def pg_bindir() -> Path:
    def find() -> Path | None:
        if shutil.which("pg_config"):
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
            if out and (Path(out) / "initdb").exists():
                return Path(out)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        return Path(found[-1]).parent if found else None

    bindir = find()
    if bindir is None:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise SkipService(
                "PostgreSQL server binaries are missing (initdb not found) and installing them "
                "needs root and apt-get: apt-get install -y postgresql"
            )
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=300)
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
            check=True,
            capture_output=True,
            timeout=600,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        bindir = find()
        if bindir is None:
            raise SkipService("apt-get install postgresql did not provide initdb")
    return bindir


class Postgres:
    def __init__(self, port: int) -> None:
        self.bindir = pg_bindir()
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="mlgate-pg-"))
        self.user: list[str] = []
        if os.geteuid() == 0:  # initdb and pg_ctl refuse root
            import pwd

            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self.user = ["runuser", "-u", "nobody", "--"]
        data = self.dir / "data"
        self._run(
            "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={self.dir} -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(data), "-l", str(self.dir / "pg.log"), "-w", "-t", "30", "-o", opts, "start"
        )

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run(
            [*self.user, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=60
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
            )

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create(self, db: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'create database "{db}"')
        return self.url(db)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


# -- MLServer in its own venv --------------------------------------------------------------
def mlserver_bin() -> Path:
    """``.venv-mlserver/bin/mlserver``, creating that venv on first use (about 30 s)."""
    exe, marker = MLSERVER_VENV / "bin" / "mlserver", MLSERVER_VENV / ".installed"
    if exe.exists() and marker.exists():
        return exe
    shutil.rmtree(MLSERVER_VENV, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True, capture_output=True, timeout=120
        )
        pip = subprocess.run(
            [
                str(MLSERVER_VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *MLSERVER_PINS,
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise SkipService(f"could not create the MLServer venv: {exc}") from None
    if pip.returncode != 0:
        raise SkipService(f"pip install {' '.join(MLSERVER_PINS)} failed: {pip.stderr[-800:]}")
    marker.write_text(" ".join(MLSERVER_PINS) + "\n")
    return exe
