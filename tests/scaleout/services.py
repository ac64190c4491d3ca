"""Real services on 127.0.0.1 for the scale-out tests (and the trace test): PostgreSQL, ``mlflow
server``, MLServer, ``mlflow models serve``, an OTLP receiver for MLServer's own spans. Each starts in
its own temporary folder and process group.

Facts these rely on (verified): initdb/pg_ctl refuse root, so they run as ``nobody`` via
runuser in a ``mkdtemp`` folder chowned to it (pytest's tmp_path is 0700 per user);
``unix_socket_directories`` must point at that folder; ``mlflow server`` needs
``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` and ``--workers 1``; ``mlflow models serve``
finds uvicorn on PATH; MLServer lives in its own venv (it pins fastapi/starlette).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests._support import free_port, wait_until

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
    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited ({proc.returncode}): {log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, timeout=2).status_code == 200
        return False

    wait_until(ready, timeout, every=0.1, what=lambda: f"{url} ready: {log.read_text()[-3000:]}")


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


def train_iris(seed: int = 0, c: float = 1.0) -> tuple[Any, Any, Any]:
    """(a fitted LogisticRegression, x, y) on scikit-learn's bundled iris."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    return LogisticRegression(C=c, max_iter=500, random_state=seed).fit(x, y), x, y


@dataclass
class MLServerEngine:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def ready(self) -> MLServerEngine:
        wait_ready(f"{self.url}/v2/models/iris/ready", self.proc, self.log)
        return self


def start_mlserver(root: Path, env: dict[str, str], *, tracing_server: str | None = None) -> MLServerEngine:
    """MLServer serving a scikit-learn iris model as ``iris`` over the Open Inference Protocol, from a
    model repository under ``root``; not waited for (``ready()``). ``tracing_server`` (``host:port`` of an
    OTLP/gRPC receiver) turns on MLServer's own OpenTelemetry instrumentation of its REST app.
    Raises SkipService when MLServer cannot be installed here."""
    import joblib

    exe = mlserver_bin()
    port = free_port()
    est, _, _ = train_iris()
    repo = root / "mlserver-repo"
    (repo / "iris").mkdir(parents=True)
    joblib.dump(est, repo / "iris" / "model.joblib")
    (repo / "iris" / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "iris",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "v1"},
            }
        )
    )
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "debug": False,
    }
    if tracing_server is not None:
        settings["tracing_server"] = tracing_server
    (repo / "settings.json").write_text(json.dumps(settings))
    log = root / "mlserver.log"
    proc = spawn([str(exe), "start", str(repo)], log, env=env, cwd=root)
    return MLServerEngine(f"http://127.0.0.1:{port}", proc, log)


# -- an OTLP/gRPC receiver for an engine's own spans ---------------------------------------
# Run by the MLServer venv's interpreter (it has grpcio and opentelemetry-proto; the test venv has no
# grpcio): every span exported to it becomes one JSON line in the file it is given.
_OTLP_SINK = """
import json, sys
from concurrent import futures
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb, trace_service_pb2_grpc as rpc

out = open(sys.argv[2], "a", buffering=1)


class Sink(rpc.TraceServiceServicer):
    def Export(self, request, context):
        for rs in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    out.write(json.dumps({
                        "service": attrs.get("service.name", ""), "scope": ss.scope.name, "name": s.name,
                        "kind": s.kind, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "attributes": {a.key: a.value.string_value for a in s.attributes},
                    }) + "\\n")
        return pb.ExportTraceServiceResponse()


server = grpc.server(futures.ThreadPoolExecutor(2))
rpc.add_TraceServiceServicer_to_server(Sink(), server)
server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
print("listening", flush=True)
server.wait_for_termination()
"""


class OtlpSink:
    """An OTLP/gRPC trace receiver on 127.0.0.1 (``address``) writing the spans it gets to ``spans()``."""

    def __init__(self, root: Path) -> None:
        python = mlserver_bin().parent / "python"
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.file = root / "otlp-spans.jsonl"
        self.file.touch()
        self.log = root / "otlp-sink.log"
        self.proc = spawn([str(python), "-c", _OTLP_SINK, str(self.port), str(self.file)], self.log, cwd=root)

        def listening() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the OTLP receiver exited: {self.log.read_text()[-2000:]}")
            return "listening" in self.log.read_text()

        try:
            wait_until(
                listening, 30, every=0.05, what=lambda: f"the OTLP receiver: {self.log.read_text()[-2000:]}"
            )
        except BaseException:
            stop(self.proc)
            raise

    def spans(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.file.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        stop(self.proc)
