"""The local Hub of the trust-boundary tests (``tests._support.hub``): one per module, so that what one module pulls
into the session's demo home from it is not already there for another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.hub import Hub, local_hub, point_clients_at


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    with local_hub() as served:
        yield served


@pytest.fixture
def hub_env(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Hub:
    return point_clients_at(hub, monkeypatch)
