"""ml_compile: a registered version → a compiled artifact, checked for parity, registered as a new version.

Source kinds: scikit-learn (skl2onnx), ONNX (int8/fp16 only) and PyTorch models, saved by
``mlflow.pytorch`` or kept by mlgate as safetensors (``mlgate_torch``, ``mlgate_torchhub``): ONNX,
TorchScript, int8/fp16 via ONNX, and safetensors from ``mlflow.pytorch`` when mlgate can rebuild the
architecture without the model's code. The new version keeps
the source's features, training statistics, sample and metrics, and records lineage
tags (``mlgate.compiled_from``, ``mlgate.compiled_format``, ``mlgate.compiled_sha256``).
Compiling the same source to the same artifact again returns the version already made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.auth.caller import Caller
from mlgate.domain import LoadedModel, VersionInfo
from mlgate.errors import InvalidInput, Refused
from mlgate.schemas.stamp import ModelStamp
from mlgate.schemas.supply import CompiledArtifact, CompileResult, ParityReport
from mlgate.serving.runtime import Runtime
from mlgate.supply import convert
from mlgate.supply.cancellable import in_thread
from mlgate.supply.parity import TOLERANCES, Tolerance, compare, sample_rows
from mlgate.supply.pull import Progress

FORMATS = {
    "onnx": "onnx",
    "int8": "onnx-int8",
    "fp16": "onnx-fp16",
    "torchscript": "torchscript",
    "safetensors": "safetensors",
    "tensorrt": "tensorrt",
}


@dataclass(frozen=True)
class CompileRequest:
    model: str
    target: str
    data: list[dict[str, Any]] | dict[str, Any] | None = None  # records or {columns, rows}
    tolerance: float | None = None
    force: bool = False


TORCH_FLAVORS = ("pytorch", "mlgate_torch", "mlgate_torchhub")
SAFETENSORS_FLAVORS = TORCH_FLAVORS[1:]  # weights already kept as model.safetensors + sidecar


def source_kind(loaded: LoadedModel) -> str:
    from mlgate.models.loader import read_mlmodel

    flavor = loaded.info.flavor
    if flavor in ("sklearn", "onnx"):
        return flavor
    if flavor in TORCH_FLAVORS:
        return "pytorch"
    try:
        flavors = read_mlmodel(Path(loaded.local_path)).get("flavors") or {}
    except Exception:
        flavors = {}
    return "pytorch" if any(f in flavors for f in TORCH_FLAVORS) else flavor or "unknown"


def torch_module(loaded: LoadedModel) -> Any:
    """The torch module to convert: a fresh copy from an ``mlflow.pytorch`` folder; for the safetensors flavors
    the module already rebuilt and verified at load (conversions only read it)."""
    from mlgate.adapters.pytorch import TorchModel

    if loaded.info.flavor in SAFETENSORS_FLAVORS and isinstance(loaded.impl, TorchModel):
        return loaded.impl.module
    return convert.load_torch(Path(loaded.local_path))


def convert_source(loaded: LoadedModel, kind: str, target: str) -> convert.Converted:
    """Run the conversion (blocking; call it in a thread)."""
    info, n = loaded.info, len(loaded.info.features)
    what = f"{info.name}@{info.version} ({kind})"
    if target in ("torchscript", "safetensors") and kind != "pytorch":
        raise convert.unsupported(
            f"{what} to {target}",
            f"{'TorchScript' if target == 'torchscript' else 'safetensors'} is for PyTorch models",
            "use target 'onnx'",
        )
    if target == "tensorrt":  # pragma: no cover - needs TensorRT and a GPU (checked before)
        from mlgate.supply.tensorrt import EngineModel, build_engine

        base = (
            (Path(loaded.local_path) / "model.onnx").read_bytes()
            if kind == "onnx"
            else convert_source(loaded, kind, "onnx").data
        )
        engine = build_engine(base, n)
        sha = hashlib.sha256(base).hexdigest()
        trt = {"converter": "tensorrt", "precision": "fp32", "onnx_sha256": sha}
        return convert.Converted("tensorrt", engine, trt, (EngineModel(engine), base))
    if kind == "sklearn":
        from mlgate.adapters.sklearn import SklearnModel, is_text_pipeline

        if not isinstance(loaded.impl, SklearnModel):
            raise convert.unsupported(
                what, "the loaded version is not a scikit-learn estimator", "serve it as it is"
            )
        est = loaded.impl.est
        if is_text_pipeline(est):
            raise convert.unsupported(
                what,
                "text pipelines take strings, and ONNX tokenisation differs from scikit-learn's",
                "serve the scikit-learn version as it is",
            )
        data, dtype = convert.sklearn_to_onnx(est, n, float32=target != "onnx")
        opts: dict[str, Any] = {"converter": "skl2onnx", "input_dtype": dtype, "opset": convert.OPSET[""]}
    elif kind == "onnx":
        if target == "onnx":
            raise convert.unsupported(what, "it is already ONNX", "compile it to 'int8' or 'fp16'")
        data = (Path(loaded.local_path) / "model.onnx").read_bytes()
        opts = {"converter": "onnx"}
    elif kind == "pytorch":
        if target == "safetensors" and info.flavor in SAFETENSORS_FLAVORS:
            raise convert.unsupported(
                what,
                f"its weights are already kept as model.safetensors with a sidecar (flavor {info.flavor})",
                "serve it as it is, or compile it to 'onnx'",
            )
        module = torch_module(loaded)
        if target == "safetensors":
            return convert.torch_to_safetensors(module, what)
        if target == "torchscript":
            scripted, data = convert.torch_to_script(module, n)
            return convert.Converted("torchscript", data, {"converter": "torch.jit.trace"}, scripted)
        data = convert.torch_to_onnx(module, n)
        opts = {"converter": "torch.onnx", "input_dtype": "float32", "opset": convert.OPSET[""]}
    else:
        raise convert.unsupported(
            what,
            f"mlgate compiles scikit-learn, ONNX and PyTorch models, not {kind}",
            "serve this version as it is",
        )
    if target == "int8":
        data, opts = convert.quantize_int8(data), {**opts, "quantization": "dynamic", "weight_type": "QInt8"}
    elif target == "fp16":
        data, opts = convert.to_fp16(data), {**opts, "float16": True, "keep_io_types": True}
    return convert.Converted(FORMATS[target], data, opts)


class _Scripted:
    """A TorchScript module behind the Predictor interface, for the parity check."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def predict(self, rows: Any) -> list[Any]:
        import numpy as np
        import torch

        with torch.no_grad():
            out = self.module(torch.from_numpy(np.asarray(rows, dtype=np.float32))).numpy()
        arr = np.asarray(out, dtype=np.float64).reshape(len(rows), -1)
        return arr[:, 0].tolist() if arr.shape[1] == 1 else arr.tolist()


def compiled_impl(conv: convert.Converted, classes: list[str]) -> Any:
    if conv.format == "torchscript":
        return _Scripted(conv.module)
    if conv.format == "safetensors":
        return conv.module
    if conv.format == "tensorrt":  # pragma: no cover - needs a GPU
        return conv.module[0]
    from mlgate.adapters.onnx import OnnxModel

    return OnnxModel(convert.session(conv.data), classes or None)


def tolerance_for(req: CompileRequest, caller: Caller) -> Tolerance:
    base = TOLERANCES[req.target]
    if req.tolerance is None:
        return base
    if req.tolerance > base.atol:
        caller.require_admin(
            f"a tolerance looser than the default {base.atol} for {req.target} on ml_compile"
        )
    return Tolerance(req.tolerance, base.rtol, base.labels)


async def compile_version(
    rt: Runtime, req: CompileRequest, *, caller: Caller, progress: Progress
) -> CompileResult:
    from mlgate.supply.registration import register_compiled

    if req.target not in FORMATS:
        raise InvalidInput(f"unknown target {req.target!r}", "use " + ", ".join(FORMATS))
    if req.target == "tensorrt":
        from mlgate.supply.tensorrt import require

        require()
    if req.force:
        caller.require_admin("force on ml_compile")
    tol = tolerance_for(req, caller)
    if rt.models.parse(req.model).source != "registry":
        raise InvalidInput(
            "ml_compile works on registered versions", "pull with register_as, then compile it"
        )
    loaded, stamp = await rt.models.acquire(req.model)
    kind = source_kind(loaded)
    await progress(0, 3, f"converting {stamp.name}@{stamp.version} ({kind}) to {req.target}")
    conv = await in_thread(lambda: convert_source(loaded, kind, req.target))
    await progress(1, 3, "checking parity against the source")
    classifier = "classifier" in loaded.info.interfaces
    classes: list[str] = list(getattr(loaded.impl, "classes", []) or [])
    x, where = sample_rows(loaded, req.data, max_cells=rt.settings.max_cells)
    report = await in_thread(
        lambda: compare(
            loaded.impl,
            compiled_impl(conv, classes),
            x,
            classifier=classifier,
            classes=classes,
            tol=tol,
            sample=where,
        )
    )
    if not report.passed and not req.force:
        raise Refused(
            _parity_message(report),
            "keep serving the source version; an administrator may pass "
            "force=true (recorded on the new version)",
        )
    await progress(2, 3, "registering the compiled version")
    digest = hashlib.sha256(conv.data).hexdigest()
    subject = caller.subject if req.force and not report.passed else None
    info, reused = await in_thread(
        lambda: register_compiled(rt.settings, loaded, stamp, conv, digest, report, classes, subject)
    )
    await progress(3, 3, f"registered {info.name}@{info.version}")
    return _result(stamp, conv, digest, report, info, reused, subject is not None)


def _parity_message(r: ParityReport) -> str:
    labels = (
        f", labels agree on {r.label_agreement:.1%} (need {r.min_label_agreement:.0%})"
        if r.label_agreement is not None
        else ""
    )
    return (
        f"the compiled artifact differs from the source beyond tolerance on {r.rows} rows ({r.sample}): "
        f"max abs diff {r.max_abs_diff:.3g} (atol {r.atol:g}, rtol {r.rtol:g}){labels}"
    )


def _result(
    stamp: ModelStamp,
    conv: convert.Converted,
    digest: str,
    report: ParityReport,
    info: VersionInfo,
    reused: bool,
    forced: bool,
) -> CompileResult:
    ref = f"{info.name}@{info.version}"
    return CompileResult(
        source=stamp,
        artifact=CompiledArtifact(
            format=conv.format,
            sha256=digest,
            size=len(conv.data),
            source=f"{stamp.name}@{stamp.version}",
            options=conv.options,
        ),
        parity=report,
        registered=ref,
        reused=reused,
        forced=forced,
        model=ModelStamp(name=info.name, version=info.version, ref=ref, sha256=info.sha256),
    )
