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
from tests.tools.scenarios import call

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


@pytest.fixture(scope="module")
def st_model(compile_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray]:
    import mlflow.pytorch
    import pandas as pd
    from mlflow.models import infer_signature

    from mlgate.models.registry import Registrar

    net, x = _net()
    folder = tmp_path_factory.mktemp("st-model") / "model"
    names = [f"f{i}" for i in range(4)]
    y = net(torch.from_numpy(x)).detach().numpy()  # type: ignore[operator]
    mlflow.pytorch.save_model(
        net,
        str(folder),
        signature=infer_signature(pd.DataFrame(x.astype(np.float64), columns=names), y),
        serialization_format="pickle",
        pip_requirements=["torch"],
        metadata={"mlgate": {"sample": x.tolist()}},
    )
    info = Registrar(Settings(home=compile_home), admit_by="test fixture").register_dir("st-torch", folder)
    return f"st-torch@{info.version}", x


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
    from mlgate.interfaces.torch_weights import load, save

    net, x = _net()
    save(net, tmp_path)
    rebuilt = load(tmp_path)
    with torch.no_grad():
        assert np.allclose(rebuilt(torch.from_numpy(x)).numpy(), net(torch.from_numpy(x)).numpy())  # type: ignore[operator]
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-1] ^= 0x01  # one bit of the last weight
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match its sidecar"):
        load(tmp_path)


def test_only_rebuildable_modules_are_saved(tmp_path: Path) -> None:
    from mlgate.interfaces.torch_weights import save

    module: Any = torch.nn.Module

    class Custom(module):  # type: ignore[misc]
        def forward(self, x: object) -> object:
            return x

    with pytest.raises(InvalidInput, match="onnx"):
        save(torch.nn.Sequential(torch.nn.Linear(2, 2), Custom()), tmp_path)
    assert not (tmp_path / "model.safetensors").exists()


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
