"""What a remote version is bound to: its spec (protocol, endpoint, model), read from the
artifact's MLmodel flavor (covered by the version's digest), and the checks that keep it
there: a ``mlgate.remote`` tag that differs is refused, engine hosts must be on the
operator's allow-list (``MLGATE_REMOTE_ALLOWLIST``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mlgate.errors import IntegrityError, InvalidInput, Refused

TAG_REMOTE = "mlgate.remote"


FLAVOR = "mlgate_remote"


PROTOCOLS = ("v2", "mlflow")


@dataclass(frozen=True, slots=True)
class RemoteSpec:
    protocol: str
    url: str
    model: str = ""
    version: str | None = None
    timeout_s: float = 5.0
    retries: int = 2
    classes: tuple[str, ...] = ()
    format: str = "dataframe"
    interfaces: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, raw: str | dict[str, Any]) -> RemoteSpec:
        try:
            data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except ValueError as exc:
            raise InvalidInput(f"the remote spec is not JSON: {exc}", _SPEC_HINT) from None
        if not isinstance(data, dict):
            raise InvalidInput("the remote spec must be a JSON object", _SPEC_HINT)
        protocol, url = data.get("protocol"), data.get("url")
        if protocol not in PROTOCOLS:
            raise InvalidInput(
                f"remote protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}", _SPEC_HINT
            )
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInput(f"remote url {url!r} is not an http(s) URL", _SPEC_HINT)
        model = str(data.get("model") or "")
        if protocol == "v2" and not model:
            raise InvalidInput(
                "a v2 remote spec needs 'model' (the name the engine serves it under)", _SPEC_HINT
            )
        timeout = float(data.get("timeout_s", 5.0))
        retries = int(data.get("retries", 2))
        if not 0 < timeout <= 600 or not 0 <= retries <= 5:
            raise InvalidInput("remote timeout_s must be in (0, 600] and retries in [0, 5]", _SPEC_HINT)
        fmt = str(data.get("format", "dataframe"))
        if fmt not in ("dataframe", "tensor"):
            raise InvalidInput(f"remote format {fmt!r} is not dataframe or tensor", _SPEC_HINT)
        version = data.get("version")
        return cls(
            protocol=protocol,
            url=url.rstrip("/"),
            model=model,
            version=None if version is None else str(version),
            timeout_s=timeout,
            retries=retries,
            classes=tuple(str(c) for c in data.get("classes") or ()),
            format=fmt,
            interfaces=tuple(str(i) for i in data.get("interfaces") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": self.protocol,
            "url": self.url,
            "timeout_s": self.timeout_s,
            "retries": self.retries,
        }
        for key in ("model", "version", "format"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.classes:
            out["classes"] = list(self.classes)
        if self.interfaces:
            out["interfaces"] = list(self.interfaces)
        return out

    @property
    def shown(self) -> str:
        """The endpoint as errors show it: scheme, host, port and path; never credentials or a query."""
        return shown_url(self.endpoint)

    @property
    def endpoint(self) -> str:
        if self.protocol == "mlflow":
            return f"{self.url}/invocations"
        version = f"/versions/{self.version}" if self.version else ""
        return f"{self.url}/v2/models/{self.model}{version}/infer"

    @property
    def offered(self) -> tuple[str, ...]:
        if self.interfaces:
            return self.interfaces
        return ("predictor", "classifier") if self.protocol == "v2" else ("predictor",)


_SPEC_HINT = (
    'give {"protocol": "v2"|"mlflow", "url": "http://host:port", "model": "<name on the engine>", '
    '"timeout_s": 5}; see docs/deploy.md'
)


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def remote_spec_of(
    tags: dict[str, str], flavors: dict[str, Any], allowlist: Sequence[str] | None = None
) -> RemoteSpec | None:
    """The version's remote spec, from its flavor (inside the digest-covered artifact); None if it has none.

    Refuses a ``mlgate.remote`` tag that differs from the flavor (or exists without one): the tag is not
    covered by the digest. Refuses an engine host outside ``allowlist`` (``None``: MLGATE_REMOTE_ALLOWLIST).
    """
    recorded = RemoteSpec.parse(flavors[FLAVOR]) if FLAVOR in flavors else None
    if TAG_REMOTE in tags:
        _refuse_changed_tag(tags[TAG_REMOTE], recorded)
    if recorded is None:
        return None
    if allowlist is None:
        from mlgate.config import Settings

        allowlist = Settings().remote_allowlist
    check_allowed(recorded, allowlist)
    return recorded


def _refuse_changed_tag(raw: str, recorded: RemoteSpec | None) -> None:
    try:
        tagged: RemoteSpec | None = RemoteSpec.parse(raw)
    except InvalidInput:
        tagged = None
    if tagged is not None and tagged == recorded:
        return  # the tag repeats what the digest covers
    where = f"at {tagged.shown}" if tagged is not None else "at an endpoint (the tag is not a valid spec)"
    was = f"registered for {recorded.shown}" if recorded is not None else "registered without a remote spec"
    raise IntegrityError(
        f"the version's {TAG_REMOTE} tag points it {where}, but the version was {was}, and its recorded "
        f"digest covers only that: a remote spec tagged or changed after registration is not served",
        "register the endpoint as a new version (`mlgate models register NAME --remote JSON --features …`) "
        f"and delete the {TAG_REMOTE} tag from this one",
    )


def check_allowed(spec: RemoteSpec, allowlist: Sequence[str]) -> None:
    """Refuse an engine whose host (or host:port) is not in the allow-list; an empty list allows none."""
    parts = urlsplit(spec.url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = {entry.strip().lower().strip("/") for entry in allowlist if entry.strip()}
    shown_host = f"[{host}]" if ":" in host else host
    if host and (host in allowed or shown_host in allowed or f"{shown_host}:{port}" in allowed):
        return
    raise Refused(
        f"the remote engine host {shown_host or '?'}:{port} is not in MLGATE_REMOTE_ALLOWLIST"
        + ("" if allowed else " (empty: no remote engine may be reached)"),
        f"an operator adds '{shown_host}' or '{shown_host}:{port}' to MLGATE_REMOTE_ALLOWLIST if that "
        "engine is trusted with this model's inputs",
    )
