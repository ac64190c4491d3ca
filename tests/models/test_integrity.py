"""Digests recorded at registration and verified at every load; plain MLflow versions still serve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
from mcp import Client

from mlgate.artifacts import tree_sha256
from mlgate.config import Settings
from mlgate.errors import IntegrityError, InvalidInput, Refused
from mlgate.models.ref import parse_ref
from mlgate.models.registrar import Registrar
from mlgate.models.resolvers import MlflowResolver
from mlgate.models.tags import TAG_SHA
from mlgate.server.app import build_server
from mlgate.serving import inference
from mlgate.serving.runtime import Runtime
from tests._support import DIABETES_ROW, call, mlgate_env

pytestmark = pytest.mark.anyio


def _fit() -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    return LinearRegression().fit(x, x @ np.array([1.0, 2.0, 3.0])), x


async def test_tampered_artifact_refused_naming_both_digests(settings: Settings) -> None:
    est, x = _fit()
    info = Registrar(settings).register_sklearn("tamper-me", est, x, ["a", "b", "c"], {"r2": 1.0})
    path = MlflowResolver(settings).local_path(info)
    row = {"a": 1.0, "b": 1.0, "c": 1.0}
    out = await inference.predict(Runtime(settings), f"tamper-me@{info.version}", [row])
    assert out.predictions[0] == pytest.approx(6.0, abs=1e-6) and out.model.sha256 == info.sha256

    skops_file = path / "model.skops"
    skops_file.write_bytes(skops_file.read_bytes() + b"\0")
    with pytest.raises(IntegrityError) as caught:
        await inference.predict(Runtime(settings), f"tamper-me@{info.version}", [row])
    msg = str(caught.value)
    assert info.sha256 is not None and f"recorded {info.sha256}" in msg and "found " in msg


async def test_plain_mlflow_version_serves_under_its_digest_without_writing_to_the_registry(
    settings: Settings,
) -> None:
    import mlflow
    import mlflow.sklearn

    est, _x = _fit()
    reg = Registrar(settings)  # sets mlflow's URIs to this registry
    with mlflow.start_run(experiment_id=reg.experiment_id()):
        mlflow.sklearn.log_model(est, name="model", registered_model_name="plain-model")
    resolver = MlflowResolver(settings)
    before = resolver.registry.version("plain-model", 1).tags
    assert TAG_SHA not in before

    async with Client(build_server(Runtime(settings))) as c:
        err, out = await call(
            c, "ml_predict", {"model": "plain-model@1", "features": [{"f0": 1.0, "f1": 1.0, "f2": 1.0}]}
        )
    assert not err, out
    assert abs(out["predictions"][0] - 6.0) < 1e-6
    assert (
        resolver.registry.version("plain-model", 1).tags == before
    )  # serving writes nothing to the registry
    path = resolver.local_path(resolver.resolve(parse_ref("plain-model@1")))
    assert out["model"]["sha256"] == tree_sha256(path)[0]  # the stamp names the artifact that ran

    # a skops artifact runs no code: changed, it serves under its new digest, which the stamp shows
    (path / "MLmodel").write_text((path / "MLmodel").read_text() + "\n# changed\n")
    changed = await inference.predict(Runtime(settings), "plain-model@1", [{"f0": 1.0, "f1": 1.0, "f2": 1.0}])
    assert changed.model.sha256 == tree_sha256(path)[0] != out["model"]["sha256"]


async def test_concurrent_first_calls_load_once(settings: Settings) -> None:
    rt = Runtime(settings)
    results: list[Any] = []
    async with Client(build_server(rt)) as c:

        async def one() -> None:
            results.append(
                await call(c, "ml_predict", {"model": "demo-regressor@1", "features": [DIABETES_ROW]})
            )

        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(one)
    assert len(results) == 12 and all(not err for err, _ in results)
    assert len({out["predictions"][0] for _, out in results}) == 1
    assert rt.models.cache.stats().loads == 1


def test_register_command_takes_skops_and_refuses_pickle(settings: Settings, tmp_path: Path) -> None:
    import pickle

    import skops.io as sio

    est, _ = _fit()
    good = tmp_path / "lin.skops"
    sio.dump(est, good)
    env = mlgate_env(settings.home)
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "models", "register", "from-file", str(good)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "registered from-file@1 (predictor) sha256 " in done.stdout

    bad = tmp_path / "lin.pkl"
    bad.write_bytes(pickle.dumps(est))
    with pytest.raises(InvalidInput, match="pickles are refused"):
        Registrar(settings).register_file("from-pickle", bad)


async def test_untrusted_skops_types_refused(settings: Settings, tmp_path: Path) -> None:
    import skops.io as sio

    from mlgate.adapters.sklearn import load_estimator

    f = tmp_path / "model.skops"
    sio.dump({"x": subprocess.Popen}, f)  # a callable that runs programs: never trusted
    with pytest.raises(Refused, match="does not trust"):
        load_estimator(tmp_path, {"pickled_model": "model.skops", "serialization_format": "skops"})


def test_a_registration_into_a_store_opened_directly_keeps_its_artifacts_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MLGATE_TRACKING_URI a SQLite file (no tracking server to choose an artifact root), MLflow's default
    would be ./mlruns of the working directory: the version's files go under MLGATE_HOME instead."""
    from tests._support import mlflow_db

    (tmp_path / "store").mkdir()
    uri = mlflow_db(tmp_path / "store")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    settings = Settings(home=tmp_path / "home", tracking_uri=uri)
    settings.ensure_home()
    est, x = _fit()
    info = Registrar(settings).register_sklearn("kept-home", est, x, ["a", "b", "c"], {"r2": 1.0})
    folder = MlflowResolver(settings).local_path(info)
    assert folder.resolve().is_relative_to((tmp_path / "home" / "artifacts").resolve()), folder
    assert not (cwd / "mlruns").exists()
