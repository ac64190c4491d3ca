"""Real MCP clients driving mlgate: the stdio server command and environment a client is handed, and the MCP
Inspector CLI (``mcp-inspector --cli``) with its JSON outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._support.node import node

SERVE = [sys.executable, "-m", "mlgate", "serve"]


def server_env(home: Path) -> dict[str, str]:
    """What a client must hand the stdio server it spawns: clients pass only a few variables through."""
    env = {
        "MLGATE_HOME": str(home),
        "MLGATE_WARM_ALIASES": ",",
    }  # no warm-up ("," is an empty list; Inspector -e refuses "")
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


@dataclass
class Outcome:
    returncode: int
    payload: dict[str, Any]
    stderr: str

    @property
    def result(self) -> Any:
        assert "result" in self.payload, (
            f"no result (exit {self.returncode}): {self.payload} {self.stderr[-2000:]}"
        )
        return self.payload["result"]


@dataclass
class Inspector:
    """The MCP Inspector CLI (``mcp-inspector --cli``), with its catalog and storage in a temporary folder."""

    cli: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def stdio(self, home: Path, *args: str) -> Outcome:
        envs = [f"{k}={v}" for k, v in server_env(home).items()]
        return self.run(*SERVE, *(x for e in envs for x in ("-e", e)), *args)

    def http(self, url: str, token: str | None, *args: str) -> Outcome:
        # --header takes several values: it goes last. --stored-auth-only: never start an interactive login.
        auth = ["--header", f"Authorization: Bearer {token}"] if token else []
        return self.run("--server-url", url, "--transport", "http", "--stored-auth-only", *args, *auth)

    def run(self, *args: str) -> Outcome:
        done = subprocess.run(
            [node(), str(self.cli), "--cli", *args, "--format", "json"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # the result on stdout; an error envelope as the last line of stderr (after the server's own log)
        payload = _json(done.stdout) or _json(done.stderr) or {"unparsed": done.stdout[-2000:]}
        return Outcome(done.returncode, payload, done.stderr)


def _json(text: str) -> dict[str, Any] | None:
    """``text`` as one JSON object, else its last line as one, else None."""
    text = text.strip()
    for candidate in (text, text.splitlines()[-1] if text else ""):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
