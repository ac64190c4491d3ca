"""From a verified model folder to an object implementing the version's interfaces.

The MLmodel file names the flavor; ``mlgate`` (JSON parameters) and ``sklearn`` load
natively, ``onnx`` through ONNX Runtime, anything else through MLflow's pyfunc. A
version with a remote spec (tag ``mlgate.remote`` or flavor ``mlgate_remote``) is
answered by a remote engine instead (``interfaces/remote.py``).
The interfaces recorded on the version are checked against what the object offers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlgate.errors import BackendError
from mlgate.interfaces.base import Feature, LoadedModel, VersionInfo


def read_mlmodel(path: Path) -> dict[str, Any]:
    import yaml

    f = path / "MLmodel"
    if not f.exists():
        raise BackendError(f"no MLmodel file in the artifact of version at {path.name}")
    data = yaml.safe_load(f.read_text())
    return data if isinstance(data, dict) else {}


def signature_features(mlmodel: dict[str, Any]) -> list[Feature]:
    import json

    sig = (mlmodel.get("signature") or {}).get("inputs")
    if not sig:
        return []
    cols = json.loads(sig) if isinstance(sig, str) else sig
    out = []
    for c in cols:
        if c.get("type") == "tensor":
            shape = (c.get("tensor-spec") or {}).get("shape") or [-1, 0]
            return [Feature(f"f{i}") for i in range(int(shape[-1]))]
        out.append(Feature(str(c.get("name")), str(c.get("type", "double"))))
    return out


def load_model_dir(info: VersionInfo, path: Path, size: int) -> LoadedModel:
    mlmodel = read_mlmodel(path)
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    meta: dict[str, Any] = (mlmodel.get("metadata") or {}).get("mlgate") or {}
    impl: Any
    offered: tuple[str, ...]
    from mlgate.interfaces.remote import remote_spec_of

    remote = remote_spec_of(info.tags, flavors)
    if remote is not None:  # served elsewhere: the artifact only describes it
        from mlgate.interfaces.remote import RemoteModel

        if not info.features and meta.get("features"):
            info.features = [Feature(**f) for f in meta["features"]]
        info.features = info.features or signature_features(mlmodel)
        impl = RemoteModel(remote, [f.name for f in info.features])
        flavor, offered = f"remote-{remote.protocol}", impl.interfaces
    elif "mlgate" in flavors:
        from mlgate.interfaces.native import KIND_INTERFACE, load_native

        impl = load_native(path, flavors["mlgate"])
        flavor, offered = "mlgate", (KIND_INTERFACE[flavors["mlgate"]["kind"]],)
    elif "sklearn" in flavors:
        from mlgate.interfaces.sklearn import SklearnModel, features_of, interfaces_of, load_estimator

        est = load_estimator(path, flavors["sklearn"])
        impl = SklearnModel(est)
        flavor, offered = "sklearn", interfaces_of(est)
        if not info.features:
            info.features = signature_features(mlmodel) or features_of(est)
    elif "onnx" in flavors:
        from mlgate.interfaces.onnx import OnnxModel

        impl = OnnxModel.from_file(path / str(flavors["onnx"].get("data", "model.onnx")), meta)
        flavor, offered = "onnx", impl.interfaces
    else:
        from mlgate.interfaces.pyfunc import PyfuncModel, load_pyfunc

        feats = info.features or signature_features(mlmodel)
        impl = PyfuncModel(load_pyfunc(path), feats)
        flavor, offered = "pyfunc", ("predictor",)
        info.features = feats
    if not info.features and meta.get("features"):
        info.features = [Feature(**f) for f in meta["features"]]
    if not info.interfaces:
        info.interfaces = tuple(offered)
    info.flavor = flavor
    if meta.get("stats"):
        info.stats = meta["stats"]
    extra = {"sample": meta.get("sample"), "example": meta.get("example"), "lineage": meta.get("lineage", {})}
    return LoadedModel(info=info, impl=impl, size_bytes=max(size, 1), local_path=str(path), extra=extra)
