"""JwtVerifier and its JWKS sources, with real RSA keys and real JWTs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from mlgate.auth.jwks import AuthUnavailable, JwksFile, JwksUrl, jwks_source
from mlgate.auth.verifier import CompositeVerifier, JwtVerifier, build_verifier
from mlgate.errors import ConfigError
from tests._support.auth import DROP, ISSUER, RESOURCE, TestIssuer, make_settings, rsa_key

pytestmark = pytest.mark.anyio


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def file_verifier(issuer: TestIssuer, tmp_path: Path, **kw: Any) -> JwtVerifier:
    return JwtVerifier(
        issuer=ISSUER, audience=RESOURCE, jwks=JwksFile(issuer.write_jwks(tmp_path / "jwks.json")), **kw
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class JwksServer:
    """A fake issuer JWKS endpoint for httpx (a transport, not a patch)."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.status = 200
        self.requests = 0
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.status != 200:
            return httpx.Response(self.status, text="down")
        return httpx.Response(200, json=self.issuer.jwks())


async def test_valid_token_gives_identity_and_scopes(issuer: TestIssuer, tmp_path: Path) -> None:
    verifier = file_verifier(issuer, tmp_path)
    token = issuer.token("ml:read ml:infer")
    access = await verifier.verify_token(token)
    assert access is not None
    assert access.token == token
    assert access.subject == "alice"
    assert access.client_id == "agent-1"
    assert access.scopes == ["ml:read", "ml:infer"]
    assert access.resource == RESOURCE
    assert access.claims is not None and access.claims["iss"] == ISSUER
    assert isinstance(access.expires_at, int) and access.expires_at > time.time()


@pytest.mark.parametrize(
    ("claims", "scopes", "client"),
    [
        ({"scope": DROP, "scp": ["ml:read", "ml:halt"]}, ["ml:read", "ml:halt"], "agent-1"),
        ({"scope": DROP, "scp": "ml:infer ml:read"}, ["ml:infer", "ml:read"], "agent-1"),
        ({"scope": DROP}, [], "agent-1"),
        ({"client_id": DROP, "azp": "spa-7"}, ["ml:read"], "spa-7"),
        ({"client_id": DROP}, ["ml:read"], "alice"),
        ({"aud": ["https://other.example/api", RESOURCE]}, ["ml:read"], "agent-1"),
    ],
)
async def test_claim_variants(
    issuer: TestIssuer, tmp_path: Path, claims: dict[str, Any], scopes: list[str], client: str
) -> None:
    access = await file_verifier(issuer, tmp_path).verify_token(issuer.token(**claims))
    assert access is not None
    assert access.scopes == scopes
    assert access.client_id == client


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": int(time.time()) - 120}, id="expired"),
        pytest.param({"exp": DROP}, id="no-exp"),
        pytest.param({"exp": "tomorrow"}, id="exp-not-a-number"),
        pytest.param({"nbf": int(time.time()) + 600}, id="not-yet-valid"),
        pytest.param({"iat": int(time.time()) + 600}, id="issued-in-the-future"),
        pytest.param({"iss": "https://evil.example.test/tenant"}, id="wrong-issuer"),
        pytest.param({"iss": ISSUER + "/"}, id="issuer-trailing-slash"),
        pytest.param({"iss": DROP}, id="no-issuer"),
        pytest.param({"aud": "http://127.0.0.1:8000/mcp/other"}, id="aud-other-server-same-host"),
        pytest.param({"aud": "http://127.0.0.1:8000/mcp"}, id="aud-parent-path"),
        pytest.param({"aud": "http://127.0.0.1:8000/"}, id="aud-origin"),
        pytest.param({"aud": RESOURCE + "/"}, id="aud-trailing-slash"),
        pytest.param({"aud": ["http://127.0.0.1:8000/mcp/other"]}, id="aud-list-without-us"),
        pytest.param({"aud": DROP}, id="no-aud"),
    ],
)
async def test_refused_claims(issuer: TestIssuer, tmp_path: Path, claims: dict[str, Any]) -> None:
    assert await file_verifier(issuer, tmp_path).verify_token(issuer.token(**claims)) is None


async def test_leeway_tolerates_small_skew(issuer: TestIssuer, tmp_path: Path) -> None:
    verifier = file_verifier(issuer, tmp_path, leeway=30)
    assert await verifier.verify_token(issuer.token(exp=int(time.time()) - 5)) is not None
    assert await verifier.verify_token(issuer.token(nbf=int(time.time()) + 5)) is not None


async def test_alg_none_refused(issuer: TestIssuer, tmp_path: Path) -> None:
    good = issuer.token()
    payload = good.split(".")[1]
    for alg in ("none", "None", "NONE"):
        forged = f"{b64({'alg': alg, 'typ': 'at+jwt', 'kid': issuer.keys[0].kid})}.{payload}."
        assert await file_verifier(issuer, tmp_path).verify_token(forged) is None


async def test_hs256_signed_with_the_public_key_refused(issuer: TestIssuer, tmp_path: Path) -> None:
    """The classic key-confusion attack: HMAC with the RSA public key as the secret."""
    public_pem = issuer.keys[0].as_pem(private=False)
    payload = issuer.token().split(".")[1]
    head = b64({"alg": "HS256", "typ": "at+jwt", "kid": issuer.keys[0].kid})
    signature = hmac.new(public_pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert await file_verifier(issuer, tmp_path).verify_token(f"{head}.{payload}.{b64(signature)}") is None


async def test_hmac_key_in_the_jwks_is_ignored(issuer: TestIssuer, tmp_path: Path) -> None:
    secret = b"s" * 32
    jwks = issuer.jwks()
    jwks["keys"].append({"kty": "oct", "kid": "hmac", "k": b64(secret)})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    payload = issuer.token().split(".")[1]
    head = b64({"alg": "HS256", "kid": "hmac"})
    signature = hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    verifier = JwtVerifier(issuer=ISSUER, audience=RESOURCE, jwks=JwksFile(path))
    assert await verifier.verify_token(f"{head}.{payload}.{b64(signature)}") is None


async def test_only_asymmetric_algorithms_can_be_configured() -> None:
    with pytest.raises(ConfigError):
        JwtVerifier(issuer=ISSUER, audience=RESOURCE, jwks=JwksFile(Path("x")), algorithms=["RS256", "HS256"])


async def test_bad_signature_refused(issuer: TestIssuer, tmp_path: Path) -> None:
    impostor = rsa_key("impostor")
    token = issuer.token(key=impostor, header={"kid": issuer.keys[0].kid})
    assert await file_verifier(issuer, tmp_path).verify_token(token) is None
    head, payload, sig = issuer.token().split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["scope"] = "ml:admin"
    assert await file_verifier(issuer, tmp_path).verify_token(f"{head}.{b64(tampered)}.{sig}") is None


async def test_unknown_kid_refused(issuer: TestIssuer, tmp_path: Path) -> None:
    token = issuer.token(key=rsa_key("b"))
    assert await file_verifier(issuer, tmp_path).verify_token(token) is None


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", "application/at+JWT"])
async def test_access_token_types_accepted(issuer: TestIssuer, tmp_path: Path, typ: str) -> None:
    assert await file_verifier(issuer, tmp_path).verify_token(issuer.token(header={"typ": typ})) is not None


async def test_other_token_types_refused(issuer: TestIssuer, tmp_path: Path) -> None:
    assert (
        await file_verifier(issuer, tmp_path).verify_token(issuer.token(header={"typ": "dpop+jwt"})) is None
    )


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", "a.b.c.d.e", "x" * 20000, "eyJhbGciOiJSUzI1NiJ9.e30.", "é.é.é"],
)
async def test_garbage_refused(issuer: TestIssuer, tmp_path: Path, token: str) -> None:
    assert await file_verifier(issuer, tmp_path).verify_token(token) is None


async def test_jwks_file_is_reread_when_it_changes(issuer: TestIssuer, tmp_path: Path) -> None:
    verifier = file_verifier(issuer, tmp_path)
    rotated = rsa_key("b")
    assert await verifier.verify_token(issuer.token(key=rotated)) is None
    issuer.keys.append(rotated)
    issuer.write_jwks(tmp_path / "jwks.json")
    assert await verifier.verify_token(issuer.token(key=rotated)) is not None


async def test_missing_jwks_file_fails_closed(issuer: TestIssuer, tmp_path: Path) -> None:
    verifier = file_verifier(issuer, tmp_path)
    (tmp_path / "jwks.json").unlink()
    with pytest.raises(AuthUnavailable):
        await verifier.verify_token(issuer.token())
    (tmp_path / "jwks.json").write_text("{not json")
    with pytest.raises(AuthUnavailable):
        await verifier.verify_token(issuer.token())


def url_verifier(issuer: TestIssuer, server: JwksServer, clock: Clock, **kw: Any) -> JwtVerifier:
    source = JwksUrl(
        "https://auth.example.test/jwks",
        transport=server.transport,
        clock=clock,
        ttl=600,
        min_refresh_interval=30,
        retry_after=5,
        stale_grace=300,
        **kw,
    )
    return JwtVerifier(issuer=ISSUER, audience=RESOURCE, jwks=source)


async def test_jwks_url_is_cached(issuer: TestIssuer) -> None:
    server, clock = JwksServer(issuer), Clock()
    verifier = url_verifier(issuer, server, clock)
    for _ in range(5):
        assert await verifier.verify_token(issuer.token()) is not None
    assert server.requests == 1
    clock.now += 601
    assert await verifier.verify_token(issuer.token()) is not None
    assert server.requests == 2


async def test_unknown_kid_refetches_once_then_rate_limits(issuer: TestIssuer) -> None:
    server, clock = JwksServer(issuer), Clock()
    verifier = url_verifier(issuer, server, clock)
    assert await verifier.verify_token(issuer.token()) is not None
    assert server.requests == 1
    clock.now += 31
    rotated = rsa_key("b")
    issuer.keys.append(rotated)  # the issuer rotates: the new key is published
    assert await verifier.verify_token(issuer.token(key=rotated)) is not None
    assert server.requests == 2
    flood = rsa_key("impostor")
    for _ in range(20):
        assert await verifier.verify_token(issuer.token(key=flood)) is None
    assert server.requests == 2, "a flood of unknown kids must not reach the issuer"
    clock.now += 31
    assert await verifier.verify_token(issuer.token(key=flood)) is None
    assert server.requests == 3


async def test_jwks_url_unreachable_fails_closed(issuer: TestIssuer) -> None:
    server, clock = JwksServer(issuer), Clock()
    server.status = 503
    verifier = url_verifier(issuer, server, clock)
    with pytest.raises(AuthUnavailable):
        await verifier.verify_token(issuer.token())
    with pytest.raises(AuthUnavailable):
        await verifier.verify_token(issuer.token())
    assert server.requests == 1, "retries wait retry_after seconds"
    clock.now += 6
    server.status = 200
    assert await verifier.verify_token(issuer.token()) is not None


async def test_stale_keys_serve_within_grace_then_fail_closed(issuer: TestIssuer) -> None:
    server, clock = JwksServer(issuer), Clock()
    verifier = url_verifier(issuer, server, clock)
    assert await verifier.verify_token(issuer.token()) is not None
    server.status = 500
    clock.now += 650  # past ttl, within ttl + stale_grace
    assert await verifier.verify_token(issuer.token()) is not None
    clock.now += 300  # past the grace
    with pytest.raises(AuthUnavailable):
        await verifier.verify_token(issuer.token())


async def test_jwks_url_refused_document_fails_closed(issuer: TestIssuer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"not": "a jwks"})

    source = JwksUrl("https://auth.example.test/jwks", transport=httpx.MockTransport(handler))
    with pytest.raises(AuthUnavailable):
        await JwtVerifier(issuer=ISSUER, audience=RESOURCE, jwks=source).verify_token(issuer.token())


async def test_wrong_issuer_does_not_reach_the_jwks(issuer: TestIssuer) -> None:
    server, clock = JwksServer(issuer), Clock()
    verifier = url_verifier(issuer, server, clock)
    assert await verifier.verify_token(issuer.token(iss="https://elsewhere.test")) is None
    assert server.requests == 0


def test_jwks_source_kinds(tmp_path: Path, issuer: TestIssuer) -> None:
    path = issuer.write_jwks(tmp_path / "jwks.json")
    assert isinstance(jwks_source(str(path)), JwksFile)
    assert isinstance(jwks_source(path.as_uri()), JwksFile)
    assert isinstance(jwks_source("https://auth.example.test/jwks"), JwksUrl)
    with pytest.raises(ConfigError):
        jwks_source(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError):
        JwksUrl("ftp://auth.example.test/jwks")


def test_build_verifier_from_settings(tmp_path: Path, issuer: TestIssuer) -> None:
    jwks = str(issuer.write_jwks(tmp_path / "jwks.json"))
    assert build_verifier(make_settings(tmp_path)) is None
    assert isinstance(
        build_verifier(make_settings(tmp_path, auth_issuer=ISSUER, auth_jwks=jwks)), JwtVerifier
    )
    with pytest.raises(ConfigError):
        build_verifier(make_settings(tmp_path, auth_issuer=ISSUER))
    with pytest.raises(ConfigError):
        build_verifier(make_settings(tmp_path, auth_jwks=jwks))
    with pytest.raises(ConfigError):
        build_verifier(make_settings(tmp_path, dev_auth=True, auth_jwks=jwks))
    keys = tmp_path / "keys.jsonl"
    keys.write_text('{"id": "ci", "sha256": "' + "0" * 64 + '", "scopes": ["ml:read"]}\n')
    both = build_verifier(make_settings(tmp_path, auth_issuer=ISSUER, auth_jwks=jwks, api_keys=keys))
    assert isinstance(both, CompositeVerifier)


async def test_jwt_verifier_key_lookup_with_pss(tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    ps = TestIssuer(keys=[key])
    token = ps.token(header={"alg": "PS256"})
    assert await file_verifier(ps, tmp_path).verify_token(token) is not None
