"""Static API keys for clients that cannot do OAuth (``MLGATE_API_KEYS``, off by default).

The file holds one JSON object per line; blank lines and lines starting with ``#`` are
skipped. Only the SHA-256 of each key is stored:

    {"id": "ci-bot", "name": "nightly CI", "sha256": "<64 hex digits>", "scopes": ["ml:read", "ml:infer"]}

``scopes`` is a list or a space-separated string; ``name`` is optional. A key arrives as
``Authorization: Bearer <key>``; every entry is compared with ``hmac.compare_digest`` (no
early exit). The file is re-read when it changes, so removing a line revokes a key
without a restart; a file that stops parsing refuses every key until it is fixed.
``generate_api_key`` makes a key and the line to append.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import AccessToken

from mlgate.config import ALL_SCOPES
from mlgate.errors import ConfigError

logger = logging.getLogger("mlgate.auth")

KEY_PREFIX = "mlgk_"
API_KEY_ISSUER = "urn:mlgate:api-keys"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ApiKey:
    id: str
    digest: bytes
    scopes: tuple[str, ...]
    name: str | None = None


def hash_api_key(key: str) -> str:
    """The hex SHA-256 stored in the file for ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_api_key(key_id: str, scopes: list[str], name: str | None = None) -> tuple[str, str]:
    """A new random key and the JSON line that grants it ``scopes``."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"id": key_id, "sha256": hash_api_key(key), "scopes": scopes}
    if name:
        entry["name"] = name
    _parse_entry(entry, f"key {key_id!r}")
    return key, json.dumps(entry)


def load_api_keys(path: Path) -> list[ApiKey]:
    """Parse the file; ``ConfigError`` naming the line when anything is wrong."""
    keys: list[ApiKey] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            entry = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{where}: not a JSON object ({exc})") from None
        keys.append(_parse_entry(entry, where))
    ids = [k.id for k in keys]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: duplicate key ids {', '.join(duplicates)}")
    return keys


def _parse_entry(entry: object, where: str) -> ApiKey:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object with id, sha256, scopes")
    key_id, digest, scopes, name = (
        entry.get("id"),
        entry.get("sha256"),
        entry.get("scopes"),
        entry.get("name"),
    )
    if not isinstance(key_id, str) or not key_id:
        raise ConfigError(f"{where}: 'id' must be a non-empty string")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
        raise ConfigError(f"{where}: 'sha256' must be 64 hex digits (the SHA-256 of the key, never the key)")
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise ConfigError(f"{where}: 'scopes' must be a non-empty list of scopes")
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ConfigError(f"{where}: unknown scopes {', '.join(unknown)}; choose from {' '.join(ALL_SCOPES)}")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{where}: 'name' must be a string")
    return ApiKey(id=key_id, digest=bytes.fromhex(digest), scopes=tuple(scopes), name=name)


class ApiKeyVerifier:
    """A ``TokenVerifier`` for the static keys of one file, bound to one resource."""

    def __init__(self, path: Path, *, audience: str) -> None:
        self.path = path
        self.audience = audience
        self._keys = load_api_keys(path)  # a broken file at start-up refuses to start
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _current(self) -> list[ApiKey]:
        stamp = self._stat()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._keys = load_api_keys(self.path)
                logger.info("reloaded %d API keys from %s", len(self._keys), self.path)
            except (OSError, ConfigError) as exc:
                logger.error("API key file %s unusable, refusing every key: %s", self.path, exc)
                self._keys = []
        return self._keys

    async def verify_token(self, token: str) -> AccessToken | None:
        access = self.match(token)
        if access is None:
            logger.info("API key refused: no entry matches")
        return access

    def match(self, token: str) -> AccessToken | None:
        """The key's identity, or None; logs nothing (the composite verifier tries keys first)."""
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found: ApiKey | None = None
        for key in self._current():
            if hmac.compare_digest(presented, key.digest):
                found = key
        if found is None:
            return None
        return AccessToken(
            token=token,
            client_id=found.id,
            scopes=list(found.scopes),
            resource=self.audience,
            subject=f"apikey:{found.id}",
            claims={"iss": API_KEY_ISSUER, "key_id": found.id, "key_name": found.name},
        )
