"""Registering a compiled artifact as a new version of its source model, with lineage; blocking code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlgate.config import Settings
from mlgate.domain import LoadedModel, VersionInfo
from mlgate.models.pending import staging
from mlgate.schemas.stamp import ModelStamp
from mlgate.schemas.supply import ParityReport
from mlgate.supply.convert import Converted


def register_compiled(
    settings: Settings,
    loaded: LoadedModel,
    stamp: ModelStamp,
    conv: Converted,
    digest: str,
    report: ParityReport,
    classes: list[str],
    forced_by: str | None,
) -> tuple[VersionInfo, bool]:
    """(the new version, whether an identical one already existed).

    A forced registration (parity failed, an admin said force) always makes a new version that records who
    forced it; it is never reused for a later, unforced compile.
    """
    from mlgate.models.registrar import Registrar

    # the compiled artifact is mlgate's own output from a version it already served (TorchScript runs code)
    reg = Registrar(settings, admit_by=f"ml_compile of {stamp.name}@{stamp.version}")
    source = f"{stamp.name}@{stamp.version}"
    tags = {
        "mlgate.compiled_from": source,
        "mlgate.compiled_format": conv.format,
        "mlgate.compiled_sha256": digest,
        "mlgate.compiled_source_sha256": stamp.sha256 or "",
        "mlgate.compiled_options": json.dumps(conv.options, sort_keys=True)[:4000],
        "mlgate.compiled_parity": report.model_dump_json(exclude={"sample"})[:4000],
        "mlgate.compiled_metrics_from": source,
    }
    if forced_by:
        tags["mlgate.forced_by"] = forced_by
    existing = None if forced_by else _existing(reg, stamp.name, source, digest)
    if existing is not None:
        return existing, True
    meta: dict[str, Any] = {
        "features": [{"name": f.name, "type": f.type} for f in loaded.info.features],
        "lineage": {"compiled_from": source, "format": conv.format, "sha256": digest},
    }
    if classes:
        meta["classes"] = classes
    if loaded.info.stats:
        meta["stats"] = loaded.info.stats
    if loaded.extra.get("sample"):
        meta["sample"] = loaded.extra["sample"]
    desc = f"{conv.format} compiled from {source} (parity: max abs diff {report.max_abs_diff:.2g} on {report.rows} rows)"
    with staging(settings) as tmp:  # under MLGATE_HOME/staging: gc finds it if this process is killed
        folder = tmp / "model"
        _write_folder(folder, loaded, conv, meta)
        info = reg.register_dir(
            stamp.name, folder, description=desc, extra_tags=tags, metrics=dict(loaded.info.metrics)
        )
    return info, False


def _existing(reg: Any, name: str, source: str, digest: str) -> VersionInfo | None:
    found = reg.registry.find_version(
        name, {"mlgate.compiled_from": source, "mlgate.compiled_sha256": digest}
    )
    return found if found is not None and "mlgate.forced_by" not in found.tags else None


def _signature(loaded: LoadedModel) -> Any:
    from mlgate.models.loader import read_mlmodel

    try:
        return read_mlmodel(Path(loaded.local_path)).get("signature")
    except Exception:
        return None


def _write_folder(folder: Path, loaded: LoadedModel, conv: Converted, meta: dict[str, Any]) -> None:
    import yaml

    if conv.format == "torchscript":
        import mlflow.pytorch
        from mlflow.models.signature import ModelSignature

        sig = _signature(loaded)
        signature = ModelSignature.from_dict(sig) if isinstance(sig, dict) else None
        import torch

        # a ScriptModule is written by torch.jit.save whatever the format says; naming the requirement
        # skips MLflow's slow inference of pip requirements
        mlflow.pytorch.save_model(
            conv.module,
            str(folder),
            signature=signature,
            metadata={"mlgate": meta},
            serialization_format="pickle",
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
        )
        return
    folder.mkdir(parents=True)
    flavors: dict[str, Any] = {"onnx": {"data": "model.onnx"}}
    if conv.format == "safetensors":  # weights + sidecar + architecture, no code (adapters/torch_weights.py)
        from mlgate.adapters.torch_safetensors import save
        from mlgate.adapters.torch_weights import WEIGHTS

        save(conv.module.module, folder)
        flavors = {"mlgate_torch": {"data": WEIGHTS}}
    elif conv.format == "tensorrt":  # pragma: no cover - needs a GPU
        # the engine is kept beside the ONNX export it was built from; the version serves through ONNX Runtime
        (folder / "model.plan").write_bytes(conv.data)
        (folder / "model.onnx").write_bytes(conv.module[1])
    else:
        (folder / "model.onnx").write_bytes(conv.data)
    mlmodel: dict[str, Any] = {"artifact_path": "model", "flavors": flavors, "metadata": {"mlgate": meta}}
    sig = _signature(loaded)
    if sig:
        mlmodel["signature"] = sig
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
