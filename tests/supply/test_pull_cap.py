"""MLGATE_PULL_MAX_MB over real HTTP: a listing over the cap downloads nothing; a Hub that lists a small
file and streams a large one is cut off mid-stream, its partial files removed, nothing published."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import tool_payload
from tests._support.hub import Hub

pytestmark = pytest.mark.anyio
MB = 1024 * 1024


def _repo(hub: Hub, repo_id: str, files: dict[str, bytes]) -> str:
    repo = hub.fake.repo(repo_id)
    if not repo.branches:
        repo.commit(files, "first")
    return repo.branches["main"]


def _client(tmp_path: Path, max_mb: int) -> Client:
    settings = Settings(home=tmp_path / "home", pull_allowlist=["acme"], pull_max_mb=max_mb, job_wait_s=300)
    return Client(build_server(Runtime(settings)))


def _files_left(tmp_path: Path) -> list[Path]:
    root = tmp_path / "home" / "hub"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_a_listing_over_the_cap_downloads_nothing(hub_env: Hub, tmp_path: Path) -> None:
    commit = _repo(hub_env, "acme/big", {"model.onnx": os.urandom(2 * MB), "config.json": b"{}"})
    hub_env.fake.log.clear()
    async with _client(tmp_path, 1) as c:
        err, msg = tool_payload(await c.call_tool("ml_pull", {"repo_id": "acme/big", "revision": commit}))
    assert err and "MLGATE_PULL_MAX_MB" in msg and "model.onnx (2.0 MB)" in msg, msg
    assert "nothing was downloaded" in msg
    fetched = [r for r in hub_env.fake.requests_for("acme/big") if "/resolve/" in r[1]]
    assert fetched == [], fetched
    assert _files_left(tmp_path) == []
    # under a cap that holds it, the same pull works
    async with _client(tmp_path, 3) as c:
        err, out = tool_payload(await c.call_tool("ml_pull", {"repo_id": "acme/big", "revision": commit}))
    assert not err and out["downloaded"] == 2, out


async def test_a_stream_longer_than_listed_is_cut_off(hub_env: Hub, tmp_path: Path) -> None:
    commit = _repo(hub_env, "acme/liar", {"a.txt": b"small and honest", "model.onnx": b"x" * 1000})
    hub_env.fake.tamper[("acme/liar", "model.onnx")] = b"y" * (8 * MB)  # listed 1000 bytes, sends 8 MB
    async with _client(tmp_path, 1) as c:  # the listing (1 kB) passes the 1 MB cap
        err, msg = tool_payload(await c.call_tool("ml_pull", {"repo_id": "acme/liar", "revision": commit}))
    assert err and "model.onnx: the Hub sent more than 1,000 bytes" in msg, msg
    assert "partial files removed" in msg
    assert _files_left(tmp_path) == [], "no partial download, staging folder or snapshot stays"
    assert not list((tmp_path / "home" / "hub").glob(".staging-*"))
