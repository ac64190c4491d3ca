"""/console's files: served from the package with a self-only CSP, nothing external, all shipped as package data."""

from __future__ import annotations

import html
import json
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mlgate.config import ALL_SCOPES, Settings
from mlgate.server.app import build_server
from mlgate.server.http import build_http_app
from mlgate.serving.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "src" / "mlgate" / "server" / "console"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    settings = Settings(home=tmp_path_factory.mktemp("assets"))
    runtime = Runtime(settings, transport="http")
    return TestClient(
        build_http_app(settings, build_server(runtime), runtime), base_url="http://127.0.0.1:8000"
    )


def test_console_page_and_its_policy(client: TestClient) -> None:
    moved = client.get("/console?code=abc&state=xyz", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "/console/?code=abc&state=xyz"
    page = client.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe" not in csp and "http" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts), (
        "no inline script"
    )


def test_an_external_authorization_server_is_the_one_other_origin(tmp_path: Path) -> None:
    from mlgate.server.console_routes import policy

    external = Settings(home=tmp_path, auth_issuer="https://login.example.com/realms/ml")
    assert "connect-src 'self' https://login.example.com;" in policy(external)
    assert "connect-src 'self';" in policy(Settings(home=tmp_path, dev_auth=True))
    assert "connect-src 'self';" in policy(Settings(home=tmp_path))


def test_every_file_is_served_and_nothing_else(client: TestClient) -> None:
    files = [p for p in ASSETS.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"index.html", "style.css", "app.js", "mcp.js", "auth.js", "chart.js"}
    for path in files:
        name = path.relative_to(ASSETS).as_posix()
        served = client.get(f"/console/{name}")
        expected = path.read_bytes()
        if name == "index.html":  # the one template: its mlgate-config filled in
            from mlgate.server.console_routes import page_values, with_values

            expected = with_values(expected.decode(), page_values()).encode()
        assert served.status_code == 200 and served.content == expected, name
        assert "content-security-policy" in served.headers
        if name.endswith(".js"):
            assert served.headers["content-type"].startswith("text/javascript")
    for bad in ("js/nope.js", "..%2Fhttp.py", "js/%2E%2E/%2E%2E/http.py", ".hidden.js", "js/../../app.py"):
        assert client.get(f"/console/{bad}").status_code == 404, bad


def test_nothing_external_and_imports_are_relative() -> None:
    for path in ASSETS.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text()
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), f"{path.name} loads something external"
        assert not re.search(r"""\bfetch\(\s*["'`]https?:""", text), f"{path.name} fetches another origin"
        for spec in re.findall(r"""^import .* from ["']([^"']+)["'];""", text, re.M):
            assert spec.startswith("./") and (ASSETS / "js" / spec).is_file(), f"{path.name} imports {spec}"


def test_package_data_ships_every_console_file() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "mlgate"
    ]
    package = ROOT / "src" / "mlgate"
    for path in ASSETS.rglob("*"):
        if path.is_file():
            rel = path.relative_to(package).as_posix()
            assert any(fnmatch(rel, p) and rel.count("/") == p.count("/") for p in patterns), rel


def _page_config(page: str) -> dict[str, object]:
    found = re.findall(r'<meta name="mlgate-config" content="([^"]*)"', page)
    assert len(found) == 1, "one mlgate-config meta in the page"
    value = json.loads(html.unescape(found[0]))
    assert isinstance(value, dict)
    return value


def test_the_page_carries_the_servers_protocol_version_and_scopes(client: TestClient) -> None:
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

    config = _page_config(client.get("/console/").text)
    assert config["protocolVersion"] == LATEST_HANDSHAKE_VERSION  # the SDK's, which the server negotiates
    assert config["protocolVersion"] in HANDSHAKE_PROTOCOL_VERSIONS  # reachable by initialize
    assert config["scopes"] == list(ALL_SCOPES)
    assert config["scope"] == {
        "read": "ml:read",
        "infer": "ml:infer",
        "manage": "ml:manage",
        "halt": "ml:halt",
        "audit": "ml:audit",
        "admin": "ml:admin",
    }


def test_the_scripts_hold_no_copy_of_the_servers_values(client: TestClient) -> None:
    """The console's JavaScript (as served) names no protocol version and no scope: it reads them
    from the page (js/config.js), so a change in mlgate or the MCP SDK cannot leave a stale copy."""
    from mcp_types.version import KNOWN_PROTOCOL_VERSIONS

    from mlgate.server.apps import APPS_PROTOCOL

    scripts = sorted(p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*.js"))
    assert "js/config.js" in scripts and len(scripts) > 10
    for name in scripts:
        text = client.get(f"/console/{name}").text
        for value in (*KNOWN_PROTOCOL_VERSIONS, APPS_PROTOCOL, *ALL_SCOPES):
            assert value not in text, f"{name} copies {value!r}: read it from js/config.js instead"
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), f"{name} names a protocol-like date"
