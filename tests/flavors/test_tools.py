"""Issue 13's acceptance through the MCP tools, on a registry filled only by plain MLflow calls.

For each version: ``ml_list_models`` and ``ml_model_info`` show its interfaces, typed features and
the run's metrics without loading it (the model cache counts no load); the tool named for its
interface answers with the library's own numbers (to 1e-6); the example ``ml_model_info`` gives
works as given; typed records (long, boolean, string) pass and a wrong type is an ``isError``
naming the record, the feature, the type expected and what came. A cloudpickle scikit-learn
version (code that runs when loaded) is refused until an operator admits it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.schemas.interfaces import TOOL_OF
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlflow_at, mlgate_env
from tests._support.flavors import GOOD_TYPED, INTERFACES, Logged, close, columns_of, records, records_of

pytestmark = pytest.mark.anyio

PICKLED = "sk_pickled"  # logged here with serialization_format="cloudpickle": runs code when loaded


@dataclass
class Plain:
    settings: Settings
    pickled: Any  # the fitted Ridge behind the cloudpickle version


@pytest.fixture(scope="module")
def plain(
    registry: dict[str, Logged], registry_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Plain:
    """Settings over the plain-MLflow registry, plus one cloudpickle scikit-learn version logged by plain MLflow."""
    import mlflow
    from sklearn.linear_model import Ridge

    uri = f"sqlite:///{registry_root}/mlflow.db"
    with mlflow_at(uri):
        frame = registry["sk_numeric"].frame
        ridge = Ridge().fit(frame, np.arange(len(frame), dtype=float))
        teams = mlflow.get_experiment_by_name("teams")
        assert teams is not None
        with mlflow.start_run(experiment_id=teams.experiment_id):
            mlflow.log_metric("r2", 0.5)
            mlflow.sklearn.log_model(
                ridge,
                name="model",
                registered_model_name=PICKLED,
                serialization_format="cloudpickle",
                input_example=frame.iloc[:2],
                pip_requirements=["mlflow"],
            )
    settings = Settings(
        home=tmp_path_factory.mktemp("plain-home"), tracking_uri=uri, stdio_scopes=["ml:read", "ml:infer"]
    )
    settings.ensure_home()
    return Plain(settings, ridge)


@pytest.fixture
async def rt(plain: Plain) -> AsyncIterator[Runtime]:
    runtime = Runtime(plain.settings)
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[Any]:
    async with Client(build_server(rt)) as c:
        yield c


async def test_listing_and_info_show_interfaces_features_and_metrics_without_loading(
    client: Any, rt: Runtime, registry: dict[str, Logged]
) -> None:
    err, listing = await call(client, "ml_list_models", {})
    assert not err, listing
    versions = {m["name"]: m["versions"] for m in listing["models"]}
    for name, interface in INTERFACES.items():
        (v1,) = versions[name]
        assert v1["interfaces"] == [interface], (name, v1)
        assert v1["aliases"] == ["production"], (name, v1)
        assert v1["metrics"] == pytest.approx(registry[name].metrics), (name, v1)
    assert versions[PICKLED][0]["interfaces"] == ["predictor"] and versions[PICKLED][0]["metrics"] == {
        "r2": 0.5
    }
    assert rt.models.cache.stats().loads == 0

    for name, interface in INTERFACES.items():
        err, info = await call(client, "ml_model_info", {"model": f"{name}@production"})
        assert not err, info
        assert info["interfaces"] == [interface] and info["model"]["version"] == 1, (name, info)
        assert info["metrics"] == pytest.approx(registry[name].metrics), name
        assert info["runs_code"] == [] and info["admitted_by"] is None, (name, info)
        want = list(records(registry[name])[0])
        assert [f["name"] for f in info["features"]] == want, (name, info["features"])
        assert set(info["example"]) == {"model", "features"} and list(info["example"]["features"][0]) == want
    err, info = await call(client, "ml_model_info", {"model": f"{PICKLED}@1"})
    assert (
        not err and info["runs_code"] == ["a cloudpickle file (model.pkl)"] and info["admitted_by"] is None
    ), info
    types = {
        f["name"]: f["type"]
        for f in (await call(client, "ml_model_info", {"model": "sk_typed@1"}))[1]["features"]
    }
    assert types == {"visits": "long", "smoker": "boolean", "age": "double"}
    assert rt.models.cache.stats().loads == 0  # nothing above loaded (or unpickled) a model


@pytest.mark.parametrize("name", sorted(INTERFACES))
async def test_the_tool_answers_with_the_library_numbers(
    client: Any, registry: dict[str, Logged], name: str
) -> None:
    logged = registry[name]
    tool = TOOL_OF[INTERFACES[name]]
    err, out = await call(client, tool, {"model": f"{name}@production", "features": records(logged)})
    assert not err, out
    assert out["model"]["name"] == name and out["model"]["version"] == 1 and len(out["model"]["sha256"]) == 64
    if tool == "ml_predict":
        assert close(out["predictions"], logged.model.predict(logged.frame)), name
        return
    if name == "onnx_zipmap":
        import onnxruntime as ort

        session = ort.InferenceSession(str(logged.path / "model.onnx"), providers=["CPUExecutionProvider"])
        x = np.asarray(logged.frame, dtype=np.float32)
        label_out, zipmap = session.run(None, {session.get_inputs()[0].name: x})
        assert out["labels"] == [str(v) for v in label_out.tolist()]
        assert close([[p["0"], p["1"]] for p in out["probabilities"]], [[m[0], m[1]] for m in zipmap])
        return
    classes = [str(c) for c in logged.model.classes_]
    assert all(list(p) == classes for p in out["probabilities"]), out["probabilities"][0]
    assert close(
        [[p[c] for c in classes] for p in out["probabilities"]], logged.model.predict_proba(logged.frame)
    )
    assert out["labels"] == [str(c) for c in np.ravel(logged.model.predict(logged.frame))]


@pytest.mark.parametrize("name", sorted(INTERFACES))
async def test_the_example_works_as_given(client: Any, registry: dict[str, Logged], name: str) -> None:
    import pandas as pd

    err, info = await call(client, "ml_model_info", {"model": f"{name}@production"})
    assert not err, info
    example = info["example"]
    err, out = await call(client, TOOL_OF[info["interfaces"][0]], example)
    assert not err, (example, out)
    if name == "onnx_zipmap":
        assert len(out["labels"]) == 1 and abs(sum(out["probabilities"][0].values()) - 1) < 1e-6
        return
    frame = pd.DataFrame(example["features"])
    model = registry[name].model
    if "predictions" in out:
        assert close(out["predictions"], model.predict(frame)), name
    else:
        classes = [str(c) for c in model.classes_]
        assert close([[p[c] for c in classes] for p in out["probabilities"]], model.predict_proba(frame)), (
            name
        )


async def test_typed_records_pass_through_the_tools(client: Any, registry: dict[str, Logged]) -> None:
    typed = registry["sk_typed"]
    rows = records_of(typed.frame)
    assert {type(v) for r in rows for v in r.values()} == {int, bool, float}
    err, out = await call(client, "ml_predict", {"model": "sk_typed@production", "features": rows})
    assert not err and close(out["predictions"], typed.model.predict(typed.frame)), out
    for name in ("sk_columns", "catboost_regressor"):  # a string column (one-hot / CatBoost categorical)
        rows = records_of(registry[name].frame)
        assert {type(r["region"]) for r in rows} == {str}
        err, out = await call(client, "ml_predict", {"model": f"{name}@1", "features": rows})
        assert not err and close(out["predictions"], registry[name].model.predict(registry[name].frame)), out


@pytest.mark.parametrize(
    ("model", "good", "bad", "says"),
    [
        (
            "sk_typed",
            GOOD_TYPED,
            {"visits": 2.5},
            "record 1, feature 'visits': expected an integer (long, 64-bit), got float 2.5",
        ),
        (
            "sk_typed",
            GOOD_TYPED,
            {"visits": "3"},
            "record 1, feature 'visits': expected an integer (long, 64-bit), got str '3'",
        ),
        (
            "sk_typed",
            GOOD_TYPED,
            {"smoker": 1},
            "record 1, feature 'smoker': expected true or false (boolean), got int 1",
        ),
        (
            "sk_typed",
            GOOD_TYPED,
            {"smoker": "yes"},
            "record 1, feature 'smoker': expected true or false (boolean), got str",
        ),
        (
            "sk_typed",
            GOOD_TYPED,
            {"age": "41"},
            "record 1, feature 'age': expected a number (double), got str '41'",
        ),
        (
            "sk_columns",
            {"age": 50.0, "bmi": 25.0, "region": "north"},
            {"region": 3},
            "record 1, feature 'region': expected a string, got int 3",
        ),
        (
            "catboost_regressor",
            {"age": 50.0, "bmi": 25.0, "region": "east"},
            {"region": False},
            "record 1, feature 'region': expected a string, got bool False",
        ),
    ],
)
async def test_a_wrong_type_is_an_error_naming_row_column_type_and_value(
    client: Any, model: str, good: dict[str, Any], bad: dict[str, Any], says: str
) -> None:
    err, msg = await call(client, "ml_predict", {"model": f"{model}@1", "features": [good, {**good, **bad}]})
    assert err and says in msg, msg


async def test_a_pickled_version_is_refused_until_an_operator_admits_it(client: Any, plain: Plain) -> None:
    row = {"age": 50.0, "bmi": 25.0}
    err, msg = await call(client, "ml_predict", {"model": f"{PICKLED}@1", "features": [row]})
    assert err and "no operator admitted it" in msg and f"mlgate models admit {PICKLED} 1" in msg, msg
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "models", "admit", PICKLED, "1"],
        env=mlgate_env(plain.settings.home, MLGATE_TRACKING_URI=plain.settings.tracking),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and f"admitted {PICKLED}@1" in done.stdout, done.stderr
    err, info = await call(client, "ml_model_info", {"model": f"{PICKLED}@1"})
    assert not err and info["admitted_by"] and "mlgate models" in info["admitted_by"], info
    err, out = await call(client, "ml_predict", {"model": f"{PICKLED}@1", "features": [row]})
    assert not err, out
    import pandas as pd

    assert close(out["predictions"], plain.pickled.predict(pd.DataFrame([row])))


@pytest.mark.parametrize("name", sorted(INTERFACES))
async def test_columnar_and_records_answer_the_same(
    client: Any, registry: dict[str, Logged], name: str
) -> None:
    tool, ref = TOOL_OF[INTERFACES[name]], f"{name}@production"
    recs = records(registry[name])
    err, by_records = await call(client, tool, {"model": ref, "features": recs})
    assert not err, by_records
    err, by_columns = await call(client, tool, {"model": ref, "features": columns_of(recs)})
    assert not err, by_columns
    assert by_columns == by_records
    bad = columns_of(recs)
    j = next(j for j, v in enumerate(bad["rows"][1]) if type(v) is float)  # a number column
    bad["rows"][1][j] = "oops"
    err, said = await call(client, tool, {"model": ref, "features": bad})
    recs_bad = [dict(zip(bad["columns"], row, strict=True)) for row in bad["rows"]]
    err2, said2 = await call(client, tool, {"model": ref, "features": recs_bad})
    assert err and err2 and said == said2 and "record 1, feature" in said and "'oops'" in said, said
