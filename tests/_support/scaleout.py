"""The scale-out cluster (tests/scaleout/conftest.py builds it): its PostgreSQL, MLflow server and engines, and its
``mlgate serve --http --stateless`` replicas; the iris model's features and classes it serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._support import IRIS_ROW, free_port, mlgate_env, spawn_server, wait_http
from tests.scaleout.services import Postgres

IRIS = list(IRIS_ROW)
CLASSES = ["setosa", "versicolor", "virginica"]


class Replica:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        home.mkdir(parents=True, exist_ok=True)
        self.proc = spawn_server(
            ["--http", "--host", "127.0.0.1", "--port", str(self.port), "--stateless"],
            mlgate_env(home, **env),
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/mcp/ml"

    def ready(self) -> Replica:
        wait_http(f"{self.base}/healthz", self.proc)
        return self

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


@dataclass
class Cluster:
    root: Path
    pg: Postgres
    state_url: str
    tracking: str
    env: dict[str, str]
    a: Replica
    b: Replica
    remote: dict[str, Any] = field(default_factory=dict)

    def replica(self, name: str) -> Replica:
        return Replica(self.root / name, self.env)

    def ledger(self, where: str = "true", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(
            f"host=127.0.0.1 port={self.pg.port} user=postgres dbname=mlgate_state", row_factory=dict_row
        ) as conn:
            return list(conn.execute(f"select * from ledger where {where} order by id", params))
