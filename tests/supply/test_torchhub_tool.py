"""An agent's TorchHub pull through ml_pull: the operator's rules (allow-list, pin, nothing but the archive
endpoint), a version registered without running hubconf.py, refused by name until an operator admits it
with the real `mlgate torchhub admit` / `mlgate models admit` commands, then served."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.adapters.torch_hubconf import unpack
from mlgate.config import Settings
from mlgate.models.resolvers import MlflowResolver
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlgate_env
from tests._support.torchhub import FEATURES, GOOD, own_answer
from tests.supply.torchhub_server import Archives, sha

torch = pytest.importorskip("torch", reason="torch is an optional extra", exc_type=ImportError)
pytestmark = pytest.mark.anyio

ROW = {"a": 0.5, "b": -1.0, "c": 2.0}


def _env(home: Path, url: str, pins: dict[str, str]) -> dict[str, str]:
    return mlgate_env(
        home,
        MLGATE_TORCHHUB_ALLOWLIST="acme",
        MLGATE_TORCHHUB_ENDPOINT=url + "/{owner}/{repo}/tar.gz/{commit}",
        MLGATE_TORCHHUB_PINS=json.dumps(pins),
    )


def _operator(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _client(home: Path, url: str, pins: dict[str, str]) -> tuple[Client, Settings]:
    settings = Settings(
        home=home,
        torchhub_allowlist=["acme"],
        torchhub_endpoint=url + "/{owner}/{repo}/tar.gz/{commit}",
        torchhub_pins=pins,
        stdio_scopes=["ml:read", "ml:infer", "ml:manage"],
    )
    return Client(build_server(Runtime(settings))), settings


async def test_an_agents_pull_serves_only_after_an_operator_admits_it(
    tmp_path: Path, endpoint: tuple[Archives, str]
) -> None:
    archives, url = endpoint
    pins = {f"acme/tinyhub@{GOOD}": sha(archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"])}
    client, _ = _client(tmp_path, url, pins)
    updates: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(message or "")

    pull: dict[str, Any] = {
        "repo_id": f"torchhub:acme/tinyhub:tiny@{GOOD}",
        "revision": GOOD,
        "register_as": "tinyhub",
        "features": FEATURES,
    }
    async with client as c:
        before = len(archives.requests)
        result = await c.call_tool("ml_pull", pull, progress_callback=on_progress)
        assert not result.is_error, result.content
        out = result.structured_content
        assert out is not None
        assert out["registered"] == "tinyhub@1" and out["serves_as"] == ["predictor"]
        assert out["commit"] == GOOD and out["files"][0]["sha256"] == pins[f"acme/tinyhub@{GOOD}"]
        assert (
            "awaits an operator" in out["admission"]
            and f"torchhub admit acme/tinyhub@{GOOD}" in out["admission"]
        )
        assert any("fetching the pinned archive" in m for m in updates), updates
        assert archives.requests[before:] == [f"/acme/tinyhub/tar.gz/{GOOD}"]  # the archive endpoint only
        assert not (tmp_path / "torchhub" / "acme").exists()  # nothing unpacked for later, nothing run

        err, card = await call(c, "ml_model_info", {"model": "tinyhub@1"})
        assert not err, card
        assert [f["name"] for f in card["features"]] == FEATURES and card["runs_code"]
        err, msg = await call(c, "ml_predict", {"model": "tinyhub@1", "features": [ROW]})
        assert (
            err and "no operator admitted it" in msg and f"mlgate torchhub admit acme/tinyhub@{GOOD}" in msg
        )

        # the operator reviews the hubconf.py of the pinned archive and admits it, from a shell
        env = _env(tmp_path, url, pins)
        assert "admitted the hubconf.py" in _operator(env, "torchhub", "admit", f"acme/tinyhub@{GOOD}")
        err, out = await call(c, "ml_predict", {"model": "tinyhub@1", "features": [ROW]})
        assert not err, out
        snapshot = tmp_path / "snap"
        snapshot.mkdir()
        unpack(_archive(archives, tmp_path), snapshot)
        assert abs(out["predictions"][0] - own_answer(snapshot, [0.5, -1.0, 2.0])) < 1e-6

        # the same pull again: the same version, no second registration
        err, again = await call(c, "ml_pull", pull)
        assert not err and again["registered"] == "tinyhub@1" and "serves now" in again["admission"]

        # an entrypoint that downloads at load is refused, even admitted: nothing beyond the archive endpoint
        err, dl = await call(
            c, "ml_pull", {**pull, "repo_id": f"torchhub:acme/tinyhub:downloads@{GOOD}", "register_as": "dl"}
        )
        assert not err, dl
        err, msg = await call(c, "ml_predict", {"model": "dl@1", "features": [ROW]})
        assert err and "tried to download http://127.0.0.1:9/weights.pth" in msg


def _archive(archives: Archives, where: Path) -> Path:
    path = where / "archive.tar.gz"
    path.write_bytes(archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"])
    return path


async def test_models_admit_serves_one_version(tmp_path: Path, endpoint: tuple[Archives, str]) -> None:
    archives, url = endpoint
    pins = {f"acme/tinyhub@{GOOD}": sha(archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"])}
    client, _ = _client(tmp_path, url, pins)
    async with client as c:
        args = {"repo_id": "torchhub:acme/tinyhub:quietly", "revision": GOOD, "features": FEATURES}
        err, out = await call(c, "ml_pull", {**args, "register_as": "quiet"})
        assert not err and out["registered"] == "quiet@1", out
        err, msg = await call(c, "ml_predict", {"model": "quiet@1", "features": [ROW]})
        assert err and "mlgate models admit quiet 1" in msg
        _operator(_env(tmp_path, url, pins), "models", "admit", "quiet", "1")
        err, msg = await call(c, "ml_predict", {"model": "quiet@1", "features": [ROW]})
        assert err and "tried to download http://127.0.0.1:9/telemetry" in msg  # admitted, still offline


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"pins": {}}, "no SHA-256 is pinned"),
        ({"pins": {f"acme/tinyhub@{GOOD}": "0" * 64}}, "not the pinned"),
        ({"repo_id": f"torchhub:other/tinyhub:tiny@{GOOD}"}, "not on the TorchHub allow-list"),
        ({"repo_id": "torchhub:acme/tinyhub:tiny@main", "revision": "main"}, "not a commit"),
        ({"revision": "1" * 39 + "2"}, "but revision is"),
        ({"features": []}, "needs its input feature names"),
        ({"register_as": None}, "register_as is required"),
    ],
)
async def test_refusals_name_the_rule_and_register_nothing(
    tmp_path: Path, endpoint: tuple[Archives, str], change: dict[str, Any], expected: str
) -> None:
    archives, url = endpoint
    pins = change.pop("pins", {f"acme/tinyhub@{GOOD}": sha(archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"])})
    client, settings = _client(tmp_path, url, pins)
    args = {
        "repo_id": f"torchhub:acme/tinyhub:tiny@{GOOD}",
        "revision": GOOD,
        "register_as": "tinyhub",
        "features": FEATURES,
        **change,
    }
    async with client as c:
        err, msg = await call(c, "ml_pull", {k: v for k, v in args.items() if v is not None})
    assert err and expected in msg, msg
    assert MlflowResolver(settings).registry.find_version("tinyhub", {}) is None
    root = tmp_path / "torchhub"
    assert not root.exists() or not list(root.iterdir())
