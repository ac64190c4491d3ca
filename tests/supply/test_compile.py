"""ml_compile on scikit-learn models: ONNX, int8, fp16; parity, refusals, serving the compiled version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.errors import InvalidInput, Refused
from mlgate.schemas.supply import CompileResult
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from mlgate.supply.compile import CompileRequest, compile_version
from tests._support import DIABETES_ROW, IRIS_ROW, call

pytestmark = pytest.mark.anyio

MANAGER = ["ml:read", "ml:infer", "ml:manage"]
DIABETES_F = {f"f{i}": v for i, v in enumerate(DIABETES_ROW.values())}


async def _quiet(done: float, total: float | None, message: str) -> None:
    return None


@pytest.fixture
def rt(compile_home: Path) -> Runtime:
    return Runtime(Settings(home=compile_home))


async def _compile(rt: Runtime, model: str, target: str, *, admin: bool = False, **kw: Any) -> CompileResult:
    return await compile_version(
        rt,
        CompileRequest(model, target, **kw),
        caller=Caller("admin", "test", "memory", frozenset({"ml:admin"}))
        if admin
        else Caller("user", "test", "memory", frozenset({"ml:manage"})),
        progress=_quiet,
    )


@pytest.fixture
async def client(compile_home: Path) -> AsyncIterator[Any]:
    async with Client(build_server(Runtime(Settings(home=compile_home, stdio_scopes=MANAGER)))) as c:
        yield c


async def test_demo_classifier_to_onnx_serves_with_its_own_digest(client: Any) -> None:
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    result = await client.call_tool(
        "ml_compile", {"model": "demo-classifier@1", "target": "onnx"}, progress_callback=on_progress
    )
    assert not result.is_error, result.content
    out = result.structured_content
    parity = out["parity"]
    assert parity["passed"] and parity["label_agreement"] == 1.0 and parity["max_abs_diff"] <= 1e-5
    assert parity["sample"] == "training sample" and parity["rows"] > 50
    assert out["artifact"]["format"] == "onnx" and len(out["artifact"]["sha256"]) == 64
    assert out["registered"] != "demo-classifier@1" and out["registered"].startswith("demo-classifier@")
    assert any("parity" in m for m in progress) and any("registered" in m for m in progress)

    err, source = await call(client, "ml_classify", {"model": "demo-classifier@1", "features": [IRIS_ROW]})
    assert not err, source
    err, compiled = await call(client, "ml_classify", {"model": out["registered"], "features": [IRIS_ROW]})
    assert not err, compiled
    assert compiled["labels"] == source["labels"] == ["setosa"]
    for label, p in source["probabilities"][0].items():
        assert abs(compiled["probabilities"][0][label] - p) < 1e-6
    assert compiled["model"] == out["model"] and compiled["model"]["sha256"] != source["model"]["sha256"]

    err, info = await call(client, "ml_model_info", {"model": out["registered"]})
    assert not err, info
    assert info["flavor"] == "onnx" and info["lineage"]["mlgate.compiled_from"] == "demo-classifier@1"
    assert info["lineage"]["mlgate.compiled_format"] == "onnx"
    assert info["metrics"]["accuracy"] > 0.8 and [f["name"] for f in info["features"]] == list(IRIS_ROW)

    err, again = await call(client, "ml_compile", {"model": "demo-classifier@1", "target": "onnx"})
    assert not err and again["reused"] and again["registered"] == out["registered"]


async def test_demo_regressor_to_onnx_is_exact(rt: Runtime) -> None:
    from mlgate.serving import inference

    out = await _compile(rt, "demo-regressor@1", "onnx")
    assert out.parity.passed and out.parity.max_abs_diff < 1e-9
    assert out.artifact.options["input_dtype"] == "float64"
    a = await inference.predict(rt, "demo-regressor@1", [DIABETES_ROW])
    b = await inference.predict(rt, out.registered, [DIABETES_ROW])
    assert abs(a.predictions[0] - b.predictions[0]) < 1e-9  # type: ignore[operator]


@pytest.mark.parametrize(
    ("model", "target"),
    [
        ("cmp-forest@1", "onnx"),
        ("cmp-gb@1", "onnx"),
        ("cmp-mlp@1", "onnx"),
        ("cmp-mlp@1", "int8"),
        ("cmp-mlp@1", "fp16"),
    ],
)
async def test_ensembles_and_mlp(rt: Runtime, model: str, target: str) -> None:
    from mlgate.serving import inference

    out = await _compile(rt, model, target)
    assert out.parity.passed, out.parity
    assert out.artifact.format == {"onnx": "onnx", "int8": "onnx-int8", "fp16": "onnx-fp16"}[target]
    if model.startswith("cmp-forest"):
        assert out.parity.max_rel_diff < 1e-5  # float32 trees: exact to float precision
        served = await inference.predict(rt, out.registered, [DIABETES_F])
        assert 25 < served.predictions[0] < 350  # type: ignore[operator]
    else:
        assert out.parity.label_agreement is not None and out.parity.label_agreement >= 0.98
        served_c = await inference.classify(rt, out.registered, [IRIS_ROW])
        assert served_c.labels == ["setosa"] and served_c.model.sha256 == out.model.sha256


async def test_caller_data_drives_the_parity_check(rt: Runtime) -> None:
    out = await _compile(rt, "cmp-gb@1", "onnx", data=[IRIS_ROW, {**IRIS_ROW, "petal_length": 5.0}])
    assert out.parity.sample == "caller data" and out.parity.rows == 2


@pytest.mark.parametrize(
    ("model", "target", "needle"),
    [
        ("cmp-hgb@1", "onnx", "skl2onnx could not convert"),
        ("demo-sentiment@1", "onnx", "text pipelines"),
        ("demo-forecaster@1", "onnx", "not statsmodels"),
        ("demo-classifier@1", "torchscript", "TorchScript is for PyTorch models"),
        ("demo-regressor@1", "int8", "no MatMul, Gemm or Conv weights to quantize"),
        ("cmp-forest@1", "fp16", "ONNX-ML operators have no float16 kernels"),
    ],
)
async def test_unsupported_combinations_are_clear_errors(
    rt: Runtime, model: str, target: str, needle: str
) -> None:
    with pytest.raises(InvalidInput, match=needle):
        await _compile(rt, model, target)


async def test_parity_beyond_tolerance_refused_unless_admin_forces(rt: Runtime) -> None:
    with pytest.raises(Refused, match=r"beyond tolerance .* max abs diff"):
        await _compile(rt, "cmp-mlp@1", "int8", tolerance=1e-9)
    with pytest.raises(Refused, match="force on ml_compile needs the scope 'ml:admin'"):
        await _compile(rt, "cmp-mlp@1", "int8", tolerance=1e-9, force=True)
    with pytest.raises(Refused, match="looser than the default"):
        await _compile(rt, "cmp-mlp@1", "int8", tolerance=0.5)
    forced = await _compile(rt, "cmp-mlp@1", "int8", tolerance=1e-9, force=True, admin=True)
    assert forced.forced and not forced.parity.passed
    info = await rt.models.resolve(rt.models.parse(forced.registered))
    assert info.tags["mlgate.forced_by"] == "admin" and info.tags["mlgate.compiled_from"] == "cmp-mlp@1"


async def test_compile_refusals_through_the_tool(client: Any, compile_home: Path) -> None:
    err, msg = await call(client, "ml_compile", {"model": "demo-regressor@1", "target": "tensorrt"})
    assert err and "onnx" in msg and "torchscript" in msg
    err, msg = await call(client, "ml_compile", {"model": "hf:acme/iris-onnx@v1", "target": "int8"})
    assert err and "registered versions" in msg
    err, msg = await call(client, "ml_compile", {"model": "cmp-mlp@1", "target": "int8", "force": True})
    assert err and "ml:admin" in msg
    settings = Settings(home=compile_home, stdio_scopes=["ml:read", "ml:infer"])
    async with Client(build_server(Runtime(settings))) as c:
        err, msg = await call(c, "ml_compile", {"model": "demo-regressor@1", "target": "onnx"})
    assert err and "needs the scope 'ml:manage'" in msg
