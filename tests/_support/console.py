"""The console tests' server (``Console``: its URLs, its settings for minting tokens, its Hub), its pinned TorchHub
commit and quality rule, and screenshots into ``test-artifacts/console/`` (gitignored)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.config import Settings
from tests._support.hub import Hub

QUALITY_MAX_MAE_RATIO = 1.5  # demo-regressor degrades when its live MAE passes 1.5× the registered one
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
TORCHHUB_COMMIT = "5" * 40


@dataclass
class Console:
    base: str  # http://127.0.0.1:PORT
    mcp: str  # …/mcp/ml
    settings: Settings  # for minting tokens with the server's dev key
    hub: Hub

    def token(self, scopes: str, subject: str = "tester") -> str:
        from mlgate.auth.devkeys import mint_token

        return mint_token(self.settings, scopes.split(), subject=subject)


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
