"""The public contract, pinned: tool names, input and output properties, annotations, scopes,
``MLGATE_*`` setting names and the command line. A change here is a change clients see.

Regenerate deliberately with ``MLGATE_UPDATE_CONTRACT=1 pytest tests/contract`` and review the diff.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlgate.config import Settings

SNAPSHOT = Path(__file__).with_name("contract.json")
pytestmark = pytest.mark.anyio


def _props(schema: dict[str, Any] | None) -> dict[str, Any]:
    if not schema:
        return {}
    return {
        "properties": sorted(schema.get("properties", {})),
        "required": sorted(schema.get("required", [])),
    }


async def _tools(home: Path) -> dict[str, Any]:
    from mcp.server.mcpserver import MCPServer

    from mlgate.server.app import TOOL_SCOPES, build_server
    from mlgate.serving.runtime import Runtime

    server = build_server(Runtime(Settings(home=home)))
    out: dict[str, Any] = {}
    # the declared schemas and hints (the lean tools/list drops output ``required`` and the
    # hints a read-only tool does not need; the promise is still pinned here)
    for tool in await MCPServer.list_tools(server):
        ann = tool.annotations.model_dump(exclude_none=True) if tool.annotations else {}
        out[tool.name] = {
            "input": _props(tool.input_schema),
            "output": _props(tool.output_schema),
            "annotations": dict(sorted(ann.items())),
            "scope": TOOL_SCOPES[tool.name],
        }
    return dict(sorted(out.items()))


def _commands(parser: argparse.ArgumentParser) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = _commands(sub)
        elif action.option_strings and action.dest != "help":
            out.setdefault("options", []).append(max(action.option_strings, key=len))
        elif not action.option_strings:
            out.setdefault("positionals", []).append(action.dest)
    return out


def current(home: Path) -> dict[str, Any]:
    import anyio

    from mlgate.cli import _parser

    return {
        "tools": anyio.run(_tools, home),
        "settings": sorted(f"MLGATE_{name.upper()}" for name in Settings.model_fields),
        "cli": _commands(_parser()),
    }


def test_contract_matches_snapshot(tmp_path: Path) -> None:
    now = current(tmp_path)
    if os.environ.get("MLGATE_UPDATE_CONTRACT") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(SNAPSHOT.read_text())
    assert now == pinned, "the public contract changed; if on purpose, regenerate (see module docstring)"
