"""Node 22 and the pinned npm packages of the tests, in one cache: ``.conformance/`` at the repository root
(git-ignored), one ``package.json``.

``ensure_suite`` installs Node and the MCP conformance suite (tests/conformance); ``ensure_clients`` adds the MCP
Inspector, the TypeScript SDK and the TypeScript compiler (tests/clients, tests/console) to the same
``package.json``, keeping the suite and Node at their pins so that neither reinstalls the other's packages.
npm runs only when a pinned version is missing.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".conformance"

SUITE_PACKAGE = "@modelcontextprotocol/conformance"
SUITE_VERSION = "0.1.16"
NODE_VERSION = "22.23.3"
_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
NODE_PACKAGE = (
    f"node-{sys.platform.removesuffix('2')}-{_ARCH.get(platform.machine().lower(), platform.machine())}"
)


def installed_version(package: str) -> str | None:
    manifest = CACHE / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def node_bin() -> Path:
    return CACHE / "node_modules" / NODE_PACKAGE / "bin"


def npm_install(folder: Path, dependencies: dict[str, str], description: str, *, what: str) -> None:
    """``folder/package.json`` with ``dependencies``, then ``npm install`` in ``folder``; without npm the test is
    skipped (``what``: what it cannot fetch)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: cannot fetch {what}")
    folder.mkdir(exist_ok=True)
    package = {"private": True, "description": description, "dependencies": dependencies}
    (folder / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"npm install in {folder} failed:\n{done.stdout}\n{done.stderr}"


def ensure_suite() -> Path:
    """Node 22 and the pinned suite in ``.conformance/``, installed with npm when missing; the suite's CLI."""
    cli = CACHE / "node_modules" / SUITE_PACKAGE / "dist" / "index.js"
    ready = (
        installed_version(SUITE_PACKAGE) == SUITE_VERSION
        and installed_version(NODE_PACKAGE) == NODE_VERSION
        and (node_bin() / "node").exists()
        and cli.exists()
    )
    if not ready:
        npm_install(
            CACHE,
            {NODE_PACKAGE: NODE_VERSION, SUITE_PACKAGE: SUITE_VERSION},
            "mlgate test cache: the MCP conformance suite and the Node it needs (git-ignored)",
            what="Node 22 and the MCP conformance suite",
        )
    node_version = subprocess.run(
        [str(node_bin() / "node"), "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    assert node_version == f"v{NODE_VERSION}", f"unexpected Node in {CACHE}: {node_version!r}"
    return cli


INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector"
INSPECTOR_VERSION = "2.12.0"
SDK_PACKAGE = "@modelcontextprotocol/sdk"
SDK_VERSION = "1.32.2"
# the compiler that type-checks the console's and the views' JavaScript (tests/console/test_typecheck.py);
# 6.0 is the last release written in TypeScript itself (one package, no per-platform binary)
TYPESCRIPT_PACKAGE = "typescript"
TYPESCRIPT_VERSION = "6.0.3"

PINS = {
    NODE_PACKAGE: NODE_VERSION,
    SUITE_PACKAGE: SUITE_VERSION,
    INSPECTOR_PACKAGE: INSPECTOR_VERSION,
    SDK_PACKAGE: SDK_VERSION,
    TYPESCRIPT_PACKAGE: TYPESCRIPT_VERSION,
}


def ensure_clients() -> Path:
    """The cache's ``node_modules`` with every pin installed (npm install when one is missing); skips without npm."""
    if (
        any(installed_version(name) != version for name, version in PINS.items())
        or not (node_bin() / "node").exists()
    ):
        npm_install(
            CACHE,
            PINS,
            "mlgate test cache: the MCP conformance suite, MCP clients and the Node they need (git-ignored)",
            what="Node 22, the MCP Inspector, the TypeScript SDK and TypeScript",
        )
    missing = {
        name: installed_version(name) for name, version in PINS.items() if installed_version(name) != version
    }
    assert not missing, f"npm did not install the pinned versions in {CACHE}: {missing}"
    return CACHE / "node_modules"


def node() -> str:
    return str(node_bin() / "node")


def node_env() -> dict[str, str]:
    """The environment for Node 22 tools: its bin first on PATH, no colours."""
    return {
        **os.environ,
        "PATH": f"{node_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
    }
