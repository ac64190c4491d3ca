"""Debian's Chromium for Playwright: where it is, how it starts headless here, and a test's skip (or failure, as
root, who can install it) when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() == 0:
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/services.sh (as `make test` does) to install chromium"
        )
    pytest.skip(
        f"{CHROMIUM} is missing and this user cannot install it (apt-get install chromium needs root)"
    )
