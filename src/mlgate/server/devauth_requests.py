"""The requests the development authorization server hands to authlib, and RFC 8707's check.

authlib's server side is synchronous and framework-neutral: an endpoint reads the Starlette
request (query, form or JSON body) first, then wraps what it read in ``FormRequest`` or
``BodyRequest``, the shapes authlib's grants and registration endpoint expect.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from authlib.oauth2.rfc6749 import JsonPayload, JsonRequest, OAuth2Error, OAuth2Payload, OAuth2Request


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: the requested resource is not one this server issues tokens for."""

    error = "invalid_target"


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    """Query and form parameters, already read from the Starlette request (first value wins)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._data.setdefault(key, value)
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self, method: str, uri: str, headers: Any, query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self._args, self._form = dict(query), dict(form)
        self.payload = FormPayload(query + form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Json(JsonPayload):  # type: ignore[misc]
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class BodyRequest(JsonRequest):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: Any, data: dict[str, Any]) -> None:
        super().__init__(method, uri, headers)
        self.payload = _Json(data)


def requested_resource(request: Any, canonical: str) -> str:
    """The RFC 8707 ``resource`` of a request: absent → ``canonical``; anything else → ``invalid_target``."""
    values = request.payload.datalist.get("resource", [])
    if len(values) > 1:
        raise InvalidTargetError(
            f"send one resource parameter; this server issues tokens only for {canonical}"
        )
    if values and values[0] != canonical:
        raise InvalidTargetError(f"tokens are issued only for the resource {canonical}, not {values[0]}")
    return canonical
