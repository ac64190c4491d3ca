"""Every entry leaves its row through the one audited path, and no row carries an argument value.

Real server (SDK in-memory client), real SQLite state database; the database files are read as
bytes to prove a secret value or a stray feature name never reached them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import ResourceTemplateReference

from mlgate.config import Settings
from mlgate.errors import Unavailable
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, await_until, tool_payload

pytestmark = pytest.mark.anyio
REF = ResourceTemplateReference(type="ref/resource", uri="mlgate://models/{name}/{version}")
SECRET = "secret-value-123"
STRAY = "stray_secret_feature"


def _settings(home: Path, tmp: Path, **extra: Any) -> Settings:
    return Settings(home=home, state_url=f"sqlite:///{tmp / 'state.db'}", **extra)


def _db_bytes(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in tmp.glob("state.db*"))


async def _rows(rt: Runtime) -> list[Any]:
    await rt.ledger.flush()
    return await anyio.to_thread.run_sync(rt.state.tail, 100)


async def test_completion_resource_and_prompt_leave_rows(demo_home: Path, tmp_path: Path) -> None:
    rt = Runtime(_settings(demo_home, tmp_path, stdio_scopes=["ml:read"]))
    async with Client(build_server(rt)) as c:
        done = await c.complete(REF, {"name": "name", "value": "demo-s"})
        assert set(done.completion.values) == {"demo-segmenter", "demo-sentiment"}
        await c.read_resource("mlgate://models/demo-classifier/1")
        await c.get_prompt("investigate_model", {"model": "demo-regressor"})
        rows = await _rows(rt)
    await rt.aclose()
    assert [(r.tool, r.outcome, r.subject) for r in rows] == [
        ("completion", "ok", "local"),
        ("resource:model-card", "ok", "local"),
        ("prompt:investigate_model", "ok", "local"),
    ]
    assert rows[1].model_ref == "demo-classifier@1" and all(r.input_digest for r in rows)


async def test_a_stalled_ledger_refuses_resources_completions_and_prompts(
    demo_home: Path, tmp_path: Path
) -> None:
    rt = Runtime(_settings(demo_home, tmp_path, stdio_scopes=["ml:read"], ledger_fail_after_s=0.3))
    async with Client(build_server(rt)) as c:
        await c.read_resource("mlgate://models/demo-classifier/1")
        await rt.ledger.flush()
        locker = _lock(tmp_path / "state.db")
        try:
            await c.get_prompt("investigate_model", {"model": "demo-regressor"})  # queued, not committed
            await await_until(lambda: not rt.ledger.healthy(), 20, what="the ledger fails")
            with pytest.raises(Exception, match="audit ledger cannot be written"):
                await c.read_resource("mlgate://models/demo-classifier/1")
            with pytest.raises(Exception, match="audit ledger cannot be written"):
                await c.get_prompt("investigate_model", {"model": "demo-regressor"})
            with pytest.raises(Exception, match="audit ledger cannot be written"):
                await c.complete(REF, {"name": "name", "value": "demo"})
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    await rt.aclose()


async def test_bad_values_and_stray_names_reach_the_caller_not_the_ledger(
    demo_home: Path, tmp_path: Path
) -> None:
    rt = Runtime(_settings(demo_home, tmp_path))
    async with Client(build_server(rt)) as c:
        bad = {**DIABETES_ROW, "bmi": SECRET}
        err, text = tool_payload(
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [bad]})
        )
        assert err and SECRET in text and "bmi" in text  # the caller gets the full advice
        stray = {**DIABETES_ROW, STRAY: 1.0}
        err, text = tool_payload(
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": [stray]})
        )
        assert err and STRAY in text
        # refused by the tool's schema before it runs: the advice names the argument, so does the row
        err, text = tool_payload(
            await c.call_tool("ml_predict", {"model": "demo-regressor@1", "features": SECRET})
        )
        assert err and "'features' must be a list" in text
        iris = {"sepal_length": 5.1, "sepal_width": SECRET, "petal_length": 1.4, "petal_width": 0.2}
        err, text = tool_payload(
            await c.call_tool("ml_classify", {"model": "demo-classifier@1", "features": [iris]})
        )
        assert err and SECRET in text
        rows = await _rows(rt)
    await rt.aclose()
    assert [(r.tool, r.error_message) for r in rows] == [
        ("ml_predict", "InvalidInput: features[0].bmi"),
        ("ml_predict", "InvalidInput: features[0].*"),
        ("ml_predict", "InvalidInput: features"),
        ("ml_classify", "InvalidInput: features[0].sepal_width"),
    ]
    stored = _db_bytes(tmp_path)
    assert SECRET.encode() not in stored and STRAY.encode() not in stored


async def test_a_stalled_writer_fails_calls_closed_for_ledger_and_captures(
    demo_home: Path, tmp_path: Path
) -> None:
    rt = Runtime(_settings(demo_home, tmp_path, capture=["demo-regressor"], ledger_fail_after_s=0.3))
    args = {"model": "demo-regressor@1", "features": [DIABETES_ROW]}
    async with Client(build_server(rt)) as c:
        err, out = tool_payload(await c.call_tool("ml_predict", args))
        assert not err and out["prediction_ids"], out  # captures on: the capture tables exist
        await anyio.to_thread.run_sync(rt.captures.flush_blocking)
        locker = _lock(tmp_path / "state.db")
        try:
            err, out = tool_payload(await c.call_tool("ml_predict", args))  # accepted: rows queued in both
            assert not err, out
            await await_until(lambda: not rt.ledger.healthy(), 20, what="the ledger fails")
            await await_until(lambda: not _passes(rt.captures.check), 20, what="the captures fail")
            with pytest.raises(Unavailable, match="captured predictions cannot be written"):
                rt.captures.check()
            err, text = tool_payload(await c.call_tool("ml_predict", args))
            assert err and "audit ledger cannot be written" in text
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        await await_until(rt.ledger.healthy, 20, what="the ledger recovers")  # on the next commit
        await anyio.to_thread.run_sync(rt.captures.flush_blocking)
        rt.captures.check()
        err, out = tool_payload(await c.call_tool("ml_predict", args))
        assert not err, out
    await rt.aclose()


def _passes(check: Any) -> bool:
    try:
        check()
    except Unavailable:
        return False
    return True


def _lock(path: Path) -> sqlite3.Connection:
    """Another connection holding the database's write lock (what a stuck writer looks like)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    return conn
