"""ml_pull against the local Hub with the real huggingface_hub client: pins, refusals, integrity, offline."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.errors import BackendError, IntegrityError, InvalidReference, NotFound, Refused
from mlgate.supply.pull import PullRequest, check_allowed, check_path, pull, store_for
from tests._support.hub import Hub

pytestmark = pytest.mark.anyio


async def _quiet(done: float, total: float | None, message: str) -> None:
    return None


def _settings(tmp_path: Path, allow: list[str] | None = None) -> Settings:
    return Settings(home=tmp_path / "home", pull_allowlist=["acme"] if allow is None else allow)


async def _pull(
    settings: Settings, repo: str, rev: str, *, admin: bool = False, progress: Any = _quiet, **kw: Any
) -> Any:
    return await pull(
        settings,
        PullRequest(repo, rev, **kw),
        caller=Caller("admin", "test", "memory", frozenset({"ml:admin"}))
        if admin
        else Caller("user", "test", "memory", frozenset({"ml:manage"})),
        progress=progress,
    )


def _cache_is_empty(settings: Settings) -> bool:
    root = settings.home / "hub"
    return not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


async def test_pinned_pull_verifies_every_file_and_stores_a_manifest(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    seen: list[tuple[float, float | None, str]] = []

    async def progress(done: float, total: float | None, message: str) -> None:
        seen.append((done, total, message))

    out = await _pull(s, "acme/iris-onnx", hub_env.iris_v1, progress=progress)
    assert out.commit == hub_env.iris_v1 and out.revision_kind == "commit" and out.downloaded == 4
    assert out.ref == f"hf:acme/iris-onnx@{hub_env.iris_v1}"
    by_path = {f.path: f for f in out.files}
    assert set(by_path) == {"model.onnx", "config.json", "README.md", "docs/notes.txt"}
    assert by_path["model.onnx"].sha256 == hashlib.sha256(hub_env.onnx_bytes).hexdigest()
    files = store_for(s).files_dir("acme/iris-onnx", out.commit)
    assert (files / "model.onnx").read_bytes() == hub_env.onnx_bytes
    assert store_for(s).manifest("acme/iris-onnx", out.commit).sha256 == out.manifest_sha256  # type: ignore[union-attr]
    assert (
        len([m for _, _, m in seen if m.startswith("downloading")]) == 4 and seen[-1][0] == seen[-1][1] == 5
    )
    assert [p for p, _, _ in seen] == sorted({p for p, _, _ in seen})  # strictly increasing
    assert not list((s.home / "hub").glob(".staging-*"))
    # a second pull of the same commit makes no request at all
    hub_env.fake.log.clear()
    again = await _pull(s, "acme/iris-onnx", hub_env.iris_v1)
    assert again.downloaded == 0 and again.manifest_sha256 == out.manifest_sha256
    assert hub_env.fake.requests_for("acme/iris-onnx") == []


async def test_tag_pull_resolves_to_its_commit_and_records_the_tag(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    out = await _pull(s, "acme/iris-onnx", "v1", patterns=("*.onnx", "config.json"))
    assert out.revision_kind == "tag" and out.commit == hub_env.iris_v1
    assert sorted(f.path for f in out.files) == ["config.json", "model.onnx"]
    assert store_for(s).commit_for("acme/iris-onnx", "v1") == (hub_env.iris_v1, "tag")
    # widening the patterns later adds the missing files to the same snapshot
    more = await _pull(s, "acme/iris-onnx", "v1")
    assert more.downloaded == 2 and len(more.files) == 4


async def test_branch_refused_unless_admin_allows_floating(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    with pytest.raises(Refused, match="is a branch"):
        await _pull(s, "acme/iris-onnx", "main")
    with pytest.raises(Refused, match="allow_floating on ml_pull needs the scope 'ml:admin'"):
        await _pull(s, "acme/iris-onnx", "main", allow_floating=True)
    assert _cache_is_empty(s)
    out = await _pull(s, "acme/iris-onnx", "main", allow_floating=True, admin=True)
    assert out.revision_kind == "branch" and out.commit == hub_env.iris_main


async def test_unlisted_repo_refused_before_any_network_call(hub_env: Hub, tmp_path: Path) -> None:
    hub_env.fake.log.clear()
    for allow in ([], ["acme"], ["other/elsewhere"]):
        with pytest.raises(Refused, match="not on the pull allow-list"):
            await _pull(_settings(tmp_path, allow), "other/unlisted", "0" * 40)
    assert hub_env.fake.requests_for("other/unlisted") == []
    check_allowed(["other/unlisted"], "other/unlisted")
    check_allowed(["other/*"], "other/unlisted")


async def test_digest_mismatch_aborts_and_leaves_nothing_in_the_cache(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    commit = hub_env.fake.repos["acme/tampered"].branches["main"]
    with pytest.raises(IntegrityError, match="do not match the digest the Hub lists"):
        await _pull(s, "acme/tampered", commit)
    assert _cache_is_empty(s)
    assert store_for(s).manifest("acme/tampered", commit) is None


async def test_pickle_files_refused_unless_admin_allows_them(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    commit = hub_env.fake.repos["acme/pickled"].branches["main"]
    hub_env.fake.log.clear()
    with pytest.raises(Refused, match=r"pickle-based files can run code when loaded: model\.pkl"):
        await _pull(s, "acme/pickled", commit)
    with pytest.raises(Refused, match="allow_pickle on ml_pull needs the scope 'ml:admin'"):
        await _pull(s, "acme/pickled", commit, allow_pickle=True)
    assert _cache_is_empty(s)
    assert not [r for r in hub_env.fake.log if "/resolve/" in r[1]]
    safe = await _pull(s, "acme/pickled", commit, patterns=("*.onnx", "*.json"))
    assert sorted(f.path for f in safe.files) == ["config.json", "model.onnx"]
    allowed = await _pull(s, "acme/pickled", commit, allow_pickle=True, admin=True)
    assert "model.pkl" in {f.path for f in allowed.files}


async def test_traversal_refused(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    commit = hub_env.fake.repos["acme/evil"].branches["main"]
    with pytest.raises(Refused, match="would escape the snapshot folder"):
        await _pull(s, "acme/evil", commit)
    assert _cache_is_empty(s) and not (tmp_path / "escape.txt").exists()
    for bad in ("../x", "a/../../x", "/etc/passwd", "a\\b", "a//b", "./a", "a\x00b"):
        with pytest.raises(Refused):
            check_path(bad)


async def test_offline_hit_and_miss_make_no_request(
    hub_env: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _settings(tmp_path)
    await _pull(s, "acme/iris-onnx", "v1", patterns=("*.onnx", "config.json"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_env.fake.log.clear()
    hit = await _pull(s, "acme/iris-onnx", "v1", patterns=("*.onnx",))
    assert hit.offline and hit.commit == hub_env.iris_v1 and [f.path for f in hit.files] == ["model.onnx"]
    assert (await _pull(s, "acme/iris-onnx", hub_env.iris_v1, patterns=("config.json",))).offline
    with pytest.raises(NotFound, match=r"lacks README\.md"):
        await _pull(s, "acme/iris-onnx", "v1")
    with pytest.raises(NotFound, match=r"offline .* not in the pull cache"):
        await _pull(s, "acme/diabetes-skops", hub_env.ridge)
    assert hub_env.fake.log == []


async def test_cancellation_leaves_no_partial_snapshot(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    commit = hub_env.fake.repos["acme/slow"].branches["main"]
    hub_env.fake.holding.clear()
    gate = hub_env.fake.hold[("acme/slow", "b.onnx")] = threading.Event()  # opened only after the cancel
    try:
        with anyio.move_on_after(10) as scope:
            async with anyio.create_task_group() as tg:

                async def progress(done: float, total: float | None, message: str) -> None:
                    if "b.onnx" in message:  # a.txt is in staging; cancel while b.onnx is in flight
                        tg.start_soon(_cancel_in_flight, hub_env.fake.holding, gate, tg.cancel_scope)

                tg.start_soon(lambda: _pull(s, "acme/slow", commit, progress=progress))
        assert not scope.cancelled_caught, "the pull was not cancelled in time"
    finally:
        gate.set()
        hub_env.fake.hold.clear()
        hub_env.fake.holding.clear()
    assert store_for(s).manifest("acme/slow", commit) is None
    assert _cache_is_empty(s)


async def _cancel_in_flight(
    holding: threading.Event, gate: threading.Event, scope: anyio.CancelScope
) -> None:
    """Cancel once the hub holds the slow body back (the download is in flight), then let the body come: the
    download stops between two chunks (it cannot before one arrives)."""
    assert await anyio.to_thread.run_sync(holding.wait, 10), "the slow body was never requested"
    scope.cancel()
    with anyio.CancelScope(shield=True):
        await anyio.lowlevel.checkpoint()  # the pull takes the cancel (and sets its stop) first
    gate.set()


async def test_bad_references_and_unknown_revisions(hub_env: Hub, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    with pytest.raises(InvalidReference):
        await _pull(s, "../etc", "v1")
    with pytest.raises(InvalidReference):
        await _pull(s, "acme/iris-onnx", "refs/pr/1")
    with pytest.raises(NotFound, match="no tag or branch named 'v9'"):
        await _pull(s, "acme/iris-onnx", "v9")
    with pytest.raises(NotFound, match="has no revision"):
        await _pull(s, "acme/iris-onnx", "f" * 40)
    with pytest.raises(NotFound, match="was not found on the Hub"):
        await _pull(s, "acme/missing", "f" * 40)
    with pytest.raises(NotFound, match="no file of acme/iris-onnx matches"):
        await _pull(s, "acme/iris-onnx", "v1", patterns=("*.gguf",))


async def test_unreachable_hub_is_a_clear_error(
    hub_env: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests._support import free_port

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendError, match="HF_HUB_OFFLINE=1"):
        await _pull(_settings(tmp_path), "acme/iris-onnx", "v1")
