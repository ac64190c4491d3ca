"""Development auth: the local key, its JWKS, minted tokens the verifier accepts."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from mlgate.auth.devkeys import DEV_ISSUER, effective_issuer, ensure_dev_key, mint_token
from mlgate.auth.verifier import JwtVerifier, build_verifier
from mlgate.errors import ConfigError
from tests._support.auth import RESOURCE, make_settings

pytestmark = pytest.mark.anyio


def decode_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_key_created_once_private_and_atomic(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dev_auth=True)
    first = ensure_dev_key(settings)
    assert stat.S_IMODE(first.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(first.key_path.parent.stat().st_mode) == 0o700
    assert first.key_path.parent == tmp_path / "devkeys"
    again = ensure_dev_key(settings)
    assert again.kid == first.kid
    assert again.key_path.read_bytes() == first.key_path.read_bytes()
    assert not [p for p in first.key_path.parent.iterdir() if p.name.startswith(".tmp")]
    jwks = json.loads(first.jwks_path.read_text())
    assert [k["kid"] for k in jwks["keys"]] == [first.kid]
    assert all("d" not in k and "p" not in k for k in jwks["keys"]), "the JWKS is public only"


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dev_auth=True)
    key = ensure_dev_key(settings)
    key.key_path.chmod(0o644)
    ensure_dev_key(settings)
    assert stat.S_IMODE(key.key_path.stat().st_mode) == 0o600


def test_minted_token_shape(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dev_auth=True)
    token = mint_token(settings, ["ml:read", "ml:infer"], ttl=120)
    header, claims = decode_part(token, 0), decode_part(token, 1)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": ensure_dev_key(settings).kid}
    assert claims["iss"] == DEV_ISSUER
    assert claims["aud"] == RESOURCE
    assert claims["sub"] == "dev"
    assert claims["scope"] == "ml:read ml:infer"
    assert claims["exp"] - claims["iat"] == 120


async def test_mint_verify_round_trip(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dev_auth=True)
    verifier = build_verifier(settings)
    assert isinstance(verifier, JwtVerifier)
    access = await verifier.verify_token(mint_token(settings, ["ml:halt"], subject="bob"))
    assert access is not None
    assert (access.subject, access.client_id, access.scopes) == ("bob", "mlgate-dev", ["ml:halt"])
    other_server = mint_token(settings, ["ml:read"], audience="http://127.0.0.1:8000/mcp/other")
    assert await verifier.verify_token(other_server) is None


async def test_configured_issuer_is_used_and_trusted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dev_auth=True, auth_issuer="http://127.0.0.1:9000")
    assert effective_issuer(settings) == "http://127.0.0.1:9000"
    token = mint_token(settings, ["ml:read"])
    assert decode_part(token, 1)["iss"] == "http://127.0.0.1:9000"
    verifier = build_verifier(settings)
    assert verifier is not None and await verifier.verify_token(token) is not None


def test_effective_issuer(tmp_path: Path) -> None:
    assert effective_issuer(make_settings(tmp_path)) is None
    assert effective_issuer(make_settings(tmp_path, dev_auth=True)) == DEV_ISSUER
    assert effective_issuer(make_settings(tmp_path, auth_issuer="https://a.test")) == "https://a.test"


@pytest.mark.parametrize(
    ("values", "scopes", "ttl"),
    [
        ({}, ["ml:read"], 60),
        ({"dev_auth": True}, ["ml:everything"], 60),
        ({"dev_auth": True}, ["ml:read"], 0),
    ],
)
def test_mint_refusals(tmp_path: Path, values: dict[str, Any], scopes: list[str], ttl: int) -> None:
    with pytest.raises(ConfigError):
        mint_token(make_settings(tmp_path, **values), scopes, ttl=ttl)
