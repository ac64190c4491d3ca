"""ml_pull through the MCP in-memory client: progress, register_as, and inference on what was pulled."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, IRIS_ROW, call
from tests._support.hub import Hub

pytestmark = pytest.mark.anyio

MANAGER = ["ml:read", "ml:infer", "ml:manage"]


def _client(home: Path, scopes: list[str] | None = None) -> Client:
    settings = Settings(home=home, pull_allowlist=["acme"], stdio_scopes=scopes or ["all"])
    return Client(build_server(Runtime(settings)))


async def test_pull_register_and_serve_an_onnx_classifier(hub_env: Hub, demo_home: Path) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with _client(demo_home) as c:
        result = await c.call_tool(
            "ml_pull",
            {
                "repo_id": "acme/iris-onnx",
                "revision": "v1",
                "patterns": ["*.onnx", "config.json"],
                "register_as": "pulled-iris",
            },
            progress_callback=on_progress,
        )
        assert not result.is_error, result.content
        out = result.structured_content
        assert out["commit"] == hub_env.iris_v1 and out["registered"].startswith("pulled-iris@")
        assert out["serves_as"] == ["classifier"]
        assert any("downloading model.onnx" in (m or "") for _, _, m in updates)

        err, by_commit = await call(c, "ml_classify", {"model": out["ref"], "features": [IRIS_ROW]})
        assert not err, by_commit
        assert by_commit["labels"] == ["setosa"] and set(by_commit["probabilities"][0]) == {
            "setosa",
            "versicolor",
            "virginica",
        }
        assert by_commit["model"]["name"] == f"hf:acme/iris-onnx@{hub_env.iris_v1}"
        assert by_commit["model"]["sha256"] == hashlib.sha256(hub_env.onnx_bytes).hexdigest()

        err, card = await call(c, "ml_model_info", {"model": out["ref"]})
        assert not err, card
        assert card["interfaces"] == ["classifier"] and [f["name"] for f in card["features"]] == list(
            IRIS_ROW
        )
        assert card["lineage"]["hf.commit"] == hub_env.iris_v1

        err, by_tag = await call(c, "ml_classify", {"model": "hf:acme/iris-onnx@v1", "features": [IRIS_ROW]})
        assert not err and by_tag["model"]["name"] == by_commit["model"]["name"]

        err, registered = await call(c, "ml_classify", {"model": out["registered"], "features": [IRIS_ROW]})
        assert not err and registered["labels"] == ["setosa"]
        err, info = await call(c, "ml_model_info", {"model": out["registered"]})
        assert not err, info
        assert (
            info["lineage"]["hf.commit"] == hub_env.iris_v1 and info["lineage"]["hf.repo"] == "acme/iris-onnx"
        )
        assert info["lineage"]["hf.manifest_sha256"] == out["manifest_sha256"]

        again = (
            await call(
                c,
                "ml_pull",
                {
                    "repo_id": "acme/iris-onnx",
                    "revision": hub_env.iris_v1,
                    "patterns": ["*.onnx", "config.json"],
                    "register_as": "pulled-iris",
                },
            )
        )[1]
        assert again["downloaded"] == 0 and again["registered"] == out["registered"]


async def test_pull_and_predict_with_a_skops_regressor(hub_env: Hub, demo_home: Path) -> None:
    async with _client(demo_home) as c:
        err, out = await call(
            c,
            "ml_pull",
            {"repo_id": "acme/diabetes-skops", "revision": hub_env.ridge, "register_as": "pulled-ridge"},
        )
        assert not err, out
        assert out["serves_as"] == ["predictor"]
        features = [{f"x{i}": v for i, v in enumerate(DIABETES_ROW.values())}]
        err, pred = await call(c, "ml_predict", {"model": out["ref"], "features": features})
        assert err and "x0" in pred  # the skops model has no feature names: it asks for f0…f9
        features = [{f"f{i}": v for i, v in enumerate(DIABETES_ROW.values())}]
        err, pred = await call(c, "ml_predict", {"model": out["ref"], "features": features})
        assert not err, pred
        err, same = await call(c, "ml_predict", {"model": out["registered"], "features": features})
        assert not err and abs(pred["predictions"][0] - same["predictions"][0]) < 1e-9
        assert 25 < pred["predictions"][0] < 350


async def test_scopes_and_refusals_through_the_tool(hub_env: Hub, tmp_path: Path) -> None:
    async with _client(tmp_path / "home", MANAGER) as c:
        err, msg = await call(c, "ml_pull", {"repo_id": "acme/iris-onnx", "revision": "main"})
        assert err and "is a branch" in msg and "allow_floating" in msg
        err, msg = await call(
            c, "ml_pull", {"repo_id": "acme/iris-onnx", "revision": "main", "allow_floating": True}
        )
        assert err and "needs the scope 'ml:admin'" in msg
        err, msg = await call(c, "ml_pull", {"repo_id": "other/unlisted", "revision": "v1"})
        assert err and "allow-list" in msg
        err, msg = await call(
            c, "ml_predict", {"model": "hf:acme/never-pulled@v1", "features": [DIABETES_ROW]}
        )
        assert err and "has not been pulled" in msg
    async with _client(tmp_path / "home", ["ml:read", "ml:infer"]) as c:
        err, msg = await call(c, "ml_pull", {"repo_id": "acme/iris-onnx", "revision": "v1"})
        assert err and "needs the scope 'ml:manage'" in msg


async def test_a_tampered_snapshot_is_refused_at_load(hub_env: Hub, tmp_path: Path) -> None:
    from mlgate.supply.pull import store_for

    home = tmp_path / "home"
    async with _client(home) as c:
        err, out = await call(
            c,
            "ml_pull",
            {"repo_id": "acme/iris-onnx", "revision": "v1", "patterns": ["*.onnx", "config.json"]},
        )
        assert not err, out
    model = store_for(Settings(home=home)).files_dir("acme/iris-onnx", hub_env.iris_v1) / "model.onnx"
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    async with _client(home) as c:
        err, msg = await call(c, "ml_classify", {"model": out["ref"], "features": [IRIS_ROW]})
    assert err and "changed after it was pulled" in msg
