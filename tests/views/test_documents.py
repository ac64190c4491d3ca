"""The view documents themselves, without a browser: one self-contained HTML file each, whose own
Content-Security-Policy admits exactly its inline script and style (by hash) and no connection, and
which reference nothing outside the document."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from mlgate.server.apps import VIEWS, build_apps, html, tool_meta, uri


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@pytest.mark.parametrize("view", [v for v, _, _ in VIEWS.values()])
def test_each_view_is_one_document_under_its_own_policy(view: str) -> None:
    page = html(view)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    script = page.split('<script type="module">', 1)[1].rsplit("</script>", 1)[0]
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert policy["script-src"] == f"'{_digest(script)}'" and policy["style-src"] == f"'{_digest(style)}'"
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'none'"
    assert "import " not in script.split("\n", 1)[1] and "export " not in script  # joined, nothing to fetch
    assert not re.search(r"""(src|href)=["']?https?:""", page) and "fetch(" not in script
    assert "modules['console/js/chart.js']" in script or view == "model-card"  # the console's chart, shared


def test_tools_and_resources_name_each_other() -> None:
    resources = {b.resource.uri: b.resource for b in build_apps().resources()}
    for tool, (view, _, _) in VIEWS.items():
        assert tool_meta(tool) == {"ui": {"resourceUri": uri(view)}}
        found = resources[uri(view)]
        assert found.mime_type == "text/html;profile=mcp-app"
        assert found.meta == {
            "ui": {"csp": {"connectDomains": [], "resourceDomains": []}, "prefersBorder": True}
        }
    assert tool_meta("ml_predict") is None


@pytest.mark.parametrize("view", [v for v, _, _ in VIEWS.values()])
def test_each_view_reads_the_servers_values_from_its_document(view: str) -> None:
    """The scope names and both protocol versions are in the document's mlgate-config (from mlgate's
    constants and the MCP SDK's), not in its script."""
    import html as markup
    import json

    from mcp_types.version import KNOWN_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

    from mlgate.config import ALL_SCOPES
    from mlgate.server.apps import APPS_PROTOCOL

    page = html(view)
    found = re.findall(r'<meta name="mlgate-config" content="([^"]*)">', page)
    assert len(found) == 1
    config = json.loads(markup.unescape(found[0]))
    assert config["appsProtocolVersion"] == APPS_PROTOCOL
    assert config["protocolVersion"] == LATEST_HANDSHAKE_VERSION
    assert config["scopes"] == list(ALL_SCOPES) and config["scope"]["halt"] == "ml:halt"
    script = page.split('<script type="module">', 1)[1].rsplit("</script>", 1)[0]
    assert "modules['console/js/config.js']" in script
    for value in (*KNOWN_PROTOCOL_VERSIONS, APPS_PROTOCOL, *ALL_SCOPES):
        assert value not in script, f"the {view} view's script copies {value!r}"
