"""One real `mlgate serve --http` with dev auth and one headless Chromium (the distribution's) per module.

The server's home is a copy of the session's demo home (its own state database and registry file;
a second demo-regressor version, which takes production, so that promoting version 1 back
meets a gate), its Hub is the
local test Hub (``tests._support.hub``), its TorchHub a local archive endpoint with one pinned repository, and ``MLGATE_JOB_WAIT_S=0`` makes every long call a job the
console follows. demo-regressor captures its predictions, with a rule on its live MAE.
Screenshots go to ``test-artifacts/console/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlgate.config import Settings
from tests._support import free_port, mlgate_env, spawn_server, wait_http
from tests._support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip
from tests._support.console import QUALITY_MAX_MAE_RATIO, TORCHHUB_COMMIT, Console
from tests._support.hub import Hub, local_hub
from tests._support.mcp_http import mcp_call


@pytest.fixture(scope="session")
def hub() -> Iterator[Hub]:
    with local_hub() as served:
        yield served


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
    hub: Hub,
    torchhub_endpoint: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Console]:
    chromium_or_skip()
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


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
