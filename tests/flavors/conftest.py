"""A registry built only with plain MLflow calls, as a team that never heard of mlgate would fill it.

``mlflow.<flavor>.log_model(..., registered_model_name=…)`` into a SQLite tracking store in a
temporary folder, tiny data and few trees so the whole session builds in seconds. Each entry
keeps the fitted object so tests can compare mlgate's numbers with the library's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.flavors import Logged, build_registry


@pytest.fixture(scope="session")
def registry_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the plain-MLflow registry: its tracking URI is ``sqlite:///{root}/mlflow.db``."""
    return tmp_path_factory.mktemp("plain-mlflow")


@pytest.fixture(scope="session")
def registry(registry_root: Path) -> Iterator[dict[str, Logged]]:
    old = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        yield build_registry(registry_root)
    finally:
        if old is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = old
