"""Where the verifier's public keys come from: a JWKS file or a JWKS URL, cached.

    JwksSource            the protocol: ``await source.key_set(refresh=…) -> KeySet``
    ├── JwksFile          a file (air-gapped sites, dev auth); re-read when it changes
    └── JwksUrl           an http(s) URL, fetched with httpx and cached for ``ttl`` seconds

``refresh=True`` asks for a refetch because a token named an unknown ``kid``; a URL
source honours it at most once per ``min_refresh_interval`` so a flood of made-up
``kid``s cannot hammer the issuer. When no usable key set can be had the source raises
``AuthUnavailable``: the transport answers 503 and accepts nothing (fail closed).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mlgate.errors import AuthUnavailable as AuthUnavailable
from mlgate.errors import ConfigError

logger = logging.getLogger("mlgate.auth")

MAX_JWKS_BYTES = 512 * 1024
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class JwksSource(Protocol):
    async def key_set(self, *, refresh: bool = False) -> KeySet: ...


def parse_jwks(raw: bytes | str) -> KeySet:
    """A ``KeySet`` holding only public keys; ``ValueError`` when the document is not a JWKS."""
    try:
        doc: Any = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    public = [k for k in doc["keys"] if isinstance(k, dict) and k.get("kty") != "oct"]
    try:
        keys = KeySet.import_key_set({"keys": public})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"unusable keys: {exc}") from None
    return keys


class JwksFile:
    """A JWKS file, re-read whenever its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: KeySet | None = None

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._keys is None or stamp != self._stamp:
                self._keys = parse_jwks(self.path.read_bytes())
                self._stamp = stamp
        except (OSError, ValueError) as exc:
            logger.info("JWKS file %s unusable: %s", self.path, exc)
            self._keys, self._stamp = None, None
            raise AuthUnavailable(f"JWKS file {self.path} unusable") from None
        return self._keys


@dataclass
class _Cache:
    keys: KeySet | None = None
    fetched_at: float = float("-inf")
    attempted_at: float = float("-inf")
    failed: bool = False


class JwksUrl:
    """A JWKS URL: cached for ``ttl`` s; refetched on an unknown ``kid`` at most every
    ``min_refresh_interval`` s; after a failed fetch, retried at most every ``retry_after`` s,
    serving the last good keys for up to ``stale_grace`` s past their ``ttl``."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 600.0,
        min_refresh_interval: float = 30.0,
        retry_after: float = 5.0,
        stale_grace: float = 300.0,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"MLGATE_AUTH_JWKS={url!r} is neither an http(s) URL nor a file")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            logger.warning("JWKS %s is fetched over plain http: use https outside a trusted network", url)
        self.url = url
        self.ttl, self.min_refresh_interval = ttl, min_refresh_interval
        self.retry_after, self.stale_grace, self.timeout = retry_after, stale_grace, timeout
        self._transport = transport
        self._clock = clock
        self._cache = _Cache()
        self._lock = anyio.Lock()
        self.fetches = 0
        """How many fetches were attempted (for tests and metrics)."""

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        now = self._clock()
        cache = self._cache
        fresh = cache.keys is not None and now < cache.fetched_at + self.ttl
        if fresh and not refresh:
            assert cache.keys is not None
            return cache.keys
        async with self._lock:
            now = self._clock()
            if not self._may_fetch(now, refresh):
                return self._fallback(now)
            cache.attempted_at = now
            self.fetches += 1
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError) as exc:
                logger.info("JWKS fetch from %s failed: %s", self.url, exc)
                cache.failed = True
                return self._fallback(now)
            cache.keys, cache.fetched_at, cache.failed = keys, now, False
            return keys

    def _may_fetch(self, now: float, refresh: bool) -> bool:
        cache = self._cache
        since = now - cache.attempted_at
        if cache.failed and since < self.retry_after:
            return False
        if refresh:
            return since >= self.min_refresh_interval
        return cache.keys is None or now >= cache.fetched_at + self.ttl

    def _fallback(self, now: float) -> KeySet:
        """The cached keys if still usable (fresh, or stale within the grace), else fail closed."""
        cache = self._cache
        if cache.keys is not None and now < cache.fetched_at + self.ttl + self.stale_grace:
            return cache.keys
        raise AuthUnavailable(f"JWKS {self.url} unreachable and no usable cached keys")

    async def _fetch(self) -> KeySet:
        async with (
            httpx.AsyncClient(
                transport=self._transport, timeout=self.timeout, follow_redirects=False
            ) as client,
            client.stream("GET", self.url, headers={"accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
        return parse_jwks(bytes(body))


def jwks_source(location: str, **options: Any) -> JwksSource:
    """``https://…`` / ``http://…`` → ``JwksUrl``; ``file://…`` or a path → ``JwksFile``."""
    if location.startswith(("https://", "http://")):
        return JwksUrl(location, **options)
    if location.startswith("file://"):
        location = urlsplit(location).path
    path = Path(location).expanduser()
    if not path.is_file():
        raise ConfigError(f"MLGATE_AUTH_JWKS={location!r}: no such file (give a JWKS file or an https URL)")
    return JwksFile(path)
