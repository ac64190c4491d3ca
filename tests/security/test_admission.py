"""No artifact runs code it was not admitted to run: crafted skops files, cloudpickle models from plain MLflow.

Each test carries a marker file that the hostile artifact writes when its code runs; the refusals are
proven by the marker never appearing (and by the same artifact writing it once an operator admitted it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.errors import IntegrityError, Refused
from mlgate.models.registrar import Registrar
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlgate_env
from tests._support.hub import Hub
from tests.security.crafted import Marker, exec_skops

pytestmark = pytest.mark.anyio


def test_a_crafted_skops_is_refused_at_load_and_at_register(tmp_path: Path) -> None:
    from mlgate.adapters.sklearn import load_estimator

    marker = tmp_path / "ran"
    evil = exec_skops(tmp_path / "model.skops", marker)
    with pytest.raises(Refused, match=r"builtins\.exec"):
        load_estimator(tmp_path, {"pickled_model": "model.skops", "serialization_format": "skops"})
    settings = Settings(home=tmp_path / "home")
    settings.ensure_home()
    with pytest.raises(Refused, match=r"builtins\.exec"):
        Registrar(settings).register_file("evil", evil)
    assert not Registrar(settings).exists("evil")  # refused before anything was written
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "models", "register", "evil-cli", str(evil)],
        env=mlgate_env(settings.home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "builtins.exec" in (done.stderr + done.stdout)
    assert not marker.exists()


async def test_a_crafted_skops_is_refused_at_pull_and_nothing_is_published(
    hub_env: Hub, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    payload = exec_skops(tmp_path / "model.skops", marker).read_bytes()
    commit = hub_env.fake.repo("acme/exec-skops").commit({"model.skops": payload, "README.md": b"ridge\n"})
    home = tmp_path / "home"
    settings = Settings(home=home, pull_allowlist=["acme"], stdio_scopes=["ml:read", "ml:infer", "ml:manage"])
    async with Client(build_server(Runtime(settings))) as c:
        err, msg = await call(
            c, "ml_pull", {"repo_id": "acme/exec-skops", "revision": commit, "register_as": "exec-skops"}
        )
        assert err and "builtins.exec" in msg and "not published" in msg, msg
        err, msg = await call(
            c, "ml_predict", {"model": f"hf:acme/exec-skops@{commit}", "features": [{"f0": 1}]}
        )
        assert err, msg
    assert not list((home / "hub").rglob("model.skops"))  # no snapshot holds it
    assert not marker.exists()


def _log_pickled_pyfunc(settings: Settings, name: str, marker: Path) -> None:
    import mlflow
    import mlflow.pyfunc
    import pandas as pd

    class Doubler(mlflow.pyfunc.PythonModel):
        def __init__(self) -> None:
            self.hook = Marker(marker)  # unpickling this writes the marker: the proof that code ran

        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            return model_input["x"] * 2.0

    reg = Registrar(settings)  # sets mlflow's URIs to this registry (registers nothing here)
    with mlflow.start_run(experiment_id=reg.experiment_id()):
        mlflow.pyfunc.log_model(
            name="model",
            python_model=Doubler(),
            registered_model_name=name,
            input_example=pd.DataFrame({"x": [1.0, 2.0]}),
        )
    marker.unlink(missing_ok=True)  # logging pickled it in this process; only loads count from here


async def test_a_cloudpickle_model_from_plain_mlflow_is_refused_until_admitted(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    settings = Settings(home=tmp_path / "home", stdio_scopes=["ml:read", "ml:infer"])
    settings.ensure_home()
    _log_pickled_pyfunc(settings, "pickled", marker)

    async with Client(build_server(Runtime(settings))) as c:
        err, info = await call(c, "ml_model_info", {"model": "pickled@1"})
        assert not err, info
        assert info["runs_code"] and info["admitted_by"] is None and info["interfaces"] == ["predictor"]
        assert info["example"]["features"] == [{"x": 1.0}]
        err, listing = await call(c, "ml_list_models", {})
        assert not err and listing["models"][0]["versions"][0]["interfaces"] == ["predictor"]
        err, msg = await call(c, "ml_predict", {"model": "pickled@1", "features": [{"x": 3.0}]})
        assert err and "no operator admitted it" in msg and "mlgate models admit pickled 1" in msg, msg
    assert not marker.exists()  # reading metadata and a refused call executed nothing

    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "models", "admit", "pickled", "1"],
        env=mlgate_env(settings.home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "admitted pickled@1" in done.stdout, done.stderr
    async with Client(build_server(Runtime(settings))) as c:
        err, out = await call(c, "ml_predict", {"model": "pickled@1", "features": [{"x": 3.0}]})
        assert not err and out["predictions"] == [6.0], out
        err, info = await call(c, "ml_model_info", {"model": "pickled@1"})
        assert info["admitted_by"] and "mlgate models" in info["admitted_by"]
    assert marker.exists()  # admitted code runs: the marker is the proof the refusals above held

    rt = Runtime(settings)
    path = rt.models.mlflow.local_path(rt.models.registry.version("pickled", 1))
    (path / "python_model.pkl").write_bytes((path / "python_model.pkl").read_bytes() + b"\n")
    marker.unlink()
    with pytest.raises(IntegrityError, match="changed since"):
        await rt.models.acquire("pickled@1", "predictor")
    assert not marker.exists()
    await rt.aclose()


async def test_trusted_name_patterns_load_without_an_admission(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    settings = Settings(home=tmp_path / "home", trusted_models=["team-*"])
    settings.ensure_home()
    _log_pickled_pyfunc(settings, "team-pickled", marker)
    _log_pickled_pyfunc(settings, "other-pickled", marker)
    rt = Runtime(settings)
    loaded, _ = await rt.models.acquire("team-pickled@1", "predictor")
    assert loaded.impl is not None and marker.exists()
    marker.unlink()
    with pytest.raises(Refused, match="no operator admitted it"):
        await rt.models.acquire("other-pickled@1", "predictor")
    assert not marker.exists()
    await rt.aclose()
