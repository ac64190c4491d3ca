"""Development auth: a local RSA signing key, its JWKS, and ``mint_token``.

With ``MLGATE_DEV_AUTH=1`` the verifier trusts exactly this key and this issuer:

    $MLGATE_HOME/devkeys/            0700
        signing-key.pem              0600, created once (atomically; a race keeps the first)
        jwks.json                    the public half, the JWKS the verifier reads

The issuer is ``MLGATE_AUTH_ISSUER`` when set, else the origin of ``MLGATE_RESOURCE_URL``
(``http://127.0.0.1:8000`` for the default, ``DEV_ISSUER``): the running server serves
the development authorization server there (``mlgate.server.devauth``), so real clients
discover it from the protected-resource metadata. The audience is ``MLGATE_RESOURCE_URL``
unless ``audience`` says otherwise (to test refusals).

``mlgate token`` follows the running server: ``serve --http`` under dev auth records its
canonical resource URL in ``devkeys/running-server.json`` (``record_running_server``), and
``for_running_server`` uses it when ``MLGATE_RESOURCE_URL`` is not set.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from mlgate.config import ALL_SCOPES, Settings
from mlgate.errors import ConfigError

logger = logging.getLogger("mlgate.auth")

DEV_ISSUER = "http://127.0.0.1:8000"
"""The development issuer for the default ``MLGATE_RESOURCE_URL`` (in general: ``dev_issuer``)."""
DEV_CLIENT_ID = "mlgate-dev"
MAX_TTL = 30 * 24 * 3600
KEY_FILE = "signing-key.pem"
JWKS_FILE = "jwks.json"
RUNNING_FILE = "running-server.json"


@dataclass(frozen=True)
class DevKey:
    key: RSAKey
    kid: str
    key_path: Path
    jwks_path: Path


def effective_issuer(settings: Settings) -> str | None:
    """The issuer tokens must carry: the setting, else ``DEV_ISSUER`` under dev auth, else None."""
    if settings.auth_issuer:
        return settings.auth_issuer
    return dev_issuer(settings.resource_url) if settings.dev_auth else None


def dev_issuer(resource_url: str) -> str:
    """The development authorization server's issuer: the origin of the resource URL, no trailing slash."""
    parts = urlsplit(resource_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"MLGATE_RESOURCE_URL={resource_url!r} must be an absolute http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def record_running_server(settings: Settings) -> Path:
    """Note this process's canonical resource URL under ``MLGATE_HOME`` for ``mlgate token``."""
    folder = dev_key_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / RUNNING_FILE
    record = {"resource_url": settings.resource_url, "pid": os.getpid(), "started": int(time.time())}
    _replace(path, json.dumps(record).encode(), 0o600)
    return path


def forget_running_server(settings: Settings) -> None:
    """Remove the record at shutdown, unless a later server has replaced it."""
    path = dev_key_dir(settings) / RUNNING_FILE
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def running_resource_url(settings: Settings) -> str | None:
    """The resource URL a live dev server under this ``MLGATE_HOME`` recorded, else None."""
    try:
        record = json.loads((dev_key_dir(settings) / RUNNING_FILE).read_text())
        url, pid = record["resource_url"], int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a stale record: that server is gone
    except PermissionError:
        pass  # alive, owned by another user
    return url if isinstance(url, str) else None


def for_running_server(settings: Settings) -> Settings:
    """``settings`` aimed at the running dev server when ``MLGATE_RESOURCE_URL`` is not set explicitly."""
    if "resource_url" in settings.model_fields_set:
        return settings
    url = running_resource_url(settings)
    return settings if url is None else settings.model_copy(update={"resource_url": url})


def dev_key_dir(settings: Settings) -> Path:
    return settings.home / "devkeys"


def ensure_dev_key(settings: Settings) -> DevKey:
    """Create the signing key once (0600) and (re)publish its JWKS; return both."""
    folder = dev_key_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, jwks_path = folder / KEY_FILE, folder / JWKS_FILE
    if not key_path.exists():
        _create_once(key_path, RSAKey.generate_key(2048, private=True).as_pem(private=True))
        logger.info("created the development signing key %s", key_path)
    mode = stat.S_IMODE(key_path.stat().st_mode)
    if mode & 0o077:
        logger.warning("%s was readable by others (mode %o); set it to 0600", key_path, mode)
        key_path.chmod(0o600)
    try:
        key = RSAKey.import_key(key_path.read_bytes())
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{key_path} is not an RSA private key ({exc}); delete it to make a new one"
        ) from None
    key.ensure_kid()
    kid = str(key.kid)
    jwks = json.dumps(KeySet([key]).as_dict(private=False, use="sig", alg="RS256"), indent=2).encode()
    if not jwks_path.exists() or jwks_path.read_bytes() != jwks:
        _replace(jwks_path, jwks, 0o644)
    return DevKey(key=key, kid=kid, key_path=key_path, jwks_path=jwks_path)


def mint_token(
    settings: Settings,
    scopes: list[str],
    audience: str | None = None,
    ttl: int = 3600,
    subject: str = "dev",
    client_id: str = DEV_CLIENT_ID,
) -> str:
    """A signed RFC 9068 access token (``typ: at+jwt``) for this server, dev auth only."""
    if not settings.dev_auth:
        raise ConfigError("mlgate token needs MLGATE_DEV_AUTH=1 (it signs with the local development key)")
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ConfigError(f"unknown scopes {', '.join(unknown)}; choose from {' '.join(ALL_SCOPES)}")
    if not 0 < ttl <= MAX_TTL:
        raise ConfigError(f"ttl must be between 1 and {MAX_TTL} seconds, not {ttl}")
    dev = ensure_dev_key(settings)
    now = int(time.time())
    claims = {
        "iss": effective_issuer(settings),
        "sub": subject,
        "aud": audience or settings.resource_url,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    header = {"alg": "RS256", "typ": "at+jwt", "kid": dev.kid}
    return jwt.encode(header, claims, dev.key, algorithms=["RS256"])


def _create_once(path: Path, data: bytes) -> None:
    """Write ``data`` to a 0600 temporary file, then link it into place unless ``path`` exists."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: keep its key
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _replace(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
