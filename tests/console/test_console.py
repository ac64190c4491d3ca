"""The operator console in a real browser (the distribution's Chromium, driven by Playwright).

One operator signs in through the development authorization server (authorization code + PKCE,
the consent page, the token for /mcp/ml), watches serving, halts one model and sees an MCP
client's ml_predict refused with the console's reason while another model serves, resumes it,
sees a model's live quality degrade beside its traffic (actuals recorded by an MCP client), sees
a promotion blocked with the gate's numbers, runs a skill from its generated form, follows a pull
to its digests and reads the audit ledger. A read-only token sees every action disabled, and
an action forced by editing the page is refused by the server.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests._support import DIABETES_ROW, IRIS_ROW
from tests._support.console import QUALITY_MAX_MAE_RATIO, TORCHHUB_COMMIT, Console, shot
from tests._support.mcp_http import mcp_call, traffic

expect = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra").expect

HALT_REASON = "console test: drifting outputs after deploy"
SIGNED_IN_SCOPES = "ml:read ml:infer ml:manage ml:halt ml:audit"


@pytest.fixture(scope="module")
def operator(console: Console, browser: Any) -> Iterator[Any]:
    """A page signed in through the dev authorization server with every scope but ml:admin."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(console.base + "/console")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/oauth/authorize?**")
    assert page.locator("#resource").inner_text() == console.mcp  # the consent page names the audience
    page.get_by_role("button", name="Approve").click()
    page.wait_for_selector("#sign-out")
    yield page
    context.close()


def test_sign_in_with_code_and_pkce_then_see_the_demo_models(console: Console, operator: Any) -> None:
    page = operator
    assert page.url.startswith(console.base + "/console/") and "code=" not in page.url
    assert page.locator("#scopes").inner_text() == SIGNED_IN_SCOPES
    assert page.locator("#subject").inner_text() == "dev"
    page.goto(console.base + "/console/#models")
    page.wait_for_selector("#models-table tr[data-model='demo-classifier']")
    names = set(page.locator("#models-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.model)"))
    assert {"demo-regressor", "demo-classifier", "demo-forecaster", "demo-sentiment"} <= names
    row = page.locator("#models-table tr[data-model='demo-regressor'][data-version='1']")
    assert "r2" in row.inner_text() and "predictor" in row.inner_text()
    assert (
        "production"
        in page.locator("#models-table tr[data-model='demo-regressor'][data-version='2']").inner_text()
    )
    row.get_by_role("link", name="v1").click()
    page.wait_for_selector("#model-detail h3")
    assert "demo-regressor@1" in page.locator("#model-detail").inner_text()
    shot(page, "models")


def test_halt_from_console_refuses_mcp_clients_with_its_reason(console: Console, operator: Any) -> None:
    page = operator
    page.goto(console.base + "/console/#serving")
    agent = console.token("ml:read ml:infer", subject="agent")
    for _ in range(3):  # traffic for the charts
        assert not mcp_call(
            console, agent, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]}
        )[0]
    row = page.locator("#serving-table tr[data-model='demo-regressor']")
    row.wait_for()
    page.locator("#halt-reason").fill(HALT_REASON)
    row.get_by_role("button", name="Halt").click()
    assert "Halt serving of demo-regressor?" in page.locator("#confirm-dialog").inner_text()
    page.locator("#confirm-yes").click()
    page.wait_for_selector("#halts-table tr[data-scope='demo-regressor']")
    halt = page.locator("#halts-table tr[data-scope='demo-regressor']")
    assert halt.locator(".reason").inner_text() == HALT_REASON and halt.locator(".by").inner_text() == "dev"
    expect(page.locator("tr[data-model='demo-regressor'] td.state")).to_have_text("halted")

    refused, text = mcp_call(
        console, agent, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]}
    )
    assert refused and HALT_REASON in text and "dev" in text
    served, out = mcp_call(
        console, agent, "ml_classify", {"model": "demo-classifier@1", "features": [IRIS_ROW]}
    )
    assert not served and out["labels"] == ["setosa"]
    page.wait_for_timeout(1600)  # one more refresh: the refusal is in the charts
    shot(page, "serving-halted")

    row.get_by_role("button", name="Resume").click()
    page.locator("#confirm-yes").click()
    page.wait_for_selector("#no-halts")
    ok, _ = mcp_call(console, agent, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
    assert not ok


def test_serving_page_draws_live_numbers(console: Console, operator: Any) -> None:
    page = operator
    page.goto(console.base + "/console/#serving")
    agent = console.token("ml:read ml:infer", subject="agent")
    bad = {"model": "demo-regressor@1", "features": [{**DIABETES_ROW, "bmi": "high"}]}  # an error, on purpose
    load = traffic(
        console,
        agent,
        5.0,
        [
            ("ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]}),
            ("ml_classify", {"model": "demo-classifier@1", "features": [IRIS_ROW]}),
            ("ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW, DIABETES_ROW]}),
            ("ml_predict", bad),
        ],
    )
    row = page.locator("#serving-table tr[data-model='demo-regressor']")
    expect(row.locator("td.cache")).to_have_text(re.compile(r"^v1"))
    assert row.locator("td.breaker").inner_text() == "closed"
    assert "ml_predict" in page.locator("#tool-latency").inner_text()
    _, status = mcp_call(console, agent, "ml_serving_status", {})
    if status.get("traffic") is not None:  # per-model counts (the metrics work): calls/s move, errors count
        expect(row.locator("td.rate")).to_have_text(re.compile(r"^(?!0$)\d"), timeout=10_000)
        expect(row.locator("td.errors")).to_have_text(re.compile(r"^[1-9]"))
    painted = page.locator("canvas.chart").first.evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0)"
    )
    assert painted
    load.join(10)
    shot(page, "serving")


def test_serving_shows_live_quality_and_the_degradation_beside_traffic(
    console: Console, operator: Any
) -> None:
    page = operator
    agent = console.token("ml:read ml:infer", subject="agent")
    owner = console.token("ml:read ml:manage", subject="owner")
    failed, out = mcp_call(
        console, agent, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW] * 25}
    )
    assert not failed and len(out["prediction_ids"]) == 25  # demo-regressor captures (MLGATE_CAPTURE)
    _, perf = mcp_call(console, agent, "ml_performance", {"model": "demo-regressor"})
    registered = next(v for v in perf["versions"] if v["version"] == 1)["registered"]["mae"]
    shift = 3 * registered  # every actual that far from its prediction: live MAE = 3× the registered one
    actuals = {i: p + shift for i, p in zip(out["prediction_ids"], out["predictions"], strict=True)}
    failed, recorded = mcp_call(
        console, owner, "ml_record_actuals", {"model": "demo-regressor", "actuals": actuals}
    )
    assert not failed and recorded["recorded"] == 25
    assert [d["rule"] for d in recorded["degraded"]] == ["max_mae_ratio"]

    page.goto(console.base + "/console/#serving")
    load = traffic(
        console, agent, 4.0, [("ml_classify", {"model": "demo-classifier@1", "features": [IRIS_ROW]})]
    )
    row = page.locator("#serving-table tr[data-model='demo-regressor']")
    quality = row.locator("td.quality")
    expect(quality.locator(".badge")).to_have_text("degraded", timeout=15_000)  # polled every 10 s
    expect(row).to_have_class(re.compile(r"\bdegraded\b"))
    v1 = quality.locator(".version[data-version='1']")
    live = float(v1.locator(".metric").inner_text().removeprefix("mae "))
    assert live == pytest.approx(shift, rel=1e-3)
    shown = float(re.fullmatch(r" \(registered (.+)\)", v1.locator(".registered").inner_text())[1])  # type: ignore[index]
    assert shown == pytest.approx(registered, rel=1e-3)
    assert v1.locator(".matched").inner_text() == "25 actuals"
    alert = quality.locator(".alert").inner_text()
    assert alert.startswith("v1: quality degraded") and f"max_mae_ratio={QUALITY_MAX_MAE_RATIO:g}" in alert
    other = page.locator("#serving-table tr[data-model='demo-classifier']")
    expect(other.locator("td.quality")).to_have_text("no actuals")
    assert "degraded" not in (other.get_attribute("class") or "")
    load.join(10)
    page.wait_for_timeout(1600)  # one more traffic refresh for the charts
    shot(page, "serving-quality")


def test_a_promotion_a_gate_blocks_shows_the_gates_numbers(console: Console, operator: Any) -> None:
    page = operator
    page.goto(console.base + "/console/#models")
    page.wait_for_selector("#promote-model option[value='demo-regressor']", state="attached")
    page.locator("#promote-model").select_option("demo-regressor")
    page.locator("#promote-version").fill("1")  # version 2 holds production (registered last)
    page.locator("#promote-gates").fill("min_r2=0.99")
    assert page.locator("#promote-force").is_disabled()  # force needs ml:admin
    page.locator("#promote").click()
    page.wait_for_selector("#promote-outcome")
    assert page.locator("#promote-outcome").inner_text().startswith("Blocked")
    gate = page.locator("table.gates tr[data-gate='min_r2']")
    assert gate.locator(".threshold").inner_text() == "0.99"
    actual = float(gate.locator(".actual").inner_text())
    assert 0 < actual < 0.99
    shot(page, "models-promotion-blocked")


def test_run_a_skill_from_its_generated_form(console: Console, operator: Any) -> None:
    page = operator
    page.goto(console.base + "/console/#skills")
    row = page.locator("#skills-table tr[data-skill='regime_aware_alpha@1']")
    row.wait_for()
    assert "locked" in row.inner_text()
    row.get_by_role("button", name="Open form").click()
    market = page.locator("#input-market")  # an array of objects: a JSON field, prefilled from the example
    assert json.loads(market.input_value())[0]["market_return_20d"] == -0.05
    market.fill(json.dumps([{"market_return_20d": 0.06, "market_volatility_20d": 0.12}]))
    page.locator("#run-skill").click()
    page.wait_for_selector("#skill-outcome", timeout=30_000)
    assert page.locator("#skill-outcome").inner_text() == "regime_aware_alpha@1: ok"
    outputs = json.loads(page.locator("#skill-outputs").inner_text())
    assert (
        outputs["regime"] == "bull" and len(outputs["alpha"]) == 2
    )  # the edited market, the example's stocks
    trace = page.locator("#skill-result").inner_text()
    assert "demo-regime@1" in trace and "demo-alpha-bull@1" in trace  # the route the edited input chose
    shot(page, "skills")


def test_follow_a_pull_to_its_digests(console: Console, operator: Any) -> None:
    page = operator
    hub = console.hub
    repo = hub.fake.repos["acme/slow"]
    commit = repo.branches["main"]
    gate = hub.fake.hold[("acme/slow", "b.onnx")] = threading.Event()  # held until the job is seen moving
    try:
        page.goto(console.base + "/console/#supply")
        page.locator("#pull-repo").fill("acme/slow")
        page.locator("#pull-revision").fill(commit)
        page.locator("#pull").click()
        page.wait_for_selector(".job .job-message")  # the job's progress, from ml_job
    finally:
        gate.set()
        hub.fake.hold.clear()
        hub.fake.holding.clear()
    page.wait_for_selector("#pull-done", timeout=30_000)
    files = {
        r.get_attribute("data-path"): r.locator(".sha256").inner_text()
        for r in page.locator("#pull-files tbody tr").all()
    }
    assert files == {
        "a.txt": hashlib.sha256(b"first file").hexdigest(),
        "b.onnx": hashlib.sha256(hub.onnx_bytes).hexdigest(),
    }
    expect(page.locator("#supply-jobs")).to_contain_text("ml_pull")
    shot(page, "pull")


def test_pull_from_torchhub_awaits_admission(console: Console, operator: Any) -> None:
    """The Pull page offers TorchHub: the agent-side pull registers the pinned archive, which awaits an operator."""
    page = operator
    page.goto(console.base + "/console/#supply")
    expect(page.locator("#pull-entry")).to_be_hidden()
    page.locator("#pull-source").select_option("torchhub")
    expect(page.locator("#pull-patterns")).to_be_hidden()
    page.locator("#pull-repo").fill("acme/tinyhub")
    page.locator("#pull-entry").fill("tiny")
    page.locator("#pull-revision").fill(TORCHHUB_COMMIT)
    page.locator("#pull-features").fill("a, b, c")
    page.locator("#pull-register").fill("console-tinyhub")
    page.locator("#pull").click()
    page.wait_for_selector("#pull-done", timeout=60_000)
    expect(page.locator("#pull-result")).to_contain_text("registered as console-tinyhub@1")
    expect(page.locator("#pull-admission")).to_contain_text(
        f"mlgate torchhub admit acme/tinyhub@{TORCHHUB_COMMIT}"
    )
    (row,) = page.locator("#pull-files tbody tr").all()
    assert row.get_attribute("data-path") == "archive.tar.gz"
    err, msg = mcp_call(
        console,
        console.token("ml:infer"),
        "ml_predict",
        {"model": "console-tinyhub@1", "features": [{"a": 1, "b": 2, "c": 3}]},
    )
    assert err and "no operator admitted it" in msg, msg


def test_audit_ledger_filtered(console: Console, operator: Any) -> None:
    page = operator
    page.goto(console.base + "/console/#audit")
    page.locator("#audit-model").fill("demo-regressor")
    page.locator("#audit-outcome").select_option("error")
    page.locator("#audit-apply").click()
    page.wait_for_selector("#audit-table")
    rows = page.locator("#audit-table tbody tr")
    expect(rows.first).to_be_visible()
    seen = [(r.locator(".tool").inner_text(), r.locator(".outcome").inner_text()) for r in rows.all()]
    # the failed calls, and the degradation the quality test caused (the ledger's row for the alert)
    assert seen and set(seen) == {("ml_predict", "error"), ("quality.degraded", "error")}, seen
    assert set(rows.locator(".model").all_inner_texts()) == {"demo-regressor@1"}
    refusals = [t for t in rows.locator(".error-text").all_inner_texts() if HALT_REASON in t]
    assert refusals, "the refusal the halt caused is in the ledger, with the console's reason"
    page.locator("#audit-outcome").select_option("")
    page.locator("#audit-tool").fill("ml_halt")
    page.locator("#audit-apply").click()
    expect(page.locator("#audit-table tbody tr").first.locator(".tool")).to_have_text("ml_halt")
    assert page.locator("#audit-table tbody tr").first.locator(".subject").inner_text() == "dev"
    shot(page, "audit")
    assert not [e for e in page.errors if "Content Security Policy" in e or "Refused" in e], page.errors


def test_read_only_token_sees_actions_disabled_and_forcing_one_is_refused(
    console: Console, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(console.base + "/console/")
    page.locator("#pasted-token").fill(console.token("ml:read", subject="viewer"))
    page.locator("#use-token").click()
    page.wait_for_selector("#serving-table tr[data-model='demo-regressor'] button")
    gated = {
        "serving": ["#halt-all", "#serving-table button"],
        "models": ["#promote", "#rollback"],
        "audit": ["#audit-apply"],
        "supply": ["#pull", "#compile"],
    }
    for name, selectors in gated.items():
        page.goto(f"{console.base}/console/#{name}")
        for selector in selectors:
            page.locator(selector).first.wait_for()
            for button in page.locator(selector).all():
                assert button.is_disabled(), f"{name}: {selector} is enabled for a read-only token"
        assert "needs ml:" in page.locator("main").inner_text()
        shot(page, f"readonly-{name}")
    page.goto(console.base + "/console/#skills")
    page.locator("#skills-table tr[data-skill='regime_aware_alpha@1'] .open-form").click()
    assert page.locator("#run-skill").is_disabled()

    page.goto(console.base + "/console/#serving")  # now force the Halt button by editing the page
    halt = page.locator("#serving-table tr[data-model='demo-classifier'] button")
    halt.wait_for()
    halt.evaluate("b => { b.disabled = false; }")
    page.locator("#halt-reason").fill("forced by editing the page")
    halt.click()
    page.locator("#confirm-yes").click()
    refusal = page.locator(".notice.error").first
    refusal.wait_for()
    assert "needs the scope ml:halt" in refusal.inner_text()
    viewer = console.token("ml:read", subject="viewer")
    _, status = mcp_call(console, viewer, "ml_serving_status", {})
    assert status["halts"] == []
    context.close()


def test_the_console_speaks_the_protocol_version_and_scopes_the_server_gives_it(
    console: Console, browser: Any
) -> None:
    """The page's mlgate-config (console_routes.page_values) is what the client offers at initialize
    and sends on every request, and the sign-in lists the server's scopes (ml:admin left unticked)."""
    from mcp_types.version import LATEST_HANDSHAKE_VERSION

    from mlgate.config import ALL_SCOPES

    context = browser.new_context()
    page = context.new_page()
    sent: list[tuple[str | None, Any]] = []

    def record(request: Any) -> None:
        if request.url == console.mcp and request.method == "POST":
            sent.append((request.headers.get("mcp-protocol-version"), request.post_data_json))

    page.on("request", record)
    page.goto(console.base + "/console/")
    boxes = page.locator("#scope-choice input[name='scope']")
    boxes.first.wait_for()
    assert boxes.evaluate_all("bs => bs.map(b => b.value)") == list(ALL_SCOPES)
    assert boxes.evaluate_all("bs => bs.filter(b => !b.checked).map(b => b.value)") == ["ml:admin"]
    page.locator("#pasted-token").fill(console.token("ml:read", subject="viewer"))
    page.locator("#use-token").click()
    page.wait_for_selector("#serving-table tr[data-model='demo-regressor']")
    initialize = [body for _, body in sent if body.get("method") == "initialize"]
    assert initialize and initialize[0]["params"]["protocolVersion"] == LATEST_HANDSHAKE_VERSION
    assert {version for version, _ in sent} == {LATEST_HANDSHAKE_VERSION}, sent[:3]
    assert any(body.get("method") == "tools/call" for _, body in sent)
    context.close()
