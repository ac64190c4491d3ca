"""Helpers the tests share: rows, spawned servers, tool results, process-wide MLflow URIs.

Fixtures stay in the conftest files; what a test module imports lives here, never in a conftest or
another test module (``tests/test_layers.py`` checks). One module per concern:

- ``auth``: the test issuer, its JWTs, an echo app behind BearerAuth, a uvicorn in a thread;
- ``browser``: Debian's Chromium for Playwright;
- ``clients``: the stdio command real clients spawn, the MCP Inspector CLI;
- ``console``: the console tests' server and screenshots;
- ``devauth``: a spawned dev-auth server from outside (``mlgate token``, JSON-RPC, OAuth steps);
- ``flavors``: tests/flavors' plain-MLflow registry, loading and comparing its versions;
- ``forecasting``: the monthly series, a version's MLmodel;
- ``hub``: the local Hugging Face Hub and its repositories, the client environment pointed at it;
- ``jobs``: a job followed to its end, a model's versions;
- ``lifecycle``: linear data, a registered Ridge, aliases and tags;
- ``mcp_http``: an MCP SDK client over streamable HTTP in a thread of its own;
- ``monitoring``: the monitoring registry, its data, settings and sessions;
- ``node``: Node 22 and the pinned npm packages (conformance suite, clients, TypeScript);
- ``scaleout``: the scale-out cluster and its replicas;
- ``skills``: specs written and locked, the three-step chain;
- ``torchhub``: the tiny TorchHub repository and what its weights answer;
- ``views``: the views tests' host (its mlgate, its page).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DIABETES_ROW = {
    "age": 0.04,
    "sex": 0.05,
    "bmi": 0.06,
    "bp": 0.02,
    "s1": -0.04,
    "s2": -0.03,
    "s3": -0.04,
    "s4": 0.0,
    "s5": 0.02,
    "s6": -0.02,
}
IRIS_ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def tool_payload(result: Any) -> tuple[bool, Any]:
    """(is_error, structured content or error text) of a CallToolResult."""
    if result.is_error:
        return True, " ".join(getattr(c, "text", "") for c in result.content)
    return False, result.structured_content


async def call(client: Any, tool: str, args: dict[str, Any], **kw: Any) -> tuple[bool, Any]:
    """One tool call by an MCP client (``kw``: ``call_tool``'s own, e.g. a progress callback): ``tool_payload``."""
    return tool_payload(await client.call_tool(tool, args, **kw))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mlgate_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a spawned mlgate: ``home``, no warm-up (a test that wants one says so in
    ``extra``: every spawned server would otherwise load every production model in the background)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")}
    env.update({"MLGATE_HOME": str(home), "MLGATE_WARM_ALIASES": "", **extra})
    return env


def spawn_server(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`mlgate serve …` with its log in a temporary file (a pipe nobody reads would fill and block it)."""
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="mlgate-serve-", suffix=".log", delete=False) as log:
        proc = subprocess.Popen(  # the child has its own copy of the descriptor
            [sys.executable, "-m", "mlgate", "serve", *args], env=env, stdout=subprocess.DEVNULL, stderr=log
        )
    proc.log_path = log.name  # type: ignore[attr-defined]
    return proc


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    def answers() -> bool:
        if proc.poll() is not None:
            log = getattr(proc, "log_path", None)
            err = Path(log).read_text()[-2000:] if log else ""
            raise RuntimeError(f"server exited early: {err}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout, every=0.1, what=f"{url} answers")


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    *,
    every: float = 0.01,
    what: str | Callable[[], str] = "",
) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` seconds pass (fails,
    naming ``what``: a text, or a function giving one then, e.g. a log's tail). The one way a test waits
    for something another thread or process does; a predicate that raises (a process died) stops it."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {_what(what, predicate)}")
        time.sleep(every)


def _what(what: str | Callable[[], str], predicate: Any) -> str:
    return (what() if callable(what) else what) or str(getattr(predicate, "__name__", predicate))


async def await_until(
    predicate: Callable[[], Awaitable[Any]] | Callable[[], Any],
    timeout: float = 10.0,
    *,
    every: float = 0.01,
    what: str | Callable[[], str] = "",
) -> Any:
    """``wait_until`` in async code: ``predicate`` may be a coroutine function; the loop keeps running."""
    import inspect

    import anyio

    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {_what(what, predicate)}")
        await anyio.sleep(every)


_TEMPLATE: list[Path] = []


def mlflow_db(root: Path) -> str:
    """``root/mlflow.db`` as MLflow creates it on first use, already migrated (a copy of one made per test
    process: creating it is MLflow's slowest step, seconds on a busy machine, and the file is the same every
    time); its ``sqlite:///`` URI. An existing file is left alone."""
    import shutil

    if not _TEMPLATE:
        import atexit
        import tempfile

        from mlflow import MlflowClient

        folder = tempfile.mkdtemp(prefix="mlgate-mlflow-template-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = Path(folder) / "mlflow.db"
        MlflowClient(tracking_uri=f"sqlite:///{path}", registry_uri=f"sqlite:///{path}").search_experiments()
        _TEMPLATE.append(path)
    target = root / "mlflow.db"
    if not target.exists():
        shutil.copyfile(_TEMPLATE[0], target)
    return f"sqlite:///{target}"


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


@contextmanager
def mlflow_at(uri: str, experiment: str = "tests") -> Iterator[None]:
    """Plain MLflow calls (``log_model(..., registered_model_name=…)``) go to ``uri``: its tracking *and*
    registry URI and ``MLFLOW_TRACKING_URI`` are process-wide (a Registrar sets them too), so all three are
    pointed at ``uri`` and restored afterwards. Runs go to ``experiment``, whose artifacts live beside the
    database (``mlflow.set_experiment(name)`` would put them under ``./mlruns`` in the working directory)."""
    import mlflow

    assert uri.startswith("sqlite:///"), uri
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # the fluent API remembers the experiment a former test made active, in another database: make this one's
    found = mlflow.get_experiment_by_name(experiment)
    artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    mlflow.set_experiment(
        experiment_id=found.experiment_id
        if found is not None
        else mlflow.create_experiment(experiment, artifact_location=artifacts)
    )
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
        if before[2] is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before[2]
