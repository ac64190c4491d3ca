"""A real MCP Apps host for the views: ext-apps' AppBridge (npm) in Debian's Chromium, on a running mlgate.

``.views-host/`` (git-ignored, at the repository root) holds the pinned npm packages and the host
script bundled from ``host.mjs`` by esbuild; npm runs only when a pin is missing. The host page is
served by Playwright at mlgate's own origin (``/host/…``), so the page, its MCP client and the views
need no other origin: a test can assert that no request leaves it. mlgate runs with dev auth on a copy
of the session's demo home; tokens are minted with its dev key.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlgate.config import Settings
from tests._support import free_port, mlgate_env, spawn_server, wait_http
from tests._support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_or_skip
from tests._support.node import npm_install
from tests._support.views import Gate, HostPage

HERE = Path(__file__).parent
CACHE = HERE.parents[1] / ".views-host"
PINS = {
    "@modelcontextprotocol/ext-apps": "2.0.4",
    "@modelcontextprotocol/client": "2.4.0",
    "@modelcontextprotocol/core": "2.4.0",
    "zod": "4.6.7",
    "esbuild": "0.25.12",
}


def _installed(name: str) -> str | None:
    try:
        return str(json.loads((CACHE / "node_modules" / name / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="session")
def host_script() -> bytes:
    """The host page's script: host.mjs and ext-apps' AppBridge with the MCP client, bundled for the browser."""
    if any(_installed(n) != v for n, v in PINS.items()):
        npm_install(
            CACHE,
            PINS,
            "mlgate views test host (git-ignored)",
            what="@modelcontextprotocol/ext-apps for the test host",
        )
    shutil.copy(HERE / "host.mjs", CACHE / "host.mjs")  # esbuild resolves packages from the entry's folder
    done = subprocess.run(
        [str(CACHE / "node_modules" / ".bin" / "esbuild"), "host.mjs", "--bundle", "--format=esm",
         "--platform=browser", "--log-level=warning", "--outfile=host.js"],
        cwd=CACHE,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"esbuild failed:\n{done.stdout}\n{done.stderr}"
    return (CACHE / "host.js").read_bytes()


@pytest.fixture(scope="module")
def gate(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    chromium_or_skip()
    home = tmp_path_factory.mktemp("views") / "home"
    shutil.copytree(demo_home, home, ignore=shutil.ignore_patterns("state.db*", "running-server*"))
    _carry_admissions(Settings(home=demo_home), Settings(home=home), ["demo-forecaster"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = mlgate_env(home, MLGATE_DEV_AUTH="1", MLGATE_CAPTURE="demo-regressor")
    proc = spawn_server(["--http", "--host", "127.0.0.1", "--port", str(port)], env)
    try:
        wait_http(base + "/healthz", proc)
        yield Gate(base, f"{base}/mcp/ml", Settings(home=home, dev_auth=True, resource_url=f"{base}/mcp/ml"))
    finally:
        proc.terminate()
        proc.wait(10)


def _carry_admissions(source: Settings, target: Settings, names: list[str]) -> None:
    """The demo's admissions of ``names`` version 1 (pickled models), into the copy's own state database."""
    from mlgate.state.admissions import AdmissionBook
    from mlgate.state.db import StateDB

    old, new = StateDB(source.state), StateDB(target.state)
    try:
        for name in names:
            found = AdmissionBook(old).get(name, 1)
            assert found is not None, f"the demo home has no admission of {name}@1"
            AdmissionBook(new).admit(name, 1, found.digest, found.by, "carried over by the views test")
    finally:
        old.close()
        new.close()


@pytest.fixture
def host(gate: Gate, host_script: bytes) -> Iterator[HostPage]:
    """A fresh host page at mlgate's origin, recording every request and console message of every frame."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    html = (HERE / "host.html").read_bytes()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 960, "height": 900})
            files = {
                "/host/index.html": (html, "text/html"),
                "/host/host.js": (host_script, "text/javascript"),
            }

            def serve(route: Any) -> None:
                body, kind = files[route.request.url.removeprefix(gate.base)]
                route.fulfill(status=200, body=body, content_type=kind)

            page.route(f"{gate.base}/host/**", serve)
            found = HostPage(page, [], [])
            page.on("request", lambda r: found.requests.append(r.url))
            page.on("console", lambda m: found.console.append(f"{m.type}: {m.text}"))
            page.goto(f"{gate.base}/host/index.html")
            page.wait_for_selector("body[data-ready='1']")
            yield found
        finally:
            browser.close()
