"""One artifact plan: the flavor that is loaded is the one admission checks, and nothing outside the artifact
is read — at registration, admission and load.

Every version here is written by plain MLflow code (``save_model``, ``Model.add_flavor``, ``log_artifacts``,
``create_model_version``), the way a team's registry holds it; each hostile payload writes a marker file when
its code runs, and the refusals are proven by the marker never appearing.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from mcp import Client

from mlgate.config import Settings
from mlgate.errors import Refused
from mlgate.models.registrar import Registrar
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlgate_env
from tests.security.crafted import Marker

pytestmark = pytest.mark.anyio
INFER = ["ml:read", "ml:infer"]


def _home(tmp_path: Path, **kw: Any) -> Settings:
    settings = Settings(home=tmp_path / "home", stdio_scopes=INFER, **kw)
    settings.ensure_home()
    return settings


def _register_plain(settings: Settings, name: str, folder: Path, extra: Path | None = None) -> Path:
    """Log ``folder`` as a run's ``model`` artifact (and ``extra`` beside it) and register it, with plain
    MLflow calls only. Returns the stored copy of the model folder."""
    import mlflow
    from mlflow import MlflowClient

    exp = Registrar(settings).experiment_id()  # sets mlflow's URIs to this registry; registers nothing
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_artifacts(str(folder), artifact_path="model")
        if extra is not None and extra.is_dir():
            mlflow.log_artifacts(str(extra), artifact_path=extra.name)
        elif extra is not None:
            mlflow.log_artifact(str(extra))
    client = MlflowClient()
    client.create_registered_model(name)
    client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)
    return Path(mlflow.artifacts.download_artifacts(f"{run.info.artifact_uri}/model"))


def _edit_mlmodel(folder: Path, flavor: str, **conf: Any) -> None:
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"][flavor].update(conf)
    if "model_path" in mlmodel["flavors"].get("python_function", {}) and "pickled_model" in conf:
        mlmodel["flavors"]["python_function"]["model_path"] = conf["pickled_model"]
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def _admit_cli(settings: Settings, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlgate", "models", "admit", name, "1"],
        env=mlgate_env(settings.home),
        capture_output=True,
        text=True,
        timeout=180,
    )


def _two_flavor_folder(tmp_path: Path, marker: Path) -> Path:
    """A SARIMAX results pickle (carrying a hook that writes ``marker`` when unpickled), saved by
    ``mlflow.statsmodels``, whose MLmodel also lists the data-only ``prophet`` flavor."""
    import mlflow.statsmodels
    import statsmodels.api as sm
    from mlflow.models import Model

    t = np.arange(48, dtype=float)
    res = sm.tsa.SARIMAX(10 + 0.5 * t + np.sin(t), order=(1, 0, 0), trend="ct").fit(disp=False)
    res._results.hook = Marker(marker)
    folder = tmp_path / "two-flavors"
    mlflow.statsmodels.save_model(res, str(folder), pip_requirements=["statsmodels"])
    model = Model.load(str(folder / "MLmodel"))
    model.add_flavor("prophet", data="model.statsmodels", prophet_version="1.1")
    model.save(str(folder / "MLmodel"))
    marker.unlink(missing_ok=True)
    return folder


async def test_a_two_flavor_statsmodels_pickle_is_code_and_is_refused_until_admitted(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    settings = _home(tmp_path)
    stored = _register_plain(settings, "two", _two_flavor_folder(tmp_path, marker))
    assert set(yaml.safe_load((stored / "MLmodel").read_text())["flavors"]) >= {"prophet", "statsmodels"}

    async with Client(build_server(Runtime(settings))) as c:
        err, info = await call(c, "ml_model_info", {"model": "two@1"})
        assert not err, info
        assert info["runs_code"] == ["a pickled statsmodels results object"] and info["admitted_by"] is None
        err, msg = await call(c, "ml_forecast", {"model": "two@1", "horizon": 3})
        assert err and "no operator admitted it" in msg and "mlgate models admit two 1" in msg, msg
    assert not marker.exists()  # neither the description nor the refused call unpickled anything

    done = _admit_cli(settings, "two")
    assert done.returncode == 0 and "admitted two@1" in done.stdout, done.stderr
    shown = [line.strip() for line in done.stdout.splitlines()]
    assert f"{stored.resolve() / 'model.statsmodels'}  (runs code)" in shown, done.stdout  # full path
    assert not marker.exists()
    async with Client(build_server(Runtime(settings))) as c:
        err, out = await call(c, "ml_forecast", {"model": "two@1", "horizon": 3})
        assert not err and len(out["forecast"]) == 3, out
    assert marker.exists()  # the admitted payload was the pickle: the refusal above is what kept it out


def _pickle_outside(tmp_path: Path, marker: Path) -> tuple[Path, Path]:
    """A cloudpickle scikit-learn model folder (plain ``mlflow.sklearn.save_model``) and, outside it, the
    pickle its MLmodel will be pointed at: unpickling it writes ``marker``."""
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    x = np.arange(20, dtype=float).reshape(10, 2)
    folder = tmp_path / "sk-pickle"
    mlflow.sklearn.save_model(
        LinearRegression().fit(x, x.sum(axis=1)),
        str(folder),
        serialization_format="cloudpickle",
        pip_requirements=["scikit-learn"],
    )
    (folder / "model.pkl").unlink()
    outside = tmp_path / "elsewhere" / "model.pkl"
    outside.parent.mkdir()
    outside.write_bytes(pickle.dumps(Marker(marker)))
    return folder, outside


@pytest.mark.parametrize("form", ["absolute", "dotdot"])
async def test_a_pickle_named_outside_the_artifact_is_refused_at_registration_admission_and_load(
    tmp_path: Path, form: str
) -> None:
    marker = tmp_path / "ran"
    # trusted_models: even a name the operator trusts reads nothing outside its artifact
    settings = _home(tmp_path, trusted_models=["trusted-*"])
    folder, outside = _pickle_outside(tmp_path, marker)
    named = str(outside) if form == "absolute" else "../model.pkl"  # the run's own artifacts, beside model/
    why = "an absolute path" if form == "absolute" else "a path that leaves the artifact"
    _edit_mlmodel(folder, "sklearn", pickled_model=named)

    with pytest.raises(Refused, match=why):  # an operator registering (and admitting) it: refused first
        Registrar(settings, admit_by="operator").register_dir("outside", folder)
    assert not Registrar(settings).exists("outside")

    _register_plain(settings, "trusted-outside", folder, extra=outside)  # plain MLflow registers anything
    done = _admit_cli(settings, "trusted-outside")
    assert done.returncode != 0 and why in done.stdout + done.stderr, (done.stdout, done.stderr)
    async with Client(build_server(Runtime(settings))) as c:
        err, msg = await call(
            c, "ml_predict", {"model": "trusted-outside@1", "features": [{"f0": 1, "f1": 2}]}
        )
        assert err and why in msg and "sklearn.pickled_model" in msg, msg
        err, msg = await call(c, "ml_model_info", {"model": "trusted-outside@1"})
        assert err and why in msg, msg
    assert not marker.exists()


def _skops_folder(tmp_path: Path, name: str, scale: float) -> Path:
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    x = np.arange(20, dtype=float).reshape(10, 2)
    folder = tmp_path / name
    mlflow.sklearn.save_model(
        LinearRegression().fit(x, scale * x.sum(axis=1)), str(folder), pip_requirements=["scikit-learn"]
    )
    return folder


@pytest.mark.parametrize("form", ["absolute", "dotdot", "link"])
async def test_a_skops_version_whose_model_file_is_outside_is_refused(tmp_path: Path, form: str) -> None:
    settings = _home(tmp_path)
    other = _skops_folder(tmp_path, "other", 1000.0) / "model.skops"  # what an attacker wants served
    folder = _skops_folder(tmp_path, "sk", 1.0)
    row = {"features": [{"f0": 1.0, "f1": 2.0}]}
    if form == "link":
        stored = _register_plain(settings, "sk-out", folder)
        (stored / "model.skops").unlink()
        (stored / "model.skops").symlink_to(other)  # changed in the store: the digest skips links
        why = "model.skops in the artifact is a link to a place outside it"
    else:
        named = str(other) if form == "absolute" else "../other/model.skops"
        _edit_mlmodel(folder, "sklearn", pickled_model=named)
        with pytest.raises(Refused, match=r"sklearn\.pickled_model"):
            Registrar(settings).register_dir("sk-out", folder)
        _register_plain(settings, "sk-out", folder, extra=other.parent if form == "dotdot" else None)
        why = "an absolute path" if form == "absolute" else "a path that leaves the artifact"
    async with Client(build_server(Runtime(settings))) as c:
        err, msg = await call(c, "ml_predict", {"model": "sk-out@1", **row})
        assert err and why in msg, msg
        err, msg = await call(c, "ml_model_info", {"model": "sk-out@1"})
        assert err and why in msg, msg


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle"])
async def test_a_numpy_fitted_model_without_signature_lists_its_features_and_a_working_example(
    tmp_path: Path, fmt: str
) -> None:
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    settings = _home(tmp_path)
    x = np.random.default_rng(0).normal(size=(40, 10))
    est = LinearRegression().fit(x, x @ np.arange(10.0))
    with mlflow.start_run(experiment_id=Registrar(settings).experiment_id()):
        mlflow.sklearn.log_model(
            est,
            name="model",
            registered_model_name="np-fit",
            serialization_format=fmt,
            pip_requirements=["scikit-learn"],
        )
    names = [f"f{i}" for i in range(10)]
    rt = Runtime(settings)
    async with Client(build_server(rt)) as c:
        err, info = await call(c, "ml_model_info", {"model": "np-fit@1"})
        assert not err, info
        if fmt == "cloudpickle":  # code: its features are read only once an operator admitted it
            assert info["runs_code"] and info["features"] == [], info
            assert rt.models.cache.stats().loads == 0
            rt.admissions.admit("np-fit", 1, info["model"]["sha256"], "operator", "reviewed")
            err, info = await call(c, "ml_model_info", {"model": "np-fit@1"})
            assert not err and info["admitted_by"] == "operator", info
        else:  # data only: the skops file's own header says n_features_in_, nothing is loaded
            assert not info["runs_code"] and rt.models.cache.stats().loads == 0
        assert [f["name"] for f in info["features"]] == names, info
        example = info["example"]
        assert example["model"] == "np-fit@1" and list(example["features"][0]) == names, example
        err, out = await call(c, "ml_predict", example)
        assert not err and len(out["predictions"]) == 1, out
        expected = est.predict(np.array([[example["features"][0][n] for n in names]]))[0]
        assert abs(out["predictions"][0] - expected) < 1e-6
    await rt.aclose()
