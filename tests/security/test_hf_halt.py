"""`hf:org/repo` is a halt scope: halting a pulled Hub repository refuses every revision of it, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import IRIS_ROW, tool_payload
from tests._support.hub import Hub

pytestmark = pytest.mark.anyio


async def test_halting_hf_repo_refuses_its_snapshots_and_not_other_models(
    hub_env: Hub,
    demo_home: Path,
    tmp_path: Path,
) -> None:
    settings = Settings(
        home=demo_home, pull_allowlist=["acme"], state_url=f"sqlite:///{tmp_path / 'state.db'}"
    )
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        err, pulled = tool_payload(
            await c.call_tool(
                "ml_pull",
                {"repo_id": "acme/iris-onnx", "revision": "v1", "patterns": ["*.onnx", "config.json"]},
            )
        )
        assert not err, pulled
        ref = f"hf:acme/iris-onnx@{hub_env.iris_v1}"
        call = {"model": ref, "features": [IRIS_ROW]}
        assert not tool_payload(await c.call_tool("ml_classify", call))[0]

        err, halted = tool_payload(
            await c.call_tool("ml_halt", {"model": "hf:acme/iris-onnx", "reason": "suspicious upload"})
        )
        assert not err and halted["scope"] == "hf:acme/iris-onnx", halted
        err, msg = tool_payload(await c.call_tool("ml_classify", call))
        assert err and "suspicious upload" in msg and "hf:acme/iris-onnx" in msg, msg
        err, msg = tool_payload(await c.call_tool("ml_classify", {**call, "model": "hf:acme/iris-onnx@v1"}))
        assert err and "suspicious upload" in msg
        # other models are served
        err, out = tool_payload(
            await c.call_tool("ml_classify", {"model": "demo-classifier@1", "features": [IRIS_ROW]})
        )
        assert not err, out

        assert not tool_payload(await c.call_tool("ml_resume", {"model": "hf:acme/iris-onnx"}))[0]
        assert not tool_payload(await c.call_tool("ml_classify", call))[0]
    await rt.aclose()
