"""A local Hub on 127.0.0.1 with a few model repositories (``tests._support.hub``) and the client environment
pointed at it; a registry of its own for the compile tests; a TorchHub archive endpoint with the tiny repository
(``tests._support.torchhub``) at four commits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests._support.hub import Hub, local_hub, point_clients_at
from tests._support.torchhub import ABSOLUTE, EVIL, GOOD, LINK
from tests.supply.torchhub_server import HUBCONF, Archives, serve, tarball, weights


@pytest.fixture(scope="session")
def hub() -> Iterator[Hub]:
    with local_hub() as served:
        yield served


@pytest.fixture
def hub_env(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Hub:
    return point_clients_at(hub, monkeypatch)


@pytest.fixture(scope="session")
def compile_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry of its own (compiling adds versions): the demo models ml_compile applies to, plus cmp-* models."""
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlgate.config import Settings
    from mlgate.demo import BUILDERS
    from mlgate.models.registrar import Registrar

    home = tmp_path_factory.mktemp("compile-home")
    settings = Settings(home=home)
    settings.ensure_home()
    reg = Registrar(settings, admit_by="test fixture")  # the demo forecaster is a statsmodels pickle
    for name in ("demo-regressor", "demo-classifier", "demo-sentiment", "demo-forecaster"):
        BUILDERS[name](reg)
    x, y = load_diabetes(return_X_y=True)
    names = [f"f{i}" for i in range(x.shape[1])]
    forest = RandomForestRegressor(n_estimators=40, max_depth=8, random_state=0).fit(x, y)
    reg.register_sklearn("cmp-forest", forest, x, names, {"r2": 0.5})
    reg.register_sklearn(
        "cmp-hgb", HistGradientBoostingRegressor(max_iter=20).fit(x, y), x, names, {"r2": 0.5}
    )
    xi, yi_num = load_iris(return_X_y=True)
    yi = np.asarray(["setosa", "versicolor", "virginica"])[yi_num]
    iris = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    gb = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(xi, yi)
    reg.register_sklearn(
        "cmp-gb", gb, xi, iris, {"accuracy": 0.95}, extra_meta={"classes": [str(c) for c in gb.classes_]}
    )
    mlp = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=600, random_state=0)
    ).fit(xi, yi)
    reg.register_sklearn(
        "cmp-mlp", mlp, xi, iris, {"accuracy": 0.97}, extra_meta={"classes": [str(c) for c in mlp.classes_]}
    )
    return home


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[Archives, str]]:
    archives = Archives()
    repo = {"hubconf.py": HUBCONF, "weights.safetensors": weights(), "README.md": b"# tiny\n"}
    archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"] = tarball(repo)
    archives.files[f"/acme/tinyhub/tar.gz/{EVIL}"] = tarball({**repo, "../evil.py": b"print('escaped')\n"})
    archives.files[f"/acme/tinyhub/tar.gz/{LINK}"] = tarball(repo, links={"outside": "/etc/passwd"})
    archives.files[f"/acme/tinyhub/tar.gz/{ABSOLUTE}"] = tarball(
        {**repo, "/tmp/mlgate-absolute.py": b"x = 1\n"}
    )
    with serve(archives) as url:
        yield archives, url
