"""From a verified model folder to an object implementing the version's interfaces.

The MLmodel file names the flavors. ``mlgate`` (JSON parameters) loads natively, a version
with a remote spec (tag ``mlgate.remote`` or flavor ``mlgate_remote``) is answered by a
remote engine (``interfaces/remote.py``); otherwise the first flavor in ``ADAPTERS`` the file
names is loaded by that library's own adapter, and anything else through MLflow's pyfunc
(with the signature's dtypes). Features come from the version's tags, else the signature,
else the stored input example (``interfaces/mlmodel.py``), else the model's own column names.
The interfaces recorded on the version are checked against what the object offers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from mlgate.errors import BackendError, WrongInterface
from mlgate.interfaces.base import Feature, LoadedModel, VersionInfo

# MLmodel flavor → "module:function" building its adapter, tried in this order (the first named wins).
# Each is called as fn(model_dir, flavor_conf, features, mlgate_metadata) and returns an object with
# ``interfaces`` and ``features`` and the methods of those interfaces. One line adds a flavor.
ADAPTERS: dict[str, str] = {
    "sklearn": "mlgate.interfaces.sklearn:load",
    "xgboost": "mlgate.interfaces.xgboost:load",
    "lightgbm": "mlgate.interfaces.lightgbm:load",
    "catboost": "mlgate.interfaces.catboost:load",
    "onnx": "mlgate.interfaces.onnx:load",
    "mlgate_torch": "mlgate.interfaces.torch_safetensors:load",
    "mlgate_torchhub": "mlgate.interfaces.torch_hubconf:load",
    "pytorch": "mlgate.interfaces.pytorch:load",
    "transformers": "mlgate.interfaces.transformers_text:load",
    "statsmodels": "mlgate.interfaces.forecasting_statsmodels:load",
    "prophet": "mlgate.interfaces.forecasting_prophet:load",
}


def read_mlmodel(path: Path) -> dict[str, Any]:
    import yaml

    f = path / "MLmodel"
    if not f.exists():
        raise BackendError(f"no MLmodel file in the artifact of version at {path.name}")
    data = yaml.safe_load(f.read_text())
    return data if isinstance(data, dict) else {}


def signature_features(mlmodel: dict[str, Any]) -> list[Feature]:
    from mlgate.interfaces.mlmodel import signature_inputs

    return signature_inputs(mlmodel)[0]


def adapter_loader(flavor: str) -> Any:
    module, _, fn = ADAPTERS[flavor].partition(":")
    return getattr(importlib.import_module(module), fn)


# adapters that can load code-bearing formats (pickles, skops types outside the allow-list) once admitted
ADMITTING = frozenset({"sklearn", "lightgbm", "mlgate_torchhub"})


def load_model_dir(
    info: VersionInfo,
    path: Path,
    size: int,
    *,
    admitted: bool = False,
    remote_allowlist: list[str] | None = None,
) -> LoadedModel:
    """Load the verified folder ``path``; ``admitted``: an operator admitted this exact artifact's code
    (checked by the caller against the digest), so adapters may load its pickles."""
    mlmodel = read_mlmodel(path)
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    meta: dict[str, Any] = (mlmodel.get("metadata") or {}).get("mlgate") or {}
    impl: Any
    offered: tuple[str, ...]
    example = meta.get("example")
    from mlgate.interfaces.remote_spec import remote_spec_of

    remote = remote_spec_of(info.tags, flavors, remote_allowlist)
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
    else:
        from mlgate.interfaces.mlmodel import describe_dir

        desc = describe_dir(path)
        if not info.features and meta.get("features"):
            info.features = [Feature(**f) for f in meta["features"]]
        feats = info.features or desc.features
        found = next((f for f in ADAPTERS if f in flavors), None)
        if found is not None:
            options = {"admitted": admitted} if found in ADMITTING else {}
            impl = adapter_loader(found)(path, flavors[found], feats, meta, **options)
            flavor = found
        elif "python_function" in flavors:
            from mlgate.interfaces.forecasting import forecaster_kind
            from mlgate.interfaces.pyfunc import PyfuncModel, load_pyfunc

            if (
                forecaster_kind(mlmodel) == "pyfunc"
            ):  # a pyfunc that declares a horizon parameter / yhat output
                from mlgate.interfaces.forecasting_pyfunc import load_pyfunc_forecaster

                impl = load_pyfunc_forecaster(path)
            else:
                impl = PyfuncModel(load_pyfunc(path), feats, desc.tensor_dtype)
            flavor = "pyfunc"
        else:
            raise BackendError(
                f"{info.name}@{info.version} has no flavor mlgate can load "
                f"(flavors: {', '.join(flavors) or 'none'})",
                f"log it with one of: {', '.join(ADAPTERS)}, or a pyfunc flavor",
            )
        offered = tuple(impl.interfaces)
        info.features = feats or list(getattr(impl, "features", []))
        example = example or desc.example
    if not info.features and meta.get("features"):
        info.features = [Feature(**f) for f in meta["features"]]
    claimed = [i for i in info.interfaces if i not in offered]
    if claimed:  # a tag (or mlgate metadata) claims what the object does not implement
        raise WrongInterface(
            f"{info.name}@{info.version} is recorded as offering {', '.join(claimed)}, but the loaded model "
            f"offers {', '.join(offered) or 'nothing mlgate serves'}",
            "correct the version's mlgate.interfaces tag, or register the model again with mlgate",
        )
    if not info.interfaces:
        info.interfaces = tuple(offered)
    info.flavor = flavor
    if meta.get("stats"):
        info.stats = meta["stats"]
    extra = {"sample": meta.get("sample"), "example": example, "lineage": meta.get("lineage", {})}
    return LoadedModel(info=info, impl=impl, size_bytes=max(size, 1), local_path=str(path), extra=extra)
