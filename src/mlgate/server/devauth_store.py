"""What the development authorization server remembers, in memory: registered clients,
authorization codes, refresh tokens and pending consents.

Everything here is lost on restart (dev only): a client registers again, a user approves
again. The models implement authlib's ``ClientMixin`` / ``AuthorizationCodeMixin`` /
``TokenMixin`` so authlib's grants can use them as they are. Each table is bounded: the
oldest entries go first, so a loop of registrations cannot grow the process without end.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

CODE_TTL = 600  # RFC 6749 §4.1.2: ten minutes at most
CONSENT_TTL = 900
REFRESH_TTL = 7 * 24 * 3600
MAX_ENTRIES = 2000

T = TypeVar("T")


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redirect_matches(registered: str, requested: str) -> bool:
    """Exact match, except that a loopback ``http`` redirect may use any port (RFC 8252 §7.3)."""
    if registered == requested:
        return True
    a, b = urlsplit(registered), urlsplit(requested)
    return (
        a.scheme == b.scheme == "http"
        and _loopback(a.hostname)
        and a.hostname == b.hostname
        and (a.path, a.query) == (b.path, b.query)
        and not b.fragment
    )


@dataclass
class DevClient(ClientMixin):  # type: ignore[misc]
    """A client registered through RFC 7591 dynamic registration."""

    client_id: str
    client_secret: str | None
    client_name: str
    redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    scope: str
    token_endpoint_auth_method: str
    issued_at: int = field(default_factory=lambda: int(time.time()))

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """What was asked for (the server already refused scopes it does not know), else the registered scope.

        Which scopes a grant may carry is decided by the grant: the user approves them on the
        consent page (authorization code); a ``client_credentials`` token gets at most what the
        client registered (checked in ``devauth_server``)."""
        return " ".join(scope.split()) if scope and scope.strip() else self.scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(redirect_matches(r, redirect_uri) for r in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class DevCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    resource: str
    subject: str
    code_challenge: str
    code_challenge_method: str
    expires_at: float = field(default_factory=lambda: time.time() + CODE_TTL)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class DevRefreshToken(TokenMixin):  # type: ignore[misc]
    token: str
    client_id: str
    scope: str
    subject: str
    expires_at: float = field(default_factory=lambda: time.time() + REFRESH_TTL)
    revoked: bool = False

    def check_client(self, client: DevClient) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.subject

    def get_client(self) -> None:
        return None


@dataclass
class PendingConsent:
    """An authorization request that passed validation and waits for Approve / Deny."""

    params: list[tuple[str, str]]
    client_name: str
    scope: str
    resource: str
    expires_at: float = field(default_factory=lambda: time.time() + CONSENT_TTL)


class _Table(Generic[T]):
    """A bounded insertion-ordered map (the oldest entry is dropped when full)."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self._items: OrderedDict[str, T] = OrderedDict()
        self._limit = limit

    def put(self, key: str, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def pop(self, key: str) -> T | None:
        return self._items.pop(key, None)


class DevStore:
    """The in-memory tables of one dev authorization server."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.clients: _Table[DevClient] = _Table(limit)
        self.codes: _Table[DevCode] = _Table(limit)
        self.refresh_tokens: _Table[DevRefreshToken] = _Table(limit)
        self.consents: _Table[PendingConsent] = _Table(limit)

    def live_code(self, code: str, client_id: str) -> DevCode | None:
        found = self.codes.get(code)
        if found is None or found.client_id != client_id or time.time() >= found.expires_at:
            return None
        return found

    def live_refresh(self, token: str) -> DevRefreshToken | None:
        found = self.refresh_tokens.get(token)
        return None if found is None or found.is_expired() or found.is_revoked() else found

    def take_consent(self, nonce: str) -> PendingConsent | None:
        """The pending consent for ``nonce``, once (a second submit finds nothing)."""
        found = self.consents.pop(nonce)
        return None if found is None or time.time() >= found.expires_at else found
