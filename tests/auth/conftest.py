"""Fixtures of the auth tests (their issuer, echo app and live server: ``tests._support.auth``)."""

from __future__ import annotations

import pytest

from tests._support.auth import TestIssuer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MLGATE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()
