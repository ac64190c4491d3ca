"""Bearer token verification: JWT access tokens (joserfc + JWKS) and static API keys.

Every verifier here implements the MCP SDK's ``TokenVerifier``:
``async verify_token(token) -> AccessToken | None``. ``None`` means "refuse" (HTTP 401);
``AuthUnavailable`` means "cannot tell right now" (HTTP 503) and is never an acceptance.
The precise reason for a refusal is logged at INFO on ``mlgate.auth``, never returned.

A JWT is accepted only when all of these hold (RFC 9068, RFC 8707):

- compact JWS, ``alg`` in ``ALGORITHMS`` (asymmetric only: no ``none``, no ``HS*``),
  ``typ`` absent or one of ``JWT``/``at+jwt``/``application/at+jwt``;
- signed by a key of the issuer's JWKS (an unknown ``kid`` triggers one rate-limited refetch);
- ``iss`` equal to the configured issuer byte for byte;
- ``aud`` (string or list) contains the canonical resource URI exactly;
- ``exp`` present and in the future, ``nbf``/``iat`` not in the future (``leeway`` seconds).

Scopes come from ``scope`` (space-separated) or ``scp`` (list or string); the subject from
``sub``; the client id from ``client_id``, else ``azp``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import Key, KeySet
from mcp.server.auth.provider import AccessToken, TokenVerifier

from mlgate.auth.apikeys import ApiKeyVerifier
from mlgate.auth.devkeys import effective_issuer, ensure_dev_key
from mlgate.auth.jwks import AuthUnavailable, JwksFile, JwksSource, jwks_source
from mlgate.config import Settings
from mlgate.errors import ConfigError

__all__ = [
    "ALGORITHMS",
    "AuthUnavailable",
    "CompositeVerifier",
    "JwtVerifier",
    "build_verifier",
]

logger = logging.getLogger("mlgate.auth")

ALGORITHMS: tuple[str, ...] = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA", "Ed25519"),
)
ACCEPTED_TYP = frozenset({"jwt", "at+jwt", "application/at+jwt"})
MAX_TOKEN_CHARS = 16 * 1024


class _Refused(Exception):
    """Internal: the token is refused; the message is logged, never sent."""


class JwtVerifier:
    """Verifies JWT access tokens issued by ``issuer`` for ``audience``."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: JwksSource,
        algorithms: Sequence[str] = ALGORITHMS,
        leeway: int = 30,
    ) -> None:
        bad = sorted(a for a in algorithms if a not in ALGORITHMS)
        if bad:
            raise ConfigError(f"algorithms {', '.join(bad)} are not allowed (asymmetric only)")
        if not issuer or not audience:
            raise ConfigError("a JWT verifier needs an issuer and an audience")
        self.issuer, self.audience, self.jwks = issuer, audience, jwks
        self.algorithms = tuple(algorithms)
        self.leeway = leeway

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            return await self._verify(token)
        except _Refused as refusal:
            logger.info("bearer token refused: %s", refusal)
            return None

    async def _verify(self, token: str) -> AccessToken:
        if len(token) > MAX_TOKEN_CHARS:
            raise _Refused(f"token longer than {MAX_TOKEN_CHARS} characters")
        try:
            unverified = jws.extract_compact(token.encode("ascii"))
            header = unverified.headers()
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise _Refused(f"not a compact JWS ({exc.__class__.__name__})") from None
        alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
        if alg not in self.algorithms:
            raise _Refused(f"alg {alg!r} not allowed")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYP):
            raise _Refused(f"typ {typ!r} is not an access token type")
        if kid is not None and not isinstance(kid, str):
            raise _Refused("kid is not a string")
        peek = _claims_of(unverified.payload)
        if peek.get("iss") != self.issuer:  # checked again after the signature
            raise _Refused(f"iss {peek.get('iss')!r} is not {self.issuer!r}")
        key = await self._key(kid, str(alg))
        try:
            verified = jwt.decode(token, key, algorithms=[str(alg)])
        except (JoseError, ValueError, TypeError) as exc:
            raise _Refused(f"signature check failed ({exc.__class__.__name__}: {exc})") from None
        claims = dict(verified.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise _Refused(
                f"claims refused ({exc.__class__.__name__}: {exc}); sub={claims.get('sub')!r}"
            ) from None
        aud = claims["aud"]
        if not (aud == self.audience or (isinstance(aud, list) and self.audience in aud)):
            raise _Refused(f"aud {aud!r} does not contain {self.audience!r}")  # belt and braces
        return _access_token(token, claims, self.audience)

    async def _key(self, kid: str | None, alg: str) -> Key:
        keys = await self.jwks.key_set()
        found = _pick(keys, kid, alg)
        if found is None:
            keys = await self.jwks.key_set(refresh=True)
            found = _pick(keys, kid, alg)
        if found is None:
            raise _Refused(f"no key in the JWKS for kid {kid!r} and alg {alg}")
        return found


def _pick(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    try:
        key = keys.get_by_kid(kid, {"alg": alg, "use": "sig"})
    except (InvalidKeyIdError, JoseError, ValueError):
        return None
    return key


def _claims_of(payload: bytes | None) -> dict[str, Any]:
    try:
        claims = json.loads(payload or b"")
    except (TypeError, ValueError):
        raise _Refused("payload is not JSON") from None
    if not isinstance(claims, dict):
        raise _Refused("payload is not a JSON object")
    return claims


def _scopes(claims: dict[str, Any]) -> list[str]:
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [s for s in value if isinstance(s, str)]
    return []


def _access_token(token: str, claims: dict[str, Any], audience: str) -> AccessToken:
    subject = claims.get("sub") if isinstance(claims.get("sub"), str) else None
    client = claims.get("client_id") or claims.get("azp")
    client_id = client if isinstance(client, str) and client else (subject or "unknown")
    return AccessToken(
        token=token,
        client_id=client_id,
        scopes=_scopes(claims),
        expires_at=int(claims["exp"]),
        resource=audience,
        subject=subject,
        claims=claims,
    )


class CompositeVerifier:
    """API keys first (a constant-time hash compare, no I/O), then JWTs."""

    def __init__(self, *, api_keys: ApiKeyVerifier | None, jwt_verifier: JwtVerifier | None) -> None:
        self.api_keys, self.jwt_verifier = api_keys, jwt_verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        if self.api_keys is not None:
            found = self.api_keys.match(token)
            if found is not None:
                return found
        if self.jwt_verifier is not None:
            return await self.jwt_verifier.verify_token(token)
        logger.info("API key refused: no entry matches")
        return None


def build_verifier(settings: Settings, **jwks_options: Any) -> TokenVerifier | None:
    """The verifier the settings ask for, or None when no auth is configured.

    ``MLGATE_DEV_AUTH``: the local dev key's JWKS (created if missing) and
    ``effective_issuer``; else ``MLGATE_AUTH_ISSUER`` + ``MLGATE_AUTH_JWKS`` (both or
    neither). ``MLGATE_API_KEYS`` adds static keys. ``jwks_options`` go to ``JwksUrl``.
    """
    jwt_verifier: JwtVerifier | None = None
    if settings.dev_auth:
        if settings.auth_jwks:
            raise ConfigError("MLGATE_DEV_AUTH and MLGATE_AUTH_JWKS exclude each other: unset one")
        dev = ensure_dev_key(settings)
        issuer = effective_issuer(settings)
        assert issuer is not None
        jwt_verifier = JwtVerifier(
            issuer=issuer, audience=settings.resource_url, jwks=JwksFile(dev.jwks_path)
        )
    elif settings.auth_issuer or settings.auth_jwks:
        if not (settings.auth_issuer and settings.auth_jwks):
            raise ConfigError("set both MLGATE_AUTH_ISSUER and MLGATE_AUTH_JWKS (the issuer and its JWKS)")
        source = jwks_source(settings.auth_jwks, **jwks_options)
        jwt_verifier = JwtVerifier(issuer=settings.auth_issuer, audience=settings.resource_url, jwks=source)
    api_keys = (
        ApiKeyVerifier(settings.api_keys, audience=settings.resource_url) if settings.api_keys else None
    )
    if api_keys is None:
        return jwt_verifier
    if jwt_verifier is None:
        return api_keys
    return CompositeVerifier(api_keys=api_keys, jwt_verifier=jwt_verifier)
