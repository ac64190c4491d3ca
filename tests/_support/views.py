"""What the views tests hold of their host: the mlgate it runs on (``Gate``: URLs, settings for minting tokens) and
the host page in Chromium (``HostPage``: the requests and console messages of every frame)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgate.config import Settings


@dataclass
class Gate:
    base: str  # http://127.0.0.1:PORT
    mcp: str
    settings: Settings

    def token(self, scopes: str, subject: str = "viewer") -> str:
        from mlgate.auth.devkeys import mint_token

        return mint_token(self.settings, scopes.split(), subject=subject)


@dataclass
class HostPage:
    page: Any
    requests: list[str]
    console: list[str]

    def call(self, script: str, *args: Any) -> Any:
        return self.page.evaluate(script, list(args))
