"""Conversions behind ml_compile; every heavy library is imported inside the function that needs it.

scikit-learn → ONNX with skl2onnx (a float64 graph when ONNX Runtime can run one, which
keeps linear models and MLPs exact; float32 otherwise, e.g. tree ensembles); PyTorch →
ONNX with ``torch.onnx`` (the TorchScript-based exporter, which needs no onnxscript) and
→ TorchScript with ``torch.jit.trace``; ``int8`` = ONNX Runtime dynamic quantization of
a float32 graph; ``fp16`` = float16 conversion of a float32 graph (inputs and outputs
stay float32). A conversion that cannot work says why and what to do instead.
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.errors import InvalidInput

OPSET = {"": 17, "ai.onnx.ml": 3}
QUANTIZED_OPS = {
    "MatMulInteger",
    "ConvInteger",
    "DynamicQuantizeLinear",
    "QLinearMatMul",
    "QLinearConv",
    "DynamicQuantizeMatMul",
    "QAttention",
}
FLOAT16 = 10


@dataclass
class Converted:
    format: str  # onnx | onnx-int8 | onnx-fp16 | torchscript | safetensors | tensorrt
    data: bytes  # the artifact file, whose sha256 the result reports
    options: dict[str, Any] = field(default_factory=dict)
    module: Any = None  # torchscript: the ScriptModule; safetensors: the reloaded module as a TorchModel


def unsupported(what: str, why: str, instead: str) -> InvalidInput:
    return InvalidInput(f"cannot compile {what}: {why}", instead)


def session(data: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


def _final_step(est: Any) -> Any:
    steps = getattr(est, "steps", None)
    return steps[-1][1] if steps else est


def sklearn_to_onnx(est: Any, n_features: int, *, float32: bool) -> tuple[bytes, str]:
    """(ONNX bytes, input dtype) of a fitted scikit-learn estimator or pipeline."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    name = (
        type(est).__name__
        if not hasattr(est, "steps")
        else "Pipeline(" + type(_final_step(est)).__name__ + ")"
    )
    final = _final_step(est)
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    last: Exception | None = None
    for tensor, dtype in ([] if float32 else [(DoubleTensorType, "float64")]) + [
        (FloatTensorType, "float32")
    ]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                onx = convert_sklearn(
                    est,
                    initial_types=[("input", tensor([None, n_features]))],
                    options=options,
                    target_opset=OPSET,
                )
            onx.graph.name = (
                "mlgate"  # skl2onnx names graphs with a random id; a stable name keeps digests stable
            )
            data: bytes = onx.SerializeToString()
            session(data)
            return data, dtype
        except Exception as exc:  # skl2onnx raises many types; the last one is the one worth showing
            last = exc
    raise unsupported(
        f"{name} to ONNX",
        f"skl2onnx could not convert it ({str(last).splitlines()[0][:300]})",
        "serve the scikit-learn version as it is, or retrain with an estimator skl2onnx supports "
        "(e.g. GradientBoosting instead of HistGradientBoosting)",
    )


def onnx_ops(data: bytes) -> set[str]:
    import onnx

    return {n.op_type for n in onnx.load_from_string(data).graph.node}


def quantize_int8(data: bytes) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        src.write_bytes(data)
        logging.getLogger().addFilter(_quiet_quantizer)
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
            out = dst.read_bytes()
        except ValueError:  # e.g. a graph of ONNX-ML operators only ("Failed to find proper ai.onnx domain")
            raise _nothing("int8", data, "no MatMul, Gemm or Conv weights to quantize") from None
    if not onnx_ops(out) & QUANTIZED_OPS:
        raise _nothing("int8", data, "no MatMul, Gemm or Conv weights to quantize")
    session(out)
    return out


def _quiet_quantizer(record: logging.LogRecord) -> bool:
    """Drops ONNX Runtime's advice to pre-process before quantizing (logged on the root logger)."""
    return not str(record.msg).startswith("Please consider to run pre-processing")


def to_fp16(data: bytes) -> bytes:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load_from_string(data), keep_io_types=True)
    if not any(t.data_type == FLOAT16 for t in model.graph.initializer):
        raise _nothing(
            "fp16",
            data,
            "every operator of this graph stays float32 (ONNX-ML operators have no float16 kernels)",
        )
    out: bytes = model.SerializeToString()
    session(out)
    return out


def _nothing(target: str, data: bytes, why: str) -> InvalidInput:
    ops = ", ".join(sorted(onnx_ops(data))[:8])
    return unsupported(
        f"to {target}",
        f"{why}; its ONNX graph has: {ops}",
        "use target 'onnx' (already the fast path for this model)",
    )


def load_torch(model_dir: Path) -> Any:
    """The torch module of an MLflow ``pytorch`` model folder (the registry's own artifact, digest-checked)."""
    try:
        import mlflow.pytorch
    except ImportError:  # pragma: no cover - mlflow is a dependency
        raise unsupported("a PyTorch model", "mlflow.pytorch is missing", "reinstall mlgate") from None
    try:
        import torch  # noqa: F401
    except ImportError:
        raise unsupported(
            "a PyTorch model",
            "torch is not installed on the server",
            "ask the operator to install mlgate[torch] (torch==2.13.0)",
        ) from None
    return mlflow.pytorch.load_model(str(model_dir), map_location="cpu").eval()


def torch_to_onnx(module: Any, n_features: int) -> bytes:
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        export: Any = torch.onnx.export  # its stub wants a path; a file object works
        export(
            module,
            (torch.zeros(2, n_features),),
            buf,
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            opset_version=OPSET[""],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )
    data = buf.getvalue()
    session(data)
    return data


def torch_to_script(module: Any, n_features: int) -> tuple[Any, bytes]:
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        scripted = torch.jit.trace(module, torch.zeros(2, n_features))  # type: ignore[no-untyped-call, unused-ignore]
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    return scripted, buf.getvalue()


def torch_to_safetensors(module: Any, what: str = "a torch model") -> Converted:
    """Weights → ``model.safetensors`` (+ sidecar, architecture), loaded back the way serving loads them; refuses,
    naming what mlgate can rebuild, a module whose architecture only its own code could rebuild."""
    from mlgate.adapters.pytorch import TorchModel
    from mlgate.adapters.torch_safetensors import architecture, load_module, save

    try:
        architecture(module)
    except InvalidInput as exc:
        raise InvalidInput(f"{what}: {exc.message}", exc.hint) from None
    with tempfile.TemporaryDirectory() as tmp:
        data = save(module, Path(tmp))
        reloaded = load_module(Path(tmp))  # the parity check runs on what serving will run
    opts = {"converter": "safetensors", "architecture": "torch.nn.Sequential (architecture.json)"}
    return Converted("safetensors", data, opts, TorchModel(reloaded, []))
