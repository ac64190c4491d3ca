"""ml_compile to safetensors (sidecar verified, served without pickle) and the honest TensorRT refusal."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.errors import IntegrityError, InvalidInput
from mlgate.server.app import build_server
from mlgate.serving import inference
from mlgate.serving.runtime import Runtime
from mlgate.supply.compile import CompileRequest, compile_version
from tests._support import call

torch = pytest.importorskip("torch", reason="torch is an optional extra", exc_type=ImportError)
pytest.importorskip("safetensors", reason="safetensors comes with the torch extra", exc_type=ImportError)

pytestmark = pytest.mark.anyio
MANAGER = Caller("user", "test", "memory", frozenset({"ml:manage"}))


async def _quiet(done: float, total: float | None, message: str) -> None:
    return None


def _net() -> tuple[object, np.ndarray]:
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).eval()
    return net, np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)


def _register_torch(home: Path, factory: pytest.TempPathFactory, name: str, net: Any) -> str:
    """``net`` saved by plain mlflow.pytorch (pickle, column signature, a training sample), registered."""
    import mlflow.pytorch
    import pandas as pd
    from mlflow.models import infer_signature

    from mlgate.models.registrar import Registrar

    x = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
    folder = factory.mktemp(name) / "model"
    names = [f"f{i}" for i in range(4)]
    with torch.no_grad():
        y = net(torch.from_numpy(x)).numpy()
    mlflow.pytorch.save_model(
        net,
        str(folder),
        signature=infer_signature(pd.DataFrame(x.astype(np.float64), columns=names), y),
        serialization_format="pickle",
        pip_requirements=["torch"],
        metadata={"mlgate": {"sample": x.tolist()}},
    )
    info = Registrar(Settings(home=home), admit_by="test fixture").register_dir(name, folder)
    return f"{name}@{info.version}"


@pytest.fixture(scope="module")
def st_model(compile_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray]:
    net, x = _net()
    return _register_torch(compile_home, tmp_path_factory, "st-torch", net), x


async def test_safetensors_round_trip_serves_with_its_sidecar(
    compile_home: Path, st_model: tuple[str, np.ndarray]
) -> None:
    ref, x = st_model
    rt = Runtime(Settings(home=compile_home))
    out = await compile_version(rt, CompileRequest(ref, "safetensors"), caller=MANAGER, progress=_quiet)
    assert out.artifact.format == "safetensors" and out.parity.passed and out.parity.max_abs_diff < 1e-6
    row = [{f"f{i}": float(v) for i, v in enumerate(x[0])}]
    source = await inference.predict(rt, ref, row)
    compiled = await inference.predict(rt, out.registered, row)
    assert abs(compiled.predictions[0] - source.predictions[0]) < 1e-5  # type: ignore[operator]
    loaded, _ = await rt.models.acquire(out.registered)
    assert loaded.info.flavor == "mlgate_torch"
    folder = Path(loaded.local_path)
    weights = (folder / "model.safetensors").read_bytes()
    assert weights[:8] != b"\x80\x04\x95"[:8] and not (folder / "data").exists()  # no pickle in the artifact
    sidecar = (folder / "model.safetensors.sha256").read_text().split()[0]
    assert sidecar == hashlib.sha256(weights).hexdigest() == out.artifact.sha256
    again = await compile_version(rt, CompileRequest(ref, "safetensors"), caller=MANAGER, progress=_quiet)
    assert again.reused and again.registered == out.registered


def test_a_tampered_weight_is_refused(tmp_path: Path) -> None:
    from mlgate.adapters.torch_safetensors import load_module, save

    net, x = _net()
    save(net, tmp_path)
    rebuilt = load_module(tmp_path)
    with torch.no_grad():
        assert np.array_equal(rebuilt(torch.from_numpy(x)).numpy(), net(torch.from_numpy(x)).numpy())  # type: ignore[operator]
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-1] ^= 0x01  # one bit of the last weight
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match its sidecar"):
        load_module(tmp_path)
    (tmp_path / "model.safetensors.sha256").unlink()
    with pytest.raises(IntegrityError, match=r"sidecar model\.safetensors\.sha256 is missing"):
        load_module(tmp_path)


def _wide() -> object:
    """Every kind of layer mlgate rebuilds that changes numbers, nested, with non-default arguments."""
    nn = torch.nn
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Linear(4, 12, bias=False),
        nn.LayerNorm(12, eps=1e-3),
        nn.Sequential(nn.GELU(approximate="tanh"), nn.Dropout(0.2), nn.PReLU(12)),
        nn.BatchNorm1d(12, momentum=0.2),
        nn.Unflatten(1, (3, 4)),
        nn.Conv1d(3, 5, kernel_size=2, padding=1, padding_mode="replicate"),
        nn.ELU(alpha=0.5),
        nn.MaxPool1d(2),
        nn.Flatten(),
        nn.Linear(10, 6),
        nn.LeakyReLU(0.05),
        nn.Softplus(beta=2.0),
        nn.Linear(6, 3),
        nn.Softmax(dim=1),
    )
    net.train()
    with torch.no_grad():  # give the batch norm running statistics that are not the defaults
        for _ in range(3):
            net(torch.randn(64, 4) * 3 + 1)
    return net.eval()


def test_sequentials_of_built_in_layers_round_trip_exactly(tmp_path: Path) -> None:
    import json

    from mlgate.adapters.torch_safetensors import load_module, save

    net: Any = _wide()
    save(net, tmp_path)
    layers = json.loads((tmp_path / "architecture.json").read_text())["sequential"]
    assert [spec["type"] for spec in layers][:3] == ["Linear", "LayerNorm", "Sequential"]
    assert layers[5]["args"]["padding_mode"] == "replicate" and layers[0]["args"]["bias"] is False
    rebuilt = load_module(tmp_path)
    assert str(rebuilt) == str(net)
    x = torch.from_numpy(np.random.default_rng(2).normal(size=(16, 4)).astype(np.float32))
    with torch.no_grad():
        assert torch.equal(rebuilt(x), net(x))
    assert torch.equal(rebuilt[3].running_mean, net[3].running_mean)


def test_the_first_architecture_format_still_loads(tmp_path: Path) -> None:
    import json

    from mlgate.adapters import torch_weights
    from mlgate.adapters.torch_safetensors import load_module

    net, x = _net()
    torch_weights.write(torch_weights.state_of(net), tmp_path)
    first = [{"type": "Linear", "in": 4, "out": 8, "bias": True}, {"type": "Tanh"}]
    first.append({"type": "Linear", "in": 8, "out": 1, "bias": True})
    (tmp_path / "architecture.json").write_text(json.dumps({"sequential": first}))
    with torch.no_grad():
        assert torch.equal(load_module(tmp_path)(torch.from_numpy(x)), net(torch.from_numpy(x)))  # type: ignore[operator]


def test_an_architecture_file_builds_only_listed_layers_from_plain_values(tmp_path: Path) -> None:
    import json

    from mlgate.adapters import torch_weights
    from mlgate.adapters.torch_safetensors import load_module

    torch_weights.write({"0.weight": torch.zeros(1, 1)}, tmp_path)
    for layers, needle in [
        ([{"type": "Module"}], "does not build: 'Module'"),
        ([{"type": "Linear", "args": {"in_features": 1, "out_features": 1, "device": "meta"}}], "takes no"),
        ([{"type": "Linear", "args": {"in_features": {"a": 1}, "out_features": 1}}], "not a plain value"),
    ]:
        (tmp_path / "architecture.json").write_text(json.dumps({"sequential": layers}))
        with pytest.raises(IntegrityError, match=needle):
            load_module(tmp_path)


def test_only_rebuildable_modules_are_saved(tmp_path: Path) -> None:
    from mlgate.adapters.torch_safetensors import save

    module: Any = torch.nn.Module

    class Custom(module):
        def forward(self, x: object) -> object:
            return x

    class SneakyLinear(torch.nn.Linear):
        def forward(self, x: Any) -> Any:
            return x

    for net in [
        torch.nn.Sequential(torch.nn.Linear(2, 2), Custom()),
        torch.nn.Sequential(SneakyLinear(2, 2)),
        Custom(),
    ]:
        with pytest.raises(InvalidInput, match=r"rebuilds a torch\.nn\.Sequential of Linear") as err:
            save(net, tmp_path)
        assert "'onnx'" in str(err.value) and "mlgate torchhub pull" in str(err.value)
    assert not (tmp_path / "model.safetensors").exists()


@pytest.fixture(scope="module")
def wide_model(compile_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _register_torch(compile_home, tmp_path_factory, "st-wide", _wide())


@pytest.fixture(scope="module")
def custom_model(compile_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _register_torch(compile_home, tmp_path_factory, "st-custom", Residual().eval())


class Residual(torch.nn.Module):
    """A model whose architecture lives only in its Python class (pickled with mlflow.pytorch)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = torch.nn.Linear(4, 4)

    def forward(self, x: Any) -> Any:
        return (x + self.inner(x)).sum(dim=1, keepdim=True)


async def test_ml_compile_keeps_any_rebuildable_torch_model_as_safetensors_and_names_what_it_needs(
    compile_home: Path, wide_model: str, custom_model: str
) -> None:
    rt = Runtime(Settings(home=compile_home))
    out = await compile_version(
        rt, CompileRequest(wide_model, "safetensors"), caller=MANAGER, progress=_quiet
    )
    assert out.parity.passed and out.parity.max_abs_diff == 0.0
    loaded, _ = await rt.models.acquire(out.registered)
    assert loaded.info.flavor == "mlgate_torch"
    # the safetensors version compiles on to ONNX; to safetensors again it is refused (already)
    onnx = await compile_version(rt, CompileRequest(out.registered, "onnx"), caller=MANAGER, progress=_quiet)
    assert onnx.parity.passed and onnx.artifact.format == "onnx"
    with pytest.raises(InvalidInput, match=r"already kept as model\.safetensors"):
        await compile_version(
            rt, CompileRequest(out.registered, "safetensors"), caller=MANAGER, progress=_quiet
        )
    async with Client(build_server(rt)) as c:
        err, msg = await call(c, "ml_compile", {"model": custom_model, "target": "safetensors"})
    assert err and custom_model in msg and "Residual" in msg
    assert "torch.nn.Sequential of Linear" in msg and "compile it to 'onnx'" in msg


async def test_tensorrt_is_refused_with_what_is_needed(compile_home: Path) -> None:
    from mlgate.supply.tensorrt import missing

    lacks = missing()
    if not lacks:
        pytest.skip("this machine has TensorRT and a GPU: the refusal does not apply")
    async with Client(build_server(Runtime(Settings(home=compile_home)))) as c:
        err, msg = await call(c, "ml_compile", {"model": "demo-regressor@1", "target": "tensorrt"})
    assert err
    assert "tensorrt package and a CUDA GPU" in msg and "compile to 'onnx' now" in msg
    assert all(what in msg for what in lacks)
