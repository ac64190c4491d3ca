"""A halt stops what is served, not one name for it: a pulled snapshot registered as NAME and the snapshot
itself (``hf:org/repo@commit``) serve the same bytes, so halting the name, the repository or the digest
refuses both — in this process and in a second replica sharing the state database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import IRIS_ROW, await_until, free_port, mlgate_env, spawn_server, tool_payload, wait_http
from tests._support.hub import Hub

pytestmark = pytest.mark.anyio
NAME = "iris-pulled"
REPO = "hf:acme/iris-onnx"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"  # a registry of its own: the pull registers a version
    Settings(home=home).ensure_home()
    return home


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def runtime(home: Path, state_url: str) -> Runtime:
    settings = Settings(home=home, pull_allowlist=["acme"], state_url=state_url, job_wait_s=300)
    return Runtime(settings)  # each test closes it


async def _pull(c: Client, hub_env: Hub) -> tuple[str, str]:
    err, pulled = tool_payload(
        await c.call_tool(
            "ml_pull",
            {
                "repo_id": "acme/iris-onnx",
                "revision": "v1",
                "patterns": ["*.onnx", "config.json"],
                "register_as": NAME,
            },
        )
    )
    assert not err, pulled
    assert pulled["registered"] == f"{NAME}@1", str(pulled)
    return f"hf:acme/iris-onnx@{hub_env.iris_v1}", pulled["registered"]


async def _classify(c: Client, model: str) -> tuple[bool, Any]:
    return tool_payload(await c.call_tool("ml_classify", {"model": model, "features": [IRIS_ROW]}))


async def _halt(c: Client, scope: str, reason: str) -> dict[str, Any]:
    err, out = tool_payload(await c.call_tool("ml_halt", {"model": scope, "reason": reason}))
    assert not err, out
    return dict(out)


async def _resume(c: Client, scope: str) -> None:
    err, out = tool_payload(await c.call_tool("ml_resume", {"model": scope}))
    assert not err and out["resumed"], out


async def test_every_scope_of_the_same_bytes_halts_every_ref(hub_env: Hub, runtime: Runtime) -> None:
    async with Client(build_server(runtime)) as c:
        hf_ref, named = await _pull(c, hub_env)
        err, hf_out = await _classify(c, hf_ref)
        assert not err, hf_out
        err, named_out = await _classify(c, named)
        assert not err, named_out

        # the registered name: the snapshot serving the same file is refused too, saying what matched
        await _halt(c, NAME, "name drill")
        err, msg = await _classify(c, hf_ref)
        assert err and "name drill" in msg and f"model '{NAME}' is halted" in msg, msg
        assert "matched by sha256:" in msg, msg
        assert (await _classify(c, named))[0]
        await _resume(c, NAME)
        assert not (await _classify(c, hf_ref))[0]

        # the Hub repository: the version registered from it is refused
        await _halt(c, REPO, "repo drill")
        err, msg = await _classify(c, named)
        assert err and "repo drill" in msg and f"matched by {REPO}" in msg, msg
        err, status = tool_payload(await c.call_tool("ml_serving_status", {}))
        assert not err, status
        cached = {f"{m['name']}@{m['version']}": m for m in status["models"]}
        assert cached[named]["halted_by"] == REPO and cached[named]["halt_matched"] == REPO, cached
        await _resume(c, REPO)
        assert not (await _classify(c, named))[0]

        # either digest (the registered artifact's, the pulled file's): both refs are refused
        for digest in (named_out["model"]["sha256"], hf_out["model"]["sha256"]):
            halted = await _halt(c, f"sha256:{digest.upper()}", "digest drill")
            assert halted["scope"] == f"sha256:{digest}", halted
            for ref in (hf_ref, named):
                err, msg = await _classify(c, ref)
                assert err and "digest drill" in msg, (ref, msg)
            err, status = tool_payload(await c.call_tool("ml_serving_status", {}))
            assert [h["scope"] for h in status["halts"]] == [f"sha256:{digest}"], status["halts"]
            await _resume(c, f"sha256:{digest}")
            assert not (await _classify(c, named))[0] and not (await _classify(c, hf_ref))[0]

        # a digest scope that is not one is refused with what it should look like
        err, msg = tool_payload(await c.call_tool("ml_halt", {"model": "sha256:xyz", "reason": "r"}))
        assert err and "64 hex digits" in msg, msg
        # other models keep serving while the pulled bytes are halted
        await _halt(c, NAME, "still halted")
        assert (await _classify(c, hf_ref))[0]
        assert not tool_payload(await c.call_tool("ml_list_models", {}))[0]
    await runtime.aclose()


async def test_a_second_replica_refuses_the_other_refs(
    hub_env: Hub, runtime: Runtime, home: Path, state_url: str
) -> None:
    async with Client(build_server(runtime)) as c:
        hf_ref, named = await _pull(c, hub_env)
        port = free_port()
        proc = spawn_server(
            ["--http", "--port", str(port)],
            mlgate_env(home, MLGATE_STATE_URL=state_url, MLGATE_PULL_ALLOWLIST="acme"),
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc)
            async with Client(f"http://127.0.0.1:{port}/mcp/ml") as b:
                assert not (await _classify(b, hf_ref))[0]
                assert not (await _classify(b, named))[0]
                await _halt(c, NAME, "replica drill")  # through this process; B reads it on its poll
                msg = await _refused_eventually(b, hf_ref)
                assert "replica drill" in msg and "matched by sha256:" in msg, msg
                await _resume(c, NAME)
                assert await _refused_eventually(b, named, until_served=True) == ""
                await _halt(c, REPO, "replica repo drill")
                msg = await _refused_eventually(b, named)
                assert "replica repo drill" in msg, msg
        finally:
            proc.terminate()
            proc.wait(15)
    await runtime.aclose()


async def _refused_eventually(client: Client, model: str, *, until_served: bool = False) -> str:
    """The refusal once the replica's poll has read the halt (or "" once it serves again)."""
    answer: list[str] = []

    async def changed() -> bool:
        err, msg = await _classify(client, model)
        answer[:] = [str(msg) if err else ""]
        return bool(err != until_served)

    # a bound on a poll of 0.5 s, not a timing assertion
    await await_until(changed, 30, every=0.05, what=f"the second replica changes its answer for {model}")
    return answer[0]
