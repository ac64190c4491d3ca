"""A read-only caller cannot satisfy require_drift_check: only an ml:manage caller's check is recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.artifacts import json_sha256 as input_digest
from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.lifecycle.gates import TAG_DRIFT
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call
from tests._support.lifecycle import make_data, records, tags

pytestmark = pytest.mark.anyio
Two = tuple[str, VersionInfo, VersionInfo]
GATES = {"require_drift_check": True}


@pytest.fixture
async def reader_client(demo_home: Path) -> AsyncIterator[Any]:
    rt = Runtime(Settings(home=demo_home, stdio_scopes=["ml:read"]))
    async with Client(build_server(rt)) as c:
        yield c
    await rt.aclose()


async def test_a_read_only_drift_check_answers_but_cannot_pass_the_gate(
    reader_client: Any, manager_client: Any, settings: Settings, two_versions: Two
) -> None:
    name, _, _ = two_versions
    same, _ = make_data(150, seed=8, offset=100.0)  # the distribution version 2 was trained on: no drift
    current = records(same)

    err, out = await call(reader_client, "ml_drift", {"model": f"{name}@2", "current": current})
    assert not err, out
    assert out["drift_detected"] is False and out["recorded"] is False
    assert "not recorded" in out["message"] and "ml:manage" in out["message"]
    assert TAG_DRIFT not in tags(settings, name, 2)
    err, out = await call(manager_client, "ml_promote", {"model": name, "version": 2, "gates": GATES})
    assert not err and out["promoted"] is False, out
    assert "no drift check is recorded" in out["failed_gates"][0]["reason"]

    err, out = await call(manager_client, "ml_drift", {"model": f"{name}@2", "current": current})
    assert not err and out["recorded"] is True, out
    record = json.loads(tags(settings, name, 2)[TAG_DRIFT])
    assert record["by"] == "local" and record["data_digest"] == input_digest(current)
    err, out = await call(manager_client, "ml_promote", {"model": name, "version": 2, "gates": GATES})
    assert not err and out["promoted"] is True, out


async def test_a_record_without_who_and_which_data_does_not_count(
    manager_client: Any, settings: Settings, two_versions: Two
) -> None:
    """What a read-only ml_drift used to write (or anyone writes by hand) leaves the gate failing."""
    from mlflow import MlflowClient

    name, _, _ = two_versions
    legacy = {
        "at": "2025-01-01T00:00:00Z",
        "by": "reader",
        "passed": True,
        "dataset_drift_score": 0.0,
        "n_drifted": 0,
        "total": 4,
    }
    MlflowClient(settings.tracking).set_model_version_tag(name, "2", TAG_DRIFT, json.dumps(legacy))
    err, out = await call(manager_client, "ml_promote", {"model": name, "version": 2, "gates": GATES})
    assert not err and out["promoted"] is False, out
    assert "does not count" in out["failed_gates"][0]["reason"]
