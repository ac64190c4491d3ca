"""Which authentication layer the HTTP app gets, from the settings."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp

from mlgate.config import Settings


def auth_layer(settings: Settings, *, no_auth: bool) -> Callable[[ASGIApp], ASGIApp] | None:
    """None when serving without tokens (loopback only); else a wrapper adding bearer auth."""
    if no_auth:
        return None
    if not (settings.dev_auth or settings.auth_issuer or settings.api_keys):
        return None
    return None  # bearer auth is wired in by the OAuth work
