"""Remote engines are bound to the version: no tag redirect, hosts on an allow-list, no engine body reflected."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mlgate.adapters.remote import RemoteModel
from mlgate.adapters.remote_spec import TAG_REMOTE, RemoteSpec, remote_spec_of
from mlgate.config import Settings
from mlgate.errors import BackendError, IntegrityError, Refused
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import IRIS_ROW, free_port, tool_payload

SECRET = "hunter2-db-password"
IRIS = list(IRIS_ROW)


class Engine(BaseHTTPRequestHandler):
    """A tiny scoring engine: /invocations answers; /fail/<status> fails with a body holding a password;
    /slow answers only once ``release`` is set (the test sets it after its client gave up: no race)."""

    release = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/slow"):
            self.release.wait(10)  # a bound: an engine left waiting lets go by itself
        if self.path.startswith("/fail/"):
            status = int(self.path.split("/")[2])
            self._send(status, {"error": f"db connect failed: postgresql://app:{SECRET}@db/prod"})
            return
        rows = body.get("dataframe_split", {}).get("data", [])
        self._send(200, {"predictions": [float(sum(r)) for r in rows]})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the client timed out (the timeout test)
            self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def model(url: str, timeout_s: float = 5.0) -> RemoteModel:
    spec = RemoteSpec.parse({"protocol": "mlflow", "url": url, "timeout_s": timeout_s, "retries": 1})
    return RemoteModel(spec, IRIS)


ROWS = np.array([[5.1, 3.5, 1.4, 0.2]])


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (500, "server error"),
        (401, "not authorised"),
        (422, "input refused"),
        (503, "unavailable"),
        (418, "client error"),
    ],
)
def test_an_engine_error_is_a_status_and_a_reason_never_its_body(
    engine: str, status: int, reason: str
) -> None:
    with pytest.raises(BackendError) as err:
        model(f"{engine}/fail/{status}").predict(ROWS)
    text = str(err.value)
    assert f"returned {status} ({reason})" in text, text
    assert SECRET not in text and "postgresql" not in text


def test_a_timeout_and_a_refused_connection_are_classified(engine: str) -> None:
    Engine.release.clear()
    try:
        with pytest.raises(BackendError, match="timeout") as err:
            model(f"{engine}/slow", timeout_s=0.2).predict(ROWS)
    finally:
        Engine.release.set()
    assert SECRET not in str(err.value)
    with pytest.raises(BackendError, match=r"unreachable \(connection refused\)"):
        model(f"http://127.0.0.1:{free_port()}").predict(ROWS)


def test_credentials_in_the_endpoint_are_never_shown(engine: str) -> None:
    host = engine.removeprefix("http://")
    with pytest.raises(BackendError) as err:
        model(f"http://svc:{SECRET}@{host}/fail/500").predict(ROWS)
    assert SECRET not in str(err.value) and f"http://{host}/fail/500/invocations" in str(err.value)


def test_engine_hosts_must_be_on_the_allow_list(engine: str) -> None:
    flavors = {"mlgate_remote": {"protocol": "mlflow", "url": engine}}
    port = engine.rsplit(":", 1)[1]
    assert remote_spec_of({}, flavors, ["127.0.0.1"]) is not None
    assert remote_spec_of({}, flavors, [f"127.0.0.1:{port}"]) is not None
    for allowlist in ([], ["localhost"], ["127.0.0.1:1"], ["127.0.0.10"]):
        with pytest.raises(Refused, match="MLGATE_REMOTE_ALLOWLIST"):
            remote_spec_of({}, flavors, allowlist)
    assert remote_spec_of({}, {}, []) is None  # not remote at all


def test_a_remote_tag_that_differs_from_the_registered_spec_is_refused(engine: str) -> None:
    spec = {"protocol": "mlflow", "url": engine}
    flavors = {"mlgate_remote": spec}
    same = remote_spec_of({TAG_REMOTE: json.dumps(spec)}, flavors, ["127.0.0.1"])
    assert same is not None and same.url == engine  # repeating the covered spec is harmless
    for tags, flav in (
        ({TAG_REMOTE: json.dumps({"protocol": "mlflow", "url": "http://evil.example:80"})}, flavors),
        ({TAG_REMOTE: json.dumps(spec)}, {}),
        ({TAG_REMOTE: "not json"}, flavors),
    ):
        with pytest.raises(IntegrityError, match="register the endpoint as a new version"):
            remote_spec_of(tags, flav, ["127.0.0.1", "evil.example"])


@pytest.mark.anyio
async def test_a_tag_added_after_registration_redirects_nothing(engine: str, demo_home: Path) -> None:
    """Through the server: a registered remote version is served; tagged elsewhere afterwards, it is refused."""
    from mlflow import MlflowClient

    from mlgate.models.registrar import Registrar

    allowed = Settings(home=demo_home, remote_allowlist=["127.0.0.1"])
    name = f"sec-remote-{uuid.uuid4().hex[:8]}"
    Registrar(allowed).register_remote(name, {"protocol": "mlflow", "url": engine}, IRIS)  # loads it: allowed
    call = {"model": f"{name}@1", "features": [IRIS_ROW]}

    rt = Runtime(Settings(home=demo_home, remote_allowlist=[]))
    async with Client(build_server(rt)) as c:
        err, msg = tool_payload(await c.call_tool("ml_predict", call))
        assert err and "MLGATE_REMOTE_ALLOWLIST" in msg, msg  # empty allow-list: no engine
    await rt.aclose()

    settings = allowed
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        err, out = tool_payload(await c.call_tool("ml_predict", call))
        assert not err and out["predictions"] == [pytest.approx(sum(IRIS_ROW.values()))], out
    await rt.aclose()

    evil = {"protocol": "mlflow", "url": f"{engine}/fail/500"}  # same host: the allow-list would not stop it
    MlflowClient(settings.tracking).set_model_version_tag(name, "1", TAG_REMOTE, json.dumps(evil))
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        err, msg = tool_payload(await c.call_tool("ml_predict", call))
        assert err and TAG_REMOTE in msg and "register the endpoint as a new version" in msg, msg
    await rt.aclose()
