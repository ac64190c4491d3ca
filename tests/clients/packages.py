"""Node 22, the pinned MCP client packages and TypeScript, from the npm registry, in the conformance suite's cache.

The cache (``.conformance/`` at the repository root, git-ignored) and its Node come from
``tests/conformance/test_conformance.py``; this module adds the MCP Inspector, the TypeScript SDK and the TypeScript compiler to
the same ``package.json`` (keeping the suite and Node at their pins, so neither test reinstalls the
other's packages) and runs ``npm install`` only when a pinned version is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conformance.test_conformance import (
    CACHE,
    NODE_PACKAGE,
    NODE_VERSION,
    SUITE_PACKAGE,
    SUITE_VERSION,
    _installed_version,
    _node_bin,
)

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
        any(_installed_version(name) != version for name, version in PINS.items())
        or not (_node_bin() / "node").exists()
    ):
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip(
                "npm is not installed: cannot fetch Node 22, the MCP Inspector, the TypeScript SDK and TypeScript"
            )
        CACHE.mkdir(exist_ok=True)
        (CACHE / "package.json").write_text(
            json.dumps(
                {
                    "private": True,
                    "description": "mlgate test cache: the MCP conformance suite, MCP clients and the Node they need "
                    "(git-ignored)",
                    "dependencies": PINS,
                },
                indent=2,
            )
            + "\n"
        )
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CACHE,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"npm install in {CACHE} failed:\n{done.stdout}\n{done.stderr}"
    missing = {
        name: _installed_version(name)
        for name, version in PINS.items()
        if _installed_version(name) != version
    }
    assert not missing, f"npm did not install the pinned versions in {CACHE}: {missing}"
    return CACHE / "node_modules"


def node() -> str:
    return str(_node_bin() / "node")


def node_env() -> dict[str, str]:
    """The environment for Node 22 tools: its bin first on PATH, no colours."""
    return {
        **os.environ,
        "PATH": f"{_node_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
    }
