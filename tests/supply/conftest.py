"""A local Hub on 127.0.0.1 with a few model repositories, and the client environment pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# read by huggingface_hub at import: quiet, plain HTTP, no token, never the internet
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))

from tests._support import free_port
from tests.supply.hubserver import FakeHub, serve

IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass
class Hub:
    fake: FakeHub
    url: str
    iris_v1: str  # commit of acme/iris-onnx tagged v1
    iris_main: str  # a later commit on main
    ridge: str
    onnx_bytes: bytes


def iris_onnx() -> tuple[bytes, list[str]]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    y = np.asarray([str(data.target_names[i]) for i in data.target])
    est = LogisticRegression(max_iter=500).fit(data.data, y)
    onx = convert_sklearn(
        est,
        initial_types=[("input", FloatTensorType([None, 4]))],
        options={id(est): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return onx.SerializeToString(), [str(c) for c in est.classes_]


def ridge_skops() -> bytes:
    import skops.io as sio
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    return sio.dumps(Ridge(alpha=0.1).fit(x, y))


@pytest.fixture(scope="session")
def hub() -> Iterator[Hub]:
    import json

    fake = FakeHub()
    onnx_bytes, classes = iris_onnx()
    config = json.dumps({"feature_names": IRIS_FEATURES, "classes": classes}).encode()
    iris = fake.repo("acme/iris-onnx")
    v1 = iris.commit(
        {
            "model.onnx": onnx_bytes,
            "config.json": config,
            "README.md": b"# iris\n",
            "docs/notes.txt": b"same bytes",
        },
        "first",
    )
    iris.tags["v1"] = v1
    main = iris.commit(
        {"model.onnx": onnx_bytes, "config.json": config, "README.md": b"# iris, again\n"}, "second"
    )

    ridge = fake.repo("acme/diabetes-skops").commit({"model.skops": ridge_skops(), "README.md": b"ridge\n"})
    fake.repo("acme/pickled").commit(
        {"model.pkl": b"\x80\x04K\x01.", "model.onnx": onnx_bytes, "config.json": config}
    )
    fake.repo("acme/evil").commit({"model.onnx": onnx_bytes})
    fake.extra_entries["acme/evil"] = [
        {"type": "file", "path": "../../escape.txt", "size": 3, "oid": "0" * 40}
    ]
    fake.repo("acme/tampered").commit({"model.onnx": onnx_bytes, "config.json": config})
    fake.tamper[("acme/tampered", "model.onnx")] = bytes(len(onnx_bytes))
    fake.repo("acme/slow").commit({"a.txt": b"first file", "b.onnx": onnx_bytes})
    fake.repo("other/unlisted").commit({"model.onnx": onnx_bytes})
    with serve(fake, free_port()) as url:
        yield Hub(fake, url, v1, main, ridge, onnx_bytes)


@pytest.fixture
def hub_env(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return hub


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
