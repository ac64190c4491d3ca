"""The MCP Inspector CLI (pinned, on Node 22) against the real ``mlgate serve``: stdio and HTTP with a bearer token.

The commands are the ones a person runs to check a server before wiring it into Claude Desktop, VS Code
or Cursor, so they double as the check that those configurations work.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests._support import DIABETES_ROW, IRIS_ROW
from tests._support.clients import Inspector
from tests._support.devauth import mint

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
DESIGN_TOOLS = {
    "ml_list_models",
    "ml_model_info",
    "ml_predict",
    "ml_forecast",
    "ml_classify",
    "ml_segment",
    "ml_analyze",
    "ml_drift",
    "ml_pull",
    "ml_compile",
    "ml_promote",
    "ml_rollback",
    "ml_compare",
    "ml_retrain",
    "ml_list_skills",
    "ml_run_skill",
    "ml_halt",
    "ml_resume",
    "ml_serving_status",
}
MODERN = "2026-07-28"


def test_tools_list_strict_over_stdio(inspector: Inspector, demo_home: Path) -> None:
    done = inspector.stdio(demo_home, "--method", "tools/list", "--strict")
    assert done.returncode == 0, (
        f"exit {done.returncode} (6 = unportable tool schema):\n{done.stderr[-4000:]}"
    )
    names = [t["name"] for t in done.result["tools"]]
    assert set(names) >= DESIGN_TOOLS, f"missing: {sorted(DESIGN_TOOLS - set(names))}"
    assert [n for n in names if not NAME.match(n)] == []
    assert all(t.get("outputSchema") and t.get("annotations") for t in done.result["tools"])


def test_tool_call_over_stdio(inspector: Inspector, demo_home: Path) -> None:
    args = {"model": "demo-regressor@production", "features": [DIABETES_ROW, DIABETES_ROW]}
    done = inspector.stdio(
        demo_home, "--method", "tools/call", "--tool-name", "ml_predict", "--tool-args-json", json.dumps(args)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.result["structuredContent"]
    assert out["model"]["name"] == "demo-regressor" and out["model"]["version"] == 1
    assert len(out["predictions"]) == 2 and 25 < out["predictions"][0] < 350


def test_modern_protocol_over_stdio(inspector: Inspector, demo_home: Path) -> None:
    done = inspector.stdio(demo_home, "--protocol-era", "modern", "--method", "initialize")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.result["protocolVersion"] == MODERN and done.result["serverInfo"]["name"] == "mlgate"
    assert "ml_list_models" in done.result["instructions"]


def test_tool_calls_over_http_with_bearer_token(
    inspector: Inspector, authed_http: tuple[str, dict[str, str]]
) -> None:
    url, env = authed_http
    user = mint(env, "ml:read ml:infer")
    listed = inspector.http(url, user, "--method", "tools/call", "--tool-name", "ml_list_models")
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert {"demo-regressor", "demo-classifier"} <= {
        m["name"] for m in listed.result["structuredContent"]["models"]
    }

    args = {"model": "demo-classifier@1", "features": [IRIS_ROW]}
    done = inspector.http(
        url,
        user,
        "--method",
        "tools/call",
        "--tool-name",
        "ml_classify",
        "--tool-args-json",
        json.dumps(args),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.result["structuredContent"]["labels"] == ["setosa"]

    bad = inspector.http(
        url,
        user,
        "--method",
        "tools/call",
        "--tool-name",
        "ml_predict",
        "--tool-args-json",
        json.dumps({"model": "demo-regressor", "features": [DIABETES_ROW]}),
    )
    assert bad.returncode == 5 and bad.result["isError"] is True, (bad.returncode, bad.payload)
    assert "does not pin a version" in bad.result["content"][0]["text"]


def test_http_refusals_reach_the_inspector(
    inspector: Inspector, authed_http: tuple[str, dict[str, str]]
) -> None:
    url, env = authed_http
    anonymous = inspector.http(url, None, "--method", "tools/list")
    assert anonymous.returncode == 3 and anonymous.payload["error"]["code"] == "auth_required", (
        anonymous.payload
    )

    reader = mint(env, "ml:read")
    args = json.dumps({"model": "demo-regressor@1", "features": [DIABETES_ROW]})
    refused = inspector.http(
        url, reader, "--method", "tools/call", "--tool-name", "ml_predict", "--tool-args-json", args
    )
    assert refused.returncode != 0 and "ml:infer" in refused.payload["error"]["message"], refused.payload


def test_modern_protocol_over_http(inspector: Inspector, authed_http: tuple[str, dict[str, str]]) -> None:
    url, env = authed_http
    user = mint(env, "ml:read ml:infer")
    init = inspector.http(url, user, "--protocol-era", "modern", "--method", "initialize")
    assert init.returncode == 0, init.stderr[-3000:]
    assert init.result["protocolVersion"] == MODERN

    info = inspector.http(
        url,
        user,
        "--protocol-era",
        "modern",
        "--method",
        "tools/call",
        "--tool-name",
        "ml_model_info",
        "--tool-args-json",
        json.dumps({"model": "demo-forecaster@1"}),
    )
    assert info.returncode == 0, info.stderr[-3000:]
    example = info.result["structuredContent"]["example"]
    fc = inspector.http(
        url,
        user,
        "--protocol-era",
        "modern",
        "--method",
        "tools/call",
        "--tool-name",
        "ml_forecast",
        "--tool-args-json",
        json.dumps({**example, "horizon": 4, "levels": [0.9]}),
    )
    assert fc.returncode == 0, fc.stderr[-3000:]
    out = fc.result["structuredContent"]
    assert len(out["forecast"]) == 4 and out["intervals"][0]["level"] == 0.9 and out["model"]["version"] == 1


def test_prompt_over_http(inspector: Inspector, authed_http: tuple[str, dict[str, str]]) -> None:
    url, env = authed_http
    done = inspector.http(
        url,
        mint(env, "ml:read"),
        "--method",
        "prompts/get",
        "--prompt-name",
        "investigate_model",
        "--prompt-args",
        "model=demo-regressor",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.result["messages"][0]["content"]["text"]
    assert "'demo-regressor@production'" in text and "ml_model_info" in text
