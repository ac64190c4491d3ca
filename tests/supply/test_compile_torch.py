"""ml_compile on a small PyTorch model made here: ONNX, TorchScript, int8, fp16, each served after parity.

Skipped when torch is not installed (it is an optional extra: pip install torch==2.13.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.serving import inference
from mlgate.serving.runtime import Runtime
from mlgate.supply.compile import CompileRequest, compile_version

torch = pytest.importorskip(
    "torch", reason="torch is an optional extra (pip install torch==2.13.0)", exc_type=ImportError
)

pytestmark = pytest.mark.anyio


async def _quiet(done: float, total: float | None, message: str) -> None:
    return None


@pytest.fixture(scope="module")
def torch_model(compile_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray]:
    """A 4→16→1 MLP fitted briefly, saved by mlflow.pytorch with a column signature, registered."""
    import mlflow.pytorch
    import pandas as pd
    from mlflow.models import infer_signature

    from mlgate.models.registrar import Registrar

    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(128, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32))[:, None]
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    net.eval()
    names = [f"f{i}" for i in range(4)]
    folder = tmp_path_factory.mktemp("torch-model") / "model"
    frame = pd.DataFrame(x.astype(np.float64), columns=names)
    mlflow.pytorch.save_model(
        net,
        str(folder),
        signature=infer_signature(frame, y),
        serialization_format="pickle",
        pip_requirements=["torch"],
        metadata={"mlgate": {"sample": x[:64].tolist()}},
    )
    info = Registrar(Settings(home=compile_home), admit_by="test fixture").register_dir(
        "cmp-torch", folder, metrics={"mse": loss.item()}
    )
    return f"cmp-torch@{info.version}", x


@pytest.mark.parametrize(
    ("target", "fmt"),
    [("onnx", "onnx"), ("torchscript", "torchscript"), ("int8", "onnx-int8"), ("fp16", "onnx-fp16")],
)
async def test_torch_model_compiles_and_serves(
    compile_home: Path, torch_model: tuple[str, np.ndarray], target: str, fmt: str
) -> None:
    ref, x = torch_model
    rt = Runtime(Settings(home=compile_home))
    out = await compile_version(
        rt,
        CompileRequest(ref, target),
        caller=Caller("user", "test", "memory", frozenset({"ml:manage"})),
        progress=_quiet,
    )
    assert out.parity.passed and out.parity.sample == "training sample" and out.parity.rows == 64
    assert out.artifact.format == fmt
    if target in ("onnx", "torchscript"):
        assert out.parity.max_abs_diff < 1e-5
    row = [{f"f{i}": float(v) for i, v in enumerate(x[0])}]
    source = await inference.predict(rt, ref, row)
    compiled = await inference.predict(rt, out.registered, row)
    assert compiled.model.sha256 == out.model.sha256 != source.model.sha256
    tol = 1e-4 if target in ("onnx", "torchscript") else 0.2
    assert abs(compiled.predictions[0] - source.predictions[0]) < tol  # type: ignore[operator]
    info = await rt.models.resolve(rt.models.parse(out.registered))
    assert info.tags["mlgate.compiled_from"] == ref and info.tags["mlgate.compiled_format"] == fmt
