"""The ``tensorrt`` target of ml_compile: declared honestly.

TensorRT needs the ``tensorrt`` Python package and a CUDA device. Without either, ``require``
refuses with what is missing and what works now (``onnx``). Where both exist, the engine is
built from the ONNX export of the source (``build_engine``) and checked for parity like
every other target (``EngineModel``). The GPU path is written against the TensorRT 10 Python
API and is **untested here**: the machines that run mlgate's tests have no GPU.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from mlgate.errors import Refused


def missing() -> list[str]:
    """What this server lacks to build a TensorRT engine; empty when it has both."""
    lacks = []
    if importlib.util.find_spec("tensorrt") is None:
        lacks.append("the tensorrt Python package")
    if not _cuda():
        lacks.append("a CUDA GPU")
    return lacks


def _cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def require() -> None:
    lacks = missing()
    if lacks:
        raise Refused(
            "target 'tensorrt' needs the tensorrt package and a CUDA GPU; this server lacks "
            + " and ".join(lacks),
            "compile to 'onnx' now (also 'int8', 'fp16', or 'torchscript' for PyTorch); run ml_compile "
            "with 'tensorrt' on a server with an NVIDIA GPU, CUDA and `pip install tensorrt`",
        )


def build_engine(onnx_bytes: bytes, n_features: int) -> bytes:  # pragma: no cover - needs a GPU
    """A serialized TensorRT engine (FP32) built from an ONNX graph with a dynamic batch axis."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise Refused(f"TensorRT cannot parse the ONNX export: {errors[:500]}", "use target 'onnx'")
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    name = network.get_input(0).name
    profile.set_shape(name, (1, n_features), (64, n_features), (4096, n_features))
    config.add_optimization_profile(profile)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise Refused("TensorRT could not build an engine from the ONNX export", "use target 'onnx'")
    return bytes(engine)


class EngineModel:  # pragma: no cover - needs a GPU
    """A TensorRT engine behind the Predictor interface (first output), for the parity check."""

    def __init__(self, engine: bytes) -> None:
        import tensorrt as trt

        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(engine)
        self.context = self.engine.create_execution_context()

    def predict(self, rows: Any) -> list[Any]:
        import numpy as np
        import torch

        x = torch.from_numpy(np.asarray(rows, dtype=np.float32)).cuda()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.context.set_input_shape(names[0], tuple(x.shape))
        out = torch.empty(tuple(self.context.get_tensor_shape(names[1])), dtype=torch.float32, device="cuda")
        self.context.set_tensor_address(names[0], x.data_ptr())
        self.context.set_tensor_address(names[1], out.data_ptr())
        self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        arr = out.cpu().numpy().astype(np.float64).reshape(len(x), -1)
        values: list[Any] = arr[:, 0].tolist() if arr.shape[1] == 1 else arr.tolist()
        return values
