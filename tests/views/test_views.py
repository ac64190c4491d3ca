"""The MCP Apps views in a real host: ext-apps' AppBridge in Chromium, connected to a running mlgate.

Each view is rendered from a real tool result: the forecast chart plots the result's own numbers, the
model card shows the version's digest, and the serving panel's Halt button sends ml_halt through the
bridge (a second client's ml_predict is then refused) — or is disabled with "needs ml:halt" for a
token without that scope. No view breaks its Content-Security-Policy, and no request leaves the
page's origin. A host without the extension gets the same JSON, without the caller ``_meta``.
Screenshots go to ``test-artifacts/views/`` (docs/ keeps copies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests._support.mcp_http import mcp_call
from tests._support.views import Gate, HostPage

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "views"
HISTORY = [  # three years of monthly airline passengers: the demo forecaster needs two seasons at least
    112.0, 118.0, 132.0, 129.0, 121.0, 135.0, 148.0, 148.0, 136.0, 119.0, 104.0, 118.0,
    115.0, 126.0, 141.0, 135.0, 125.0, 149.0, 170.0, 170.0, 158.0, 133.0, 114.0, 140.0,
    145.0, 150.0, 178.0, 163.0, 172.0, 178.0, 199.0, 199.0, 184.0, 162.0, 146.0, 166.0,
]  # fmt: skip
VIEWS = {
    "ml_forecast": "ui://mlgate/forecast.html",
    "ml_model_info": "ui://mlgate/model-card.html",
    "ml_serving_status": "ui://mlgate/serving.html",
}


def start(host: HostPage, gate: Gate, scopes: str, subject: str = "viewer") -> dict[str, Any]:
    return host.call("([url, token]) => window.host.start(url, token)", gate.mcp, gate.token(scopes, subject))


def show(host: HostPage, tool: str, args: dict[str, Any], slot: str) -> dict[str, Any]:
    return host.call("([t, a, s]) => window.host.show(t, a, s)", tool, args, slot)


def clean(host: HostPage, gate: Gate) -> None:
    """No CSP violation in any frame, and every request went to the page's own origin."""
    violations = [m for m in host.console if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations
    elsewhere = [u for u in host.requests if not u.startswith(gate.base + "/")]
    assert elsewhere == [], elsewhere


def shot(frame: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    frame.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_tools_name_their_views(host: HostPage, gate: Gate) -> None:
    listed = start(host, gate, "ml:read")
    assert {tool: listed[tool] for tool in VIEWS} == VIEWS
    assert listed["ml_predict"] is None  # only the three have views


def test_forecast_chart_plots_the_results_numbers(host: HostPage, gate: Gate) -> None:
    start(host, gate, "ml:read ml:infer")
    args = {"model": "demo-forecaster@1", "history": HISTORY, "horizon": 12, "levels": [0.8, 0.95]}
    result = show(host, "ml_forecast", args, "forecast")
    assert not result.get("isError"), result
    out = result["structuredContent"]
    frame = host.page.frame_locator("#view-forecast")
    canvas = frame.locator("canvas.chart")
    canvas.wait_for()
    plotted = _plotted(canvas)
    n = len(HISTORY)
    assert plotted["history"] == [[i, v] for i, v in enumerate(HISTORY)]
    assert plotted["forecast"] == [[n + i, v] for i, v in enumerate(out["forecast"])]
    for band in out["intervals"]:
        drawn = plotted[f"{round(band['level'] * 100)}% interval"]
        assert drawn["lower"] == [[n + i, v] for i, v in enumerate(band["lower"])]
        assert drawn["upper"] == [[n + i, v] for i, v in enumerate(band["upper"])]
    stamp = frame.locator("#stamp")
    assert (
        out["model"]["name"] in stamp.inner_text()
        and frame.locator("#digest").inner_text() == out["model"]["sha256"]
    )
    shot(host.page.locator("#view-forecast"), "forecast")
    clean(host, gate)


def _plotted(canvas: Any) -> dict[str, Any]:
    import json

    value = canvas.get_attribute("data-plotted")
    assert value, "the chart plotted nothing"
    return json.loads(value)


def test_model_card_shows_the_versions_digest(host: HostPage, gate: Gate) -> None:
    start(host, gate, "ml:read")
    result = show(host, "ml_model_info", {"model": "demo-regressor@1"}, "card")
    info = result["structuredContent"]
    frame = host.page.frame_locator("#view-card")
    digest = frame.locator("#digest")
    digest.wait_for()
    assert digest.inner_text() == info["model"]["sha256"] and len(info["model"]["sha256"]) == 64
    features = frame.locator("#features tbody tr")
    assert features.count() == len(info["features"]) == 10
    bmi = next(f for f in info["features"] if f["name"] == "bmi")
    cells = frame.locator("#features tr[data-feature='bmi'] td").all_inner_texts()
    assert cells[0] == bmi["type"] and float(cells[1]) == pytest.approx(bmi["min"], abs=1e-3)
    assert float(cells[2]) == pytest.approx(bmi["max"], abs=1e-3)  # the training range
    assert set(info["metrics"]) <= set(frame.locator("#metrics").inner_text().split())
    assert "admission" in frame.locator("[data-part='admission'] h3").inner_text().lower()
    shot(host.page.locator("#view-card"), "model-card")
    clean(host, gate)


def test_halt_button_goes_through_the_bridge(host: HostPage, gate: Gate) -> None:
    operator = gate.token("ml:read ml:infer", "agent")
    assert mcp_call(gate, operator, "ml_predict", _predict())[0] is False  # serving before the halt
    start(host, gate, "ml:read ml:halt", "on-call")
    show(host, "ml_serving_status", {}, "serving")
    frame = host.page.frame_locator("#view-serving")
    row = frame.locator("tr[data-model='demo-regressor']")
    row.wait_for()
    assert row.locator("td.state").inner_text() == "serving"
    shot(host.page.locator("#view-serving"), "serving")
    row.locator("button.halt").click()
    frame.locator("#halts-table tr[data-scope='demo-regressor']").wait_for()
    halts = [c for c in host.call("() => window.host.calls") if c["name"] == "ml_halt"]
    assert [c["arguments"]["model"] for c in halts] == ["demo-regressor"]
    err, text = mcp_call(gate, operator, "ml_predict", _predict())  # another client, its own token
    assert err and "halted" in text.lower(), text
    assert "on-call" in frame.locator("#halts-table").inner_text()  # the user's own token made the call
    shot(host.page.locator("#view-serving"), "serving-halted")
    assert (
        mcp_call(gate, gate.token("ml:halt", "on-call"), "ml_resume", {"model": "demo-regressor"})[0] is False
    )
    clean(host, gate)


def test_halt_button_needs_the_scope(host: HostPage, gate: Gate) -> None:
    assert (
        mcp_call(gate, gate.token("ml:infer", "agent"), "ml_predict", _predict())[0] is False
    )  # a row to halt
    start(host, gate, "ml:read", "reader")
    show(host, "ml_serving_status", {}, "serving")
    frame = host.page.frame_locator("#view-serving")
    button = frame.locator("button.halt").first
    button.wait_for()
    assert button.is_disabled()
    assert "needs ml:halt" in frame.locator(".gated").first.inner_text()
    clean(host, gate)


def test_a_host_without_the_extension_gets_the_same_json(host: HostPage, gate: Gate) -> None:
    start(host, gate, "ml:read")
    token = gate.token("ml:read")
    with_apps = host.call(
        "([n, a]) => window.host.client.callTool({name: n, arguments: a})",
        "ml_model_info",
        {"model": "demo-regressor@1"},
    )
    plain = host.call(
        "([u, t, n, a]) => window.host.plainCall(u, t, n, a)",
        gate.mcp,
        token,
        "ml_model_info",
        {"model": "demo-regressor@1"},
    )
    assert plain["structuredContent"] == with_apps["structuredContent"]
    assert plain["content"] == with_apps["content"]
    assert "mlgate/caller" in with_apps["_meta"] and "mlgate/caller" not in (plain.get("_meta") or {})
    assert with_apps["_meta"]["mlgate/caller"]["scopes"] == ["ml:read"]


def _predict() -> dict[str, Any]:
    from tests._support import DIABETES_ROW

    return {"model": "demo-regressor@1", "features": [DIABETES_ROW]}


@pytest.fixture(autouse=True)
def _no_leftover_halt(gate: Gate) -> Any:
    yield
    mcp_call(gate, gate.token("ml:halt", "cleanup"), "ml_resume", {"model": "demo-regressor"})
