"""One scale-out cluster per test session, all on 127.0.0.1, built from nothing:

PostgreSQL (state + MLflow backend) → ``mlflow server`` → models registered through it
(in-process ``Registrar`` over HTTP) → MLServer and ``mlflow models serve`` as remote
engines → two ``mlgate serve --http --stateless`` replicas sharing all of it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support import free_port
from tests._support.scaleout import CLASSES, IRIS, Cluster, Replica
from tests.scaleout.services import (
    VENV_BIN,
    Postgres,
    SkipService,
    spawn,
    start_mlserver,
    stop,
    train_iris,
    wait_ready,
)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[dev]' (it brings psycopg[binary])")
    root = tmp_path_factory.mktemp("scaleout")
    procs: list[Any] = []
    pg: Postgres | None = None
    replicas: list[Replica] = []
    try:
        try:
            pg = Postgres(free_port())
        except SkipService as exc:
            pytest.skip(str(exc))
        pg.create("mlflow")
        state_url = pg.create("mlgate_state")
        tmp_env = {**os.environ, "TMPDIR": str(root), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
        tmp_env = {k: v for k, v in tmp_env.items() if not k.startswith(("MLGATE_", "MLFLOW_"))}
        # the shared MLflow server, PostgreSQL backend, artifacts served by it
        mport = free_port()
        mlog = root / "mlflow-server.log"
        mflow = spawn(
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                pg.url("mlflow"),
                "--artifacts-destination",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(mport),
                "--workers",
                "1",
            ],
            mlog,
            env={**tmp_env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            cwd=root,
        )
        procs.append(mflow)
        # MLServer (own venv) serving a scikit-learn iris model over the Open Inference Protocol
        remote: dict[str, Any] = {}
        try:
            engine = start_mlserver(root, tmp_env)
            procs.append(engine.proc)
            remote["mlserver"] = engine
        except SkipService as exc:
            remote["mlserver_skip"] = str(exc)
        tracking = f"http://127.0.0.1:{mport}"
        wait_ready(f"{tracking}/health", mflow, mlog)
        _register(root, tracking, remote)
        # mlflow models serve, fetching the model from the shared server
        fport = free_port()
        flog = root / "models-serve.log"
        fserve = spawn(
            [
                str(VENV_BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                "models:/scale-iris/1",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(fport),
            ],
            flog,
            env={**tmp_env, "MLFLOW_TRACKING_URI": tracking},
            cwd=root,
        )
        procs.append(fserve)
        env = {
            "MLGATE_STATE_URL": state_url,
            "MLGATE_TRACKING_URI": tracking,
            "MLGATE_LEDGER_SYNC": "1",
            "MLGATE_REMOTE_ALLOWLIST": "127.0.0.1",
            "TMPDIR": str(root),
        }
        a, b = Replica(root / "a", env), Replica(root / "b", env)
        replicas += [a, b]
        wait_ready(f"http://127.0.0.1:{fport}/ping", fserve, flog)
        _register_mlflow_remote(root, tracking, f"http://127.0.0.1:{fport}")
        if "mlserver" in remote:
            remote["mlserver"].ready()
        a.ready()
        b.ready()
        c = Cluster(root, pg, state_url, tracking, env, a, b, remote)
        yield c
    finally:
        hole = remote.get("black_hole") if "remote" in locals() else None
        if hole is not None:
            hole.close()
        for r in replicas:
            r.stop()
        for p in procs:
            stop(p)
        if pg is not None:
            pg.stop()


def _registrar(root: Path, tracking: str) -> Any:
    from mlgate.config import Settings
    from mlgate.models.registrar import Registrar

    # registering a remote version loads it, and engine hosts must be on the allow-list
    return Registrar(Settings(home=root / "registrar", tracking_uri=tracking, remote_allowlist=["127.0.0.1"]))


def _register(root: Path, tracking: str, remote: dict[str, Any]) -> None:
    """scale-iris@1 (production) in-process sklearn; remote versions on MLServer, a dead port, a black hole."""
    reg = _registrar(root, tracking)
    est, x, y = train_iris()
    reg.register_sklearn("scale-iris", est, x, IRIS, {"accuracy": float(est.score(x, y))}, alias="production")
    est2, _, _ = train_iris(c=0.05)
    reg.register_sklearn("scale-iris", est2, x, IRIS, {"accuracy": float(est2.score(x, y))})
    if "mlserver" in remote:
        reg.register_remote(
            "remote-iris",
            {
                "protocol": "v2",
                "url": remote["mlserver"].url,
                "model": "iris",
                "timeout_s": 5,
                "classes": CLASSES,
            },
            IRIS,
            alias="production",
        )
    dead = free_port()  # nothing listens here
    reg.register_remote(
        "remote-dead",
        {"protocol": "v2", "url": f"http://127.0.0.1:{dead}", "model": "iris", "timeout_s": 1, "retries": 1},
        IRIS,
    )
    hole = socket.socket()  # accepts connections (kernel backlog) and never answers
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    remote["black_hole"] = hole
    reg.register_remote(
        "remote-slow",
        {
            "protocol": "v2",
            "url": f"http://127.0.0.1:{hole.getsockname()[1]}",
            "model": "iris",
            "timeout_s": 0.3,
            "retries": 0,
        },
        IRIS,
    )


def _register_mlflow_remote(root: Path, tracking: str, url: str) -> None:
    reg = _registrar(root, tracking)
    reg.register_remote(
        "remote-mlflow", {"protocol": "mlflow", "url": url, "timeout_s": 5}, IRIS, alias="production"
    )
