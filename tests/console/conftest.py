"""One real `mlgate serve --http` with dev auth and one headless Chromium (the distribution's) per module.

The server's home is a copy of the session's demo home (its own state database and registry file;
a second demo-regressor version, which takes production, so that promoting version 1 back
meets a gate), its Hub is the
local test Hub (``tests/supply``), its TorchHub a local archive endpoint with one pinned repository, and ``MLGATE_JOB_WAIT_S=0`` makes every long call a job the
console follows. demo-regressor captures its predictions, with a rule on its live MAE.
Screenshots go to ``test-artifacts/console/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlgate.config import Settings
from tests._support import free_port, mlgate_env, spawn_server, wait_http
from tests.supply.conftest import Hub, hub  # noqa: F401 (the session's local Hub, a fixture)

CHROMIUM = Path("/usr/bin/chromium")
QUALITY_MAX_MAE_RATIO = 1.5  # demo-regressor degrades when its live MAE passes 1.5× the registered one
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Console:
    base: str  # http://127.0.0.1:PORT
    mcp: str  # …/mcp/ml
    settings: Settings  # for minting tokens with the server's dev key
    hub: Hub

    def token(self, scopes: str, subject: str = "tester") -> str:
        from mlgate.auth.devkeys import mint_token

        return mint_token(self.settings, scopes.split(), subject=subject)


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() == 0:
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/services.sh (as `make test` does) to install chromium"
        )
    pytest.skip(
        f"{CHROMIUM} is missing and this user cannot install it (apt-get install chromium needs root)"
    )


TORCHHUB_COMMIT = "5" * 40


@pytest.fixture(scope="module")
def torchhub_endpoint() -> Iterator[tuple[str, str]]:
    """(endpoint URL, archive sha256) of acme/tinyhub@TORCHHUB_COMMIT; nothing of it runs at a pull."""
    from tests.supply.torchhub_server import HUBCONF, Archives, serve, sha, tarball

    archives = Archives()
    body = tarball({"hubconf.py": HUBCONF, "weights.safetensors": b"not read at a pull"})
    archives.files[f"/acme/tinyhub/tar.gz/{TORCHHUB_COMMIT}"] = body
    with serve(archives) as url:
        yield url, sha(body)


@pytest.fixture(scope="module")
def console(
    demo_home: Path,
    hub: Hub,  # noqa: F811
    torchhub_endpoint: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Console]:
    _chromium_or_skip()
    from mlgate.demo import BUILDERS
    from mlgate.models.registrar import Registrar

    home = tmp_path_factory.mktemp("console") / "home"
    shutil.copytree(demo_home, home, ignore=shutil.ignore_patterns("state.db*", "running-server*"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = mlgate_env(
        home,
        MLGATE_DEV_AUTH="1",
        MLGATE_PULL_ALLOWLIST="acme",
        MLGATE_TORCHHUB_ALLOWLIST="acme",
        MLGATE_TORCHHUB_ENDPOINT=torchhub_endpoint[0] + "/{owner}/{repo}/tar.gz/{commit}",
        MLGATE_TORCHHUB_PINS=json.dumps({f"acme/tinyhub@{TORCHHUB_COMMIT}": torchhub_endpoint[1]}),
        MLGATE_JOB_WAIT_S="0",
        MLGATE_CAPTURE="demo-regressor",  # live quality on the serving page (one model captures, others do not)
        # the agent's predictions and the owner's actuals join: one declared group (captures are per subject)
        MLGATE_CAPTURE_GROUPS='{"agent": "demand-team", "owner": "demand-team"}',
        MLGATE_QUALITY_RULES=json.dumps({"demo-regressor": {"max_mae_ratio": QUALITY_MAX_MAE_RATIO}}),
        HF_ENDPOINT=hub.url,
        HF_HUB_DISABLE_XET="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.pop("HF_TOKEN", None)
    proc = spawn_server(["--http", "--host", "127.0.0.1", "--port", str(port)], env)
    try:
        # while the server starts: version 2 of demo-regressor (it takes production; the registry is read live)
        BUILDERS["demo-regressor"](Registrar(Settings(home=home), admit_by="console test"))
        wait_http(base + "/healthz", proc)
        settings = Settings(home=home, dev_auth=True, resource_url=f"{base}/mcp/ml")
        console = Console(base, f"{base}/mcp/ml", settings, hub)
        # the server's first registry read imports MLflow: start it while the browser starts and signs in
        threading.Thread(target=_warm, args=(console,), daemon=True).start()
        yield console
    finally:
        proc.terminate()
        proc.wait(10)


def _warm(console: Console) -> None:
    with contextlib.suppress(Exception):
        mcp_call(console, console.token("ml:read"), "ml_list_models", {})


def mcp_call(console: Any, token: str, tool: str, args: dict[str, Any]) -> tuple[bool, Any]:
    """``console``: anything with the server's ``mcp`` URL (the console fixture, the views' gate)."""
    """One tool call by an MCP SDK client over streamable HTTP (in its own thread and event loop, away
    from Playwright's): (is_error, error text or structured result)."""
    out: dict[str, Any] = {}

    def run() -> None:
        import anyio
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async def go() -> None:
            async with (
                httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60) as http,
                Client(streamable_http_client(console.mcp, http_client=http)) as client,
            ):
                result = await client.call_tool(tool, args)
                text = " ".join(getattr(c, "text", "") for c in result.content)
                out["value"] = (result.is_error, text if result.is_error else result.structured_content)

        anyio.run(go)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(90)
    return out["value"]


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def traffic(
    console: Console, token: str, seconds: float, calls: list[tuple[str, dict[str, Any]]]
) -> threading.Thread:
    """A background MCP client that repeats ``calls`` for ``seconds`` (one session): load for the charts."""

    def run() -> None:
        import time

        import anyio
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        async def go() -> None:
            async with (
                httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60) as http,
                Client(streamable_http_client(console.mcp, http_client=http)) as client,
            ):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    for tool, args in calls:
                        await client.call_tool(tool, args)
                    await anyio.sleep(0.05)

        anyio.run(go)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
