"""Over real HTTP with real dev-auth JWTs: a token without ml:manage is refused ml_record_actuals (403
insufficient_scope naming ml:manage) and records nothing; one with ml:manage records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import httpx

from tests._support import free_port, mlgate_env, spawn_server, wait_http
from tests._support.monitoring import FEATURES, Plain, records, regression_data

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _rpc(url: str, tok: str, name: str, arguments: dict[str, Any]) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return httpx.post(url, headers={**ACCEPT, "Authorization": f"Bearer {tok}"}, json=body, timeout=60)


def _result(r: httpx.Response) -> dict[str, object]:
    text = r.text
    payload = json.loads(text[text.index("{") :] if not text.startswith("{") else text)
    out: dict[str, object] = payload["result"]["structuredContent"]
    return out


def test_recording_actuals_over_http_needs_ml_manage(plain: Plain, tmp_path: Path) -> None:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    env = mlgate_env(
        tmp_path, MLGATE_DEV_AUTH="1", MLGATE_RESOURCE_URL=resource, MLGATE_TRACKING_URI=plain.uri,
        MLGATE_TRUSTED_MODELS="mon-*", MLGATE_CAPTURE="mon-*",
    )  # fmt: skip
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")

    def token(scope: str) -> str:
        args = [sys.executable, "-m", "mlgate", "token", "--scope", scope]
        return subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()

    proc = spawn_server(["--http", "--port", str(port), "--stateless"], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        agent = token("ml:read ml:infer")
        x, y = regression_data(1, seed=81)
        r = _rpc(resource, agent, "ml_predict", {"model": "mon-reg@1", "features": records(x, FEATURES)})
        assert r.status_code == 200, r.text
        ids = _result(r)["prediction_ids"]
        assert isinstance(ids, list) and len(ids) == 1
        actuals = {"model": "mon-reg", "actuals": {ids[0]: float(y[0])}}
        refused = _rpc(resource, agent, "ml_record_actuals", actuals)
        assert refused.status_code == 403
        challenge = refused.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="ml:manage"' in challenge
        looked = _rpc(resource, agent, "ml_performance", {"model": "mon-reg"})
        assert looked.status_code == 200 and _result(looked)["versions"][0]["matched"] == 0  # type: ignore[index]
        ok = _rpc(resource, token("ml:manage"), "ml_record_actuals", actuals)
        assert ok.status_code == 200 and _result(ok)["recorded"] == 1
    finally:
        proc.terminate()
        proc.wait(15)


def test_a_second_subject_squatting_keys_over_http(plain: Plain, tmp_path: Path) -> None:
    """Two dev JWTs with different subjects: Bob (ml:infer) predicts wild records under Alice's keys after
    her; Alice's actuals by key join her predictions only (no degradation), and Bob's token with ml:manage
    records nothing for her ids (unknown)."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp/ml"
    env = mlgate_env(
        tmp_path, MLGATE_DEV_AUTH="1", MLGATE_RESOURCE_URL=resource, MLGATE_TRACKING_URI=plain.uri,
        MLGATE_TRUSTED_MODELS="mon-*", MLGATE_CAPTURE="mon-*",
        MLGATE_QUALITY_RULES=json.dumps({"mon-reg": {"max_mae": 1.0, "min_actuals": 5}}),
    )  # fmt: skip
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")

    def token(scope: str, subject: str) -> str:
        args = [sys.executable, "-m", "mlgate", "token", "--scope", scope, "--subject", subject]
        return subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=60, check=True
        ).stdout.strip()

    proc = spawn_server(["--http", "--port", str(port), "--stateless"], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        alice = token("ml:read ml:infer ml:manage", "alice")
        bob = token("ml:read ml:infer", "bob")
        x, y = regression_data(8, seed=93)
        keys = [f"day-{i}" for i in range(8)]
        mine = _rpc(
            resource,
            alice,
            "ml_predict",
            {"model": "mon-reg@1", "features": records(x, FEATURES), "keys": keys},
        )
        wild = _rpc(
            resource,
            bob,
            "ml_predict",
            {"model": "mon-reg@1", "features": records(x * 50, FEATURES), "keys": keys},
        )
        assert mine.status_code == 200 and wild.status_code == 200, (mine.text, wild.text)
        a_ids = _result(mine)["prediction_ids"]
        assert isinstance(a_ids, list)
        actuals = {"model": "mon-reg", "actuals": {k: float(v) for k, v in zip(keys, y, strict=True)}}
        done = _result(_rpc(resource, alice, "ml_record_actuals", actuals))
        assert (done["recorded"], done["unknown"], done["degraded"]) == (8, [], [])
        perf = _result(_rpc(resource, alice, "ml_performance", {"model": "mon-reg"}))
        (v,) = cast(list[dict[str, Any]], perf["versions"])
        assert v["matched"] == 8 and v["predictions"] == 16 and v["live"]["mae"] < 1.0 and v["alerts"] == []
        squat = _result(_rpc(resource, token("ml:manage", "bob"), "ml_record_actuals",
                             {"model": "mon-reg", "actuals": {a_ids[0]: 1e6}}))  # fmt: skip
        assert (squat["recorded"], squat["unknown"]) == (0, [a_ids[0]])
    finally:
        proc.terminate()
        proc.wait(15)
