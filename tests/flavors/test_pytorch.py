"""The MLflow ``pytorch`` flavor through the MCP tools, on a registry filled only by plain MLflow calls.

A tiny torch MLP (a regression head) logged with ``mlflow.pytorch.log_model`` — once with a DataFrame
input example (named float32 columns), once with a numpy one (an unnamed float32 tensor): listed as a
predictor without a load, ``runs_code`` reported, ``ml_predict`` refused until an operator admits the
version at the digest ``ml_model_info`` reports, then the numbers equal ``model(x)`` to 1e-6 and the
example ``ml_model_info`` gives works as given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from tests._support import call, mlflow_at, mlflow_db
from tests._support.flavors import close

pytestmark = pytest.mark.anyio

FRAME, TENSOR = "torch_mlp", "torch_tensor"
COLUMNS = ["age", "bmi", "dose"]


@dataclass
class TorchRegistry:
    settings: Settings
    models: dict[str, Any]  # name → the torch module logged under it
    x: Any  # float32 test rows (not the stored example)


def _own(module: Any, x: Any) -> Any:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy().ravel()


@pytest.fixture(scope="module")
def torch_registry(tmp_path_factory: pytest.TempPathFactory) -> TorchRegistry:
    import mlflow
    import mlflow.pytorch
    import pandas as pd
    import torch
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("plain-torch")
    uri = mlflow_db(root)
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (40, len(COLUMNS))).astype(np.float32)
    models: dict[str, Any] = {}
    with mlflow_at(uri):
        exp = mlflow.create_experiment("torch", artifact_location=(root / "artifacts").as_uri())
        client = MlflowClient(tracking_uri=uri)
        # MLflow's default format, pt2 (torch.export), takes a numpy example only; pickle takes a DataFrame
        examples = {
            FRAME: (pd.DataFrame(x[:3], columns=COLUMNS), {"serialization_format": "pickle"}),
            TENSOR: (x[:3], {}),
        }
        for name, (example, kw) in examples.items():
            mlp = torch.nn.Sequential(
                torch.nn.Linear(len(COLUMNS), 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)
            ).eval()
            with mlflow.start_run(experiment_id=exp, run_name=name):
                mlflow.log_metric("rmse", 0.25)
                mlflow.pytorch.log_model(
                    mlp,
                    name="model",
                    registered_model_name=name,
                    input_example=example,
                    pip_requirements=["mlflow", "torch"],
                    **kw,
                )
            client.set_registered_model_alias(name, "production", "1")
            models[name] = mlp
    settings = Settings(
        home=tmp_path_factory.mktemp("torch-home"), tracking_uri=uri, stdio_scopes=["ml:read", "ml:infer"]
    )
    settings.ensure_home()
    return TorchRegistry(settings, models, x[-6:])


@pytest.fixture
async def rt(torch_registry: TorchRegistry) -> AsyncIterator[Runtime]:
    runtime = Runtime(torch_registry.settings)
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[Any]:
    async with Client(build_server(rt)) as c:
        yield c


def _names(name: str) -> list[str]:
    return COLUMNS if name == FRAME else [f"f{i}" for i in range(len(COLUMNS))]


def _records(name: str, x: Any) -> list[dict[str, Any]]:
    return [dict(zip(_names(name), map(float, row), strict=True)) for row in np.asarray(x).tolist()]


@pytest.mark.parametrize("name", [FRAME, TENSOR])
async def test_pytorch_listed_refused_then_admitted_and_equal_to_the_module(
    client: Any, rt: Runtime, torch_registry: TorchRegistry, name: str
) -> None:
    import pandas as pd

    err, listing = await call(client, "ml_list_models", {})
    assert not err, listing
    (v1,) = {m["name"]: m["versions"] for m in listing["models"]}[name]
    assert v1["interfaces"] == ["predictor"] and v1["metrics"] == {"rmse": 0.25}, v1
    err, info = await call(client, "ml_model_info", {"model": f"{name}@production"})
    assert not err, info
    assert info["interfaces"] == ["predictor"], info
    assert info["runs_code"] == ["a pickled or TorchScript torch model"] and info["admitted_by"] is None, info
    assert [f["name"] for f in info["features"]] == _names(name), info["features"]
    assert {f["type"] for f in info["features"]} == {"float"}, info["features"]
    assert rt.models.cache.stats().loads == 0  # nothing above loaded (or unpickled) the module

    rows = _records(name, torch_registry.x)
    err, msg = await call(client, "ml_predict", {"model": f"{name}@production", "features": rows})
    assert err and "no operator admitted it" in msg and f"mlgate models admit {name} 1" in msg, msg
    assert rt.models.cache.stats().loads == 0

    rt.admissions.admit(name, 1, info["model"]["sha256"], "test operator")
    err, out = await call(client, "ml_predict", {"model": f"{name}@production", "features": rows})
    assert not err, out
    assert out["model"]["sha256"] == info["model"]["sha256"]
    module = torch_registry.models[name]
    want = _own(module, torch_registry.x)
    assert close(out["predictions"], want), (out["predictions"], want)
    assert len(set(np.round(want, 4).tolist())) > 1  # the rows really differ: a constant would not pass

    example = info["example"]
    err, out = await call(client, "ml_predict", example)
    assert not err, (example, out)
    given = pd.DataFrame(example["features"])[_names(name)].to_numpy(np.float32)
    assert len(out["predictions"]) == len(given) and close(out["predictions"], _own(module, given))
    err, info = await call(client, "ml_model_info", {"model": f"{name}@production"})
    assert not err and info["admitted_by"] == "test operator", info


async def test_a_wrong_type_and_a_missing_feature_are_refused(client: Any, rt: Runtime) -> None:
    row = dict.fromkeys(COLUMNS, 0.5)
    err, msg = await call(client, "ml_predict", {"model": f"{FRAME}@1", "features": [{**row, "bmi": "x"}]})
    assert err and "bmi" in msg, msg
    err, msg = await call(client, "ml_predict", {"model": f"{FRAME}@1", "features": [{"age": 1.0}]})
    assert err and "missing" in msg, msg
