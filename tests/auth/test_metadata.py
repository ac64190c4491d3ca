"""RFC 9728 protected-resource metadata and its well-known path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import AnyHttpUrl
from starlette.applications import Starlette

from mlgate.auth.devkeys import DEV_ISSUER
from mlgate.errors import ConfigError
from mlgate.server.bearer import metadata_path, metadata_route, metadata_url, protected_resource_metadata
from tests._support.auth import METADATA, RESOURCE, make_settings

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        ("http://127.0.0.1:8000/mcp/ml", "/.well-known/oauth-protected-resource/mcp/ml"),
        ("https://models.example.com/mcp/ml", "/.well-known/oauth-protected-resource/mcp/ml"),
        ("https://models.example.com/tenant/a/mcp", "/.well-known/oauth-protected-resource/tenant/a/mcp"),
        ("https://models.example.com/", "/.well-known/oauth-protected-resource"),
        ("https://models.example.com", "/.well-known/oauth-protected-resource"),
    ],
)
def test_well_known_path_inserts_between_host_and_path(resource: str, path: str) -> None:
    assert metadata_path(resource) == path


def test_metadata_url_agrees_with_the_sdk() -> None:
    assert metadata_url(RESOURCE) == METADATA
    assert metadata_url(RESOURCE) == str(build_resource_metadata_url(AnyHttpUrl(RESOURCE)))
    assert (
        metadata_url("https://h.example:8443/mcp/ml")
        == "https://h.example:8443/.well-known/oauth-protected-resource/mcp/ml"
    )


@pytest.mark.parametrize("bad", ["/mcp/ml", "ftp://h/mcp", "https://h/mcp#frag", "127.0.0.1:8000/mcp/ml"])
def test_bad_resource_urls_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        metadata_path(bad)


def test_document_field_by_field(tmp_path: Path) -> None:
    issuer = "http://127.0.0.1:9000"  # pydantic's AnyHttpUrl would publish "http://127.0.0.1:9000/"
    doc = protected_resource_metadata(make_settings(tmp_path, auth_issuer=issuer, auth_jwks="x"))
    assert doc == {
        "resource": RESOURCE,
        "authorization_servers": ["http://127.0.0.1:9000"],
        "scopes_supported": ["ml:read", "ml:infer", "ml:manage", "ml:halt", "ml:audit", "ml:admin"],
        "bearer_methods_supported": ["header"],
        "resource_name": "mlgate",
    }


def test_document_under_dev_auth_and_without_issuer(tmp_path: Path) -> None:
    assert protected_resource_metadata(make_settings(tmp_path, dev_auth=True))["authorization_servers"] == [
        DEV_ISSUER
    ]
    assert "authorization_servers" not in protected_resource_metadata(make_settings(tmp_path))
    custom = make_settings(
        tmp_path, resource_url="https://models.example.com/mcp/ml", auth_issuer="https://id.example.com/"
    )
    doc = protected_resource_metadata(custom)
    assert doc["resource"] == "https://models.example.com/mcp/ml"
    assert doc["authorization_servers"] == ["https://id.example.com/"], "kept byte for byte, slash and all"


async def test_route_serves_the_document(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth_issuer="https://id.example.com", auth_jwks="x")
    app = Starlette(routes=[metadata_route(settings)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
    ) as c:
        response = await c.get("/.well-known/oauth-protected-resource/mcp/ml")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.json() == protected_resource_metadata(settings)
        assert (await c.get("/.well-known/oauth-protected-resource")).status_code == 404
