"""A local Hugging Face Hub on 127.0.0.1 with a few model repositories (an iris ONNX classifier at two commits, a
diabetes Ridge in skops, and the pickled, evil, tampered, slow and unlisted ones), and the client environment
pointed at it. The ``hub`` and ``hub_env`` fixtures of tests/supply, tests/security and tests/console serve one."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest

# read by huggingface_hub at import: quiet, plain HTTP, no token, never the internet
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"]))

from tests._support import IRIS_ROW, free_port
from tests.supply.hubserver import FakeHub, serve

IRIS_FEATURES = list(IRIS_ROW)


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


@contextmanager
def local_hub() -> Iterator[Hub]:
    """A FakeHub with the test repositories, served on 127.0.0.1 while the block runs."""
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


def point_clients_at(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Hub:
    """The huggingface_hub client environment pointed at ``hub``: its URL, no token, not offline."""
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return hub
