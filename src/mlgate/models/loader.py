"""From a verified model folder and its artifact plan to an object implementing the version's interfaces.

The artifact plan (``models/plan.py``) names the flavor that is loaded, the files it reads (all
inside the artifact) and whether that runs code; the loader loads exactly that flavor, and refuses
a plan that runs code unless the caller says an operator admitted it (``admitted``, checked by the
resolver's gate against the plan's digest). ``mlgate`` (JSON parameters) loads natively, a
``mlgate_remote`` version is answered by a remote engine (``adapters/remote.py``); another flavor
in ``ADAPTERS`` is loaded by that library's own adapter (a ``FlavorLoader``), and
``python_function`` through MLflow's pyfunc (with the signature's dtypes). Features come from the
version's tags, else the signature, else the stored input example (``models/mlmodel.py``), else
the model's own column names. The interfaces recorded on the version are checked against what the
object offers. The version record is immutable: the loaded model carries an enriched copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlgate.domain import Feature, FlavorLoader, LoadedModel, ServedModel, VersionInfo
from mlgate.errors import BackendError, Refused, WrongInterface
from mlgate.models.plan import ArtifactPlan, plan_artifact, read_mlmodel

__all__ = ["ADAPTERS", "load_model_dir", "read_mlmodel", "signature_features"]


def _sklearn() -> FlavorLoader:
    from mlgate.adapters import sklearn

    return sklearn.load


def _xgboost() -> FlavorLoader:
    from mlgate.adapters import xgboost

    return xgboost.load


def _lightgbm() -> FlavorLoader:
    from mlgate.adapters import lightgbm

    return lightgbm.load


def _catboost() -> FlavorLoader:
    from mlgate.adapters import catboost

    return catboost.load


def _onnx() -> FlavorLoader:
    from mlgate.adapters import onnx

    return onnx.load


def _torch_safetensors() -> FlavorLoader:
    from mlgate.adapters import torch_safetensors

    return torch_safetensors.load


def _torch_hubconf() -> FlavorLoader:
    from mlgate.adapters import torch_hubconf

    return torch_hubconf.load


def _pytorch() -> FlavorLoader:
    from mlgate.adapters import pytorch

    return pytorch.load


def _transformers() -> FlavorLoader:
    from mlgate.adapters import transformers_text

    return transformers_text.load


def _statsmodels() -> FlavorLoader:
    from mlgate.adapters.forecasting import statsmodels as forecasting_statsmodels

    return forecasting_statsmodels.load


def _prophet() -> FlavorLoader:
    from mlgate.adapters.forecasting import prophet as forecasting_prophet

    return forecasting_prophet.load


# MLmodel flavor → its adapter's ``load`` (a FlavorLoader, imported on first use: heavy libraries).
# Which flavor of an MLmodel file is loaded is the plan's choice (``adapters/flavors.py``).
ADAPTERS: dict[str, Callable[[], FlavorLoader]] = {
    "sklearn": _sklearn,
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "catboost": _catboost,
    "onnx": _onnx,
    "mlgate_torch": _torch_safetensors,
    "mlgate_torchhub": _torch_hubconf,
    "pytorch": _pytorch,
    "transformers": _transformers,
    "statsmodels": _statsmodels,
    "prophet": _prophet,
}


def signature_features(mlmodel: dict[str, Any]) -> list[Feature]:
    from mlgate.models.mlmodel import signature_inputs

    return signature_inputs(mlmodel)[0]


def _declared(impl: ServedModel) -> list[Feature]:
    """The features the loaded object declares (its fitted column names, ``f0``…), if it says."""
    found = getattr(impl, "features", None)
    return [f for f in found if isinstance(f, Feature)] if isinstance(found, list | tuple) else []


def load_model_dir(
    info: VersionInfo,
    path: Path,
    size: int = 0,
    *,
    admitted: bool = False,
    remote_allowlist: list[str] | None = None,
    plan: ArtifactPlan | None = None,
) -> LoadedModel:
    """Load the verified folder ``path`` as ``plan`` says (planned here when not given); ``admitted``: an
    operator admitted this exact artifact's code (checked by the caller against the plan's digest)."""
    plan = plan or plan_artifact(path)
    if plan.code and not admitted:
        raise Refused(
            f"{info.name}@{info.version} contains {'; '.join(plan.code)}, which runs code when loaded, "
            "and no operator admitted it",
            f"an operator who reviewed it runs `mlgate models admit {info.name} {info.version}`",
        )
    mlmodel, flavors = plan.mlmodel, plan.mlmodel.get("flavors") or {}
    meta: dict[str, Any] = (mlmodel.get("metadata") or {}).get("mlgate") or {}
    example = meta.get("example")
    tagged = info.features or [Feature(**f) for f in meta.get("features") or []]
    from mlgate.adapters.remote_spec import remote_spec_of

    impl: ServedModel
    remote = remote_spec_of(info.tags, flavors, remote_allowlist)  # refuses a changed mlgate.remote tag
    if remote is not None:  # served elsewhere: the artifact only describes it
        from mlgate.adapters.remote import RemoteModel

        feats = tagged or signature_features(mlmodel)
        impl = RemoteModel(remote, [f.name for f in feats])
        flavor = f"remote-{remote.protocol}"
    elif plan.flavor == "mlgate":
        from mlgate.adapters.native import load_native

        impl, flavor, feats = load_native(plan.root, plan.conf), "mlgate", tagged
    else:
        from mlgate.models.mlmodel import describe_dir

        desc = describe_dir(plan.root, mlmodel)
        feats = tagged or desc.features
        if plan.flavor in ADAPTERS:
            impl = ADAPTERS[plan.flavor]()(plan.root, plan.conf, feats, meta, admitted=admitted)
            flavor = plan.flavor
        elif plan.flavor == "python_function":
            impl, flavor = _pyfunc(plan, feats, desc.tensor_dtype), "pyfunc"
        else:
            raise BackendError(
                f"{info.name}@{info.version} has no flavor mlgate can load "
                f"(flavors: {', '.join(flavors) or 'none'})",
                f"log it with one of: {', '.join(ADAPTERS)}, or a pyfunc flavor",
            )
        feats = feats or _declared(impl)
        example = example or desc.example
    offered = tuple(impl.interfaces)
    claimed = [i for i in info.interfaces if i not in offered]
    if claimed:  # a tag (or mlgate metadata) claims what the object does not implement
        raise WrongInterface(
            f"{info.name}@{info.version} is recorded as offering {', '.join(claimed)}, but the loaded model "
            f"offers {', '.join(offered) or 'nothing mlgate serves'}",
            "correct the version's mlgate.interfaces tag, or register the model again with mlgate",
        )
    enriched = replace(
        info,
        features=list(feats),
        interfaces=tuple(info.interfaces) or offered,
        flavor=flavor,
        stats=meta.get("stats") or info.stats,
    )
    extra = {"sample": meta.get("sample"), "example": example, "lineage": meta.get("lineage", {})}
    return LoadedModel(
        info=enriched, impl=impl, size_bytes=max(size or plan.size, 1), local_path=str(path), extra=extra
    )


def _pyfunc(plan: ArtifactPlan, feats: list[Feature], tensor_dtype: str | None) -> ServedModel:
    from mlgate.adapters.forecasting.common import forecaster_kind

    if forecaster_kind(plan.mlmodel) == "pyfunc":  # a pyfunc that declares a horizon parameter / yhat output
        from mlgate.adapters.forecasting.dispatch import load_pyfunc_forecaster

        return load_pyfunc_forecaster(plan.root)
    from mlgate.adapters.pyfunc import PyfuncModel, load_pyfunc

    return PyfuncModel(load_pyfunc(plan.root), feats, tensor_dtype)
