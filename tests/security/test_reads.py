"""Reads leak nothing to callers without ml:read, leave their ledger rows, and show no server paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import ResourceTemplateReference

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import await_until, call

pytestmark = pytest.mark.anyio
REF = ResourceTemplateReference(type="ref/resource", uri="mlgate://models/{name}/{version}")


async def _rows(rt: Runtime, since: int) -> list[Any]:
    async def new_rows() -> list[Any]:  # rows of reads are written in the background
        return [r for r in await anyio.to_thread.run_sync(rt.state.tail, 50) if (r.id or 0) > since]

    rows: list[Any] = await await_until(new_rows, what="ledger rows of the reads")
    return rows


async def _mark(rt: Runtime) -> int:
    await rt.ledger.flush()  # rows of earlier calls (completions too) are in before the mark
    newest = await anyio.to_thread.run_sync(rt.state.tail, 1)
    return (newest[0].id or 0) if newest else 0


async def test_completion_and_cards_need_ml_read_and_leave_rows(demo_home: Path, tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    infer_only = Runtime(Settings(home=demo_home, state_url=state, stdio_scopes=["ml:infer"]))
    async with Client(build_server(infer_only)) as c:
        since = await _mark(infer_only)
        done = await c.complete(REF, {"name": "name", "value": "demo"})
        assert done.completion.values == []  # no model names to a caller that may not list them
        with pytest.raises(Exception, match="ml:read"):
            await c.read_resource("mlgate://models/demo-classifier/1")
        rows = await _rows(infer_only, since)
        assert {r.tool for r in rows} >= {"completion"} and all(r.outcome == "refused" for r in rows)
    await infer_only.aclose()

    reader = Runtime(Settings(home=demo_home, state_url=state, stdio_scopes=["ml:read"]))
    async with Client(build_server(reader)) as c:
        done = await c.complete(REF, {"name": "name", "value": "demo-s"})
        assert set(done.completion.values) == {"demo-segmenter", "demo-sentiment"}
        since = await _mark(reader)
        res = await c.read_resource("mlgate://models/demo-classifier/1")
        assert "# demo-classifier version 1" in getattr(res.contents[0], "text", "")
        rows = await _rows(reader, since)
        assert [(r.tool, r.outcome, r.model_ref) for r in rows] == [
            ("resource:model-card", "ok", "demo-classifier@1")
        ]
    await reader.aclose()


async def test_model_info_shows_no_server_paths(demo_home: Path) -> None:
    rt = Runtime(Settings(home=demo_home))
    async with Client(build_server(rt)) as c:
        err, info = await call(c, "ml_model_info", {"model": "demo-regressor@1"})
    assert not err, info
    text = repr(info)
    assert str(demo_home) not in text and "file:" not in text, info["lineage"]
    await rt.aclose()
