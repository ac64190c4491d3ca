"""Registering versions the way mlgate serves them: digest, interfaces, features,
metrics and per-feature training statistics recorded at registration.

Used by ``mlgate demo``, ``mlgate models register`` and the supply-chain tools.
mlflow, pandas and skops are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.config import Settings
from mlgate.domain import Feature, LoadedModel, VersionInfo
from mlgate.errors import InvalidInput, NotFound, Refused
from mlgate.models.pending import discard, marker, pause, store_dir
from mlgate.models.plan import ArtifactPlan, plan_artifact
from mlgate.models.resolvers import MlflowResolver
from mlgate.models.tags import TAG_FEATURES, TAG_INTERFACES, TAG_METRICS, TAG_PENDING, TAG_SHA, TAG_STAGE
from mlgate.process import mlflow_uris, point_mlflow_at

EXPERIMENT = "mlgate"
SAMPLE_ROWS = 200


def training_stats(x: np.ndarray, names: list[str]) -> dict[str, dict[str, float]]:
    return {
        n: {
            "mean": float(x[:, i].mean()),
            "std": float(x[:, i].std()),
            "min": float(x[:, i].min()),
            "max": float(x[:, i].max()),
        }
        for i, n in enumerate(names)
    }


class Registrar:
    """Registers versions. ``admit_by``: who registers them — an operator's own act, so an artifact that
    runs code when loaded (a pickle, a TorchScript file) is admitted at its digest; without it such an
    artifact is refused (``ml_pull register_as`` never admits)."""

    def __init__(
        self, settings: Settings, resolver: MlflowResolver | None = None, *, admit_by: str | None = None
    ) -> None:
        self.settings = settings
        self.resolver = resolver or MlflowResolver(settings)
        self.registry = self.resolver.registry
        self.admit_by = admit_by
        # the fluent API (start_run, log_model) reads the process-wide URIs (mlgate/process.py); each
        # registration holds them in ``_fluent``; they are left pointing here for MLflow code run after
        point_mlflow_at(settings.tracking)

    def _fluent(self) -> contextlib.AbstractContextManager[None]:
        """Around MLflow fluent calls: the process-wide URIs held at this registry for the block."""
        return mlflow_uris(self.settings.tracking)

    @contextlib.contextmanager
    def _register_run(self, name: str, metrics: dict[str, float] | None = None) -> Iterator[Any]:
        """The MLflow run a registration logs into (URIs held, pending-tagged), its metrics logged first."""
        import mlflow

        with (
            self._fluent(),
            mlflow.start_run(
                experiment_id=self.experiment_id(), run_name=f"{name}-register", tags=_pending()
            ) as run,
        ):
            self._log_metrics(run.info.run_id, metrics or {})
            yield run

    def experiment_id(self) -> str:
        # a tracking server places artifacts under its own artifact root; a store mlgate opens directly (SQLite,
        # PostgreSQL, a folder) would put them in ./mlruns of whatever directory the process runs in: MLGATE_HOME
        served = self.settings.tracking.startswith(("http://", "https://", "databricks"))
        return self.registry.experiment_id(EXPERIMENT, None if served else self.settings.artifact_root)

    def exists(self, name: str, version: int = 1) -> bool:
        return self.registry.exists(name, version)

    def _finish(
        self,
        name: str,
        version: str,
        path: Path,
        interfaces: list[str],
        features: list[Feature],
        metrics: dict[str, float],
        alias: str | None,
        extra_tags: dict[str, str] | None = None,
    ) -> VersionInfo:
        digest = plan_artifact(path).digest  # refuses an artifact that reads files outside itself
        tags = {
            TAG_SHA: digest,
            TAG_INTERFACES: ",".join(interfaces),
            TAG_METRICS: json.dumps({k: round(float(v), 6) for k, v in metrics.items()}),
            TAG_STAGE: "development",
            **(extra_tags or {}),
        }
        if features:
            feats = json.dumps([{"name": f.name, "type": f.type} for f in features])
            if len(feats) < 4900:
                tags[TAG_FEATURES] = feats
        for k, v in tags.items():
            self.registry.set_tag(name, int(version), k, v)
        self.registry.delete_tag(name, int(version), TAG_PENDING)  # last: from here on the version serves
        if alias:
            self.registry.set_alias(name, alias, int(version))
            if alias == "production":
                self.registry.set_tag(name, int(version), TAG_STAGE, "production")
        return self.registry.version(name, int(version))

    def register_sklearn(
        self,
        name: str,
        estimator: Any,
        x: np.ndarray,
        feature_names: list[str],
        metrics: dict[str, float],
        *,
        description: str = "",
        alias: str | None = None,
        extra_meta: dict[str, Any] | None = None,
        text_input: bool = False,
    ) -> VersionInfo:
        import mlflow
        import mlflow.sklearn

        from mlgate.adapters.sklearn import interfaces_of

        interfaces = list(interfaces_of(estimator))
        features = [] if text_input else [Feature(n) for n in feature_names]
        meta: dict[str, Any] = {"interfaces": interfaces, **(extra_meta or {})}
        classes = getattr(estimator, "classes_", None)
        if "classifier" in interfaces and classes is not None and "classes" not in meta:
            meta["classes"] = [str(c) for c in np.asarray(classes).ravel().tolist()]
        signature = None
        if not text_input:
            import pandas as pd
            from mlflow.models import infer_signature

            meta["features"] = [{"name": f.name, "type": f.type} for f in features]
            meta["stats"] = training_stats(x, feature_names)
            meta["sample"] = np.round(x[:SAMPLE_ROWS], 6).tolist()
            frame = pd.DataFrame(x[:5], columns=feature_names)
            signature = infer_signature(frame, np.asarray(estimator.predict(x[:5])))
        self._ensure_model(name, description)
        with self._register_run(name, metrics) as run:
            info = mlflow.sklearn.log_model(
                estimator,
                name="model",
                signature=signature,
                metadata={"mlgate": meta},
                skops_trusted_types=_trusted_types(estimator),
                pip_requirements=_requirements(),
            )
        # model_id: a tracking *server* refuses a models:/m-… source without it (SQLite accepts either)
        mv = self.registry.create_version(
            name, info.model_uri, run.info.run_id, description, model_id=info.model_id, tags=_pending()
        )
        with discard(self.resolver, mv):
            path = self.resolver.local_path(mv)
            return self._finish(name, str(mv.version), path, interfaces, features, metrics, alias)

    def register_native(
        self,
        name: str,
        kind: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        *,
        description: str = "",
        alias: str | None = None,
        extra_meta: dict[str, Any] | None = None,
    ) -> VersionInfo:

        from mlgate.adapters.native import KIND_INTERFACE, write_native

        interfaces = [KIND_INTERFACE[kind]]
        self._ensure_model(name, description)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            write_native(folder, kind, params, {"mlgate": {"interfaces": interfaces, **(extra_meta or {})}})
            with self._register_run(name, metrics) as run:
                store_dir(self.settings, run.info.artifact_uri, folder)
        source = f"{run.info.artifact_uri}/model"
        mv = self.registry.create_version(name, source, run.info.run_id, description, tags=_pending())
        with discard(self.resolver, mv):
            path = self.resolver.local_path(mv)
            return self._finish(name, str(mv.version), path, interfaces, [], metrics, alias)

    def register_dir(
        self,
        name: str,
        model_dir: Path,
        *,
        alias: str | None = None,
        description: str = "",
        extra_tags: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
    ) -> VersionInfo:
        """Register an MLflow model folder (as written by ``mlflow.<flavor>.save_model``)."""

        if not (model_dir / "MLmodel").exists():
            raise InvalidInput(
                f"{model_dir} has no MLmodel file", "pass an MLflow model folder or a .skops/.onnx file"
            )
        self._refuse_code(name, model_dir)  # before anything is written
        self._ensure_model(name, description)
        with self._register_run(name, metrics) as run:
            store_dir(self.settings, run.info.artifact_uri, model_dir)
        info = self.registry.create_version(
            name, f"{run.info.artifact_uri}/model", run.info.run_id, description, tags=_pending(extra_tags)
        )
        pause("version-created")
        with discard(self.resolver, info):  # a failure from here on removes the version and its files
            loaded = self._admitted_load(info)  # refuses what mlgate cannot serve (or may not run)
            return self._finish(
                name,
                str(info.version),
                Path(loaded.local_path),
                list(loaded.info.interfaces),
                loaded.info.features,
                metrics or {},
                alias,
                extra_tags,
            )

    def register_awaiting(
        self,
        name: str,
        model_dir: Path,
        interfaces: list[str],
        features: list[Feature],
        *,
        description: str = "",
        extra_tags: dict[str, str] | None = None,
    ) -> VersionInfo:
        """Register a folder whose code awaits an operator's admission (an agent's TorchHub pull): nothing in it
        is loaded or run here, the interfaces and features are the ones declared, and nothing is admitted."""

        self._ensure_model(name, description)
        with self._register_run(name) as run:
            store_dir(self.settings, run.info.artifact_uri, model_dir)
        info = self.registry.create_version(
            name, f"{run.info.artifact_uri}/model", run.info.run_id, description, tags=_pending(extra_tags)
        )
        with discard(self.resolver, info):  # a failure from here on removes the version and its files
            path = self.resolver.local_path(info)
            return self._finish(name, str(info.version), path, interfaces, features, {}, None, extra_tags)

    def register_remote(
        self,
        name: str,
        spec: dict[str, Any] | str,
        features: list[str],
        *,
        interfaces: list[str] | None = None,
        alias: str | None = None,
        description: str = "",
        metrics: dict[str, float] | None = None,
    ) -> VersionInfo:
        """Register a version answered by a remote engine: a tiny MLmodel folder holding the spec.

        The spec (see ``adapters/remote.py``) is covered by the version's digest, so changing
        the endpoint means registering a new version (or, deliberately, tagging ``mlgate.remote``).
        """
        import yaml

        from mlgate.adapters.remote_spec import FLAVOR, RemoteSpec

        parsed = RemoteSpec.parse(spec)
        if interfaces:
            parsed = RemoteSpec.parse({**parsed.to_dict(), "interfaces": interfaces})
        if not features:
            raise InvalidInput(
                "a remote version needs its feature names, in the order the engine expects them",
                "pass features, e.g. --features sepal_length,sepal_width,petal_length,petal_width",
            )
        meta = {
            "mlgate": {
                "interfaces": list(parsed.offered),
                "features": [{"name": f, "type": "double"} for f in features],
            }
        }
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            folder.mkdir()
            mlmodel = {"artifact_path": "model", "flavors": {FLAVOR: parsed.to_dict()}, "metadata": meta}
            (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=True))
            return self.register_dir(name, folder, alias=alias, description=description, metrics=metrics)

    def register_file(
        self, name: str, file: Path, *, alias: str | None = None, description: str = ""
    ) -> VersionInfo:
        """Register a ``.skops`` scikit-learn model or an ``.onnx`` graph."""
        import yaml

        if not file.is_file():
            raise NotFound(f"no file at {file}")
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            folder.mkdir()
            if file.suffix == ".skops":
                shutil.copy(file, folder / "model.skops")
                flavors: dict[str, Any] = {
                    "sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}
                }
            elif file.suffix == ".onnx":
                shutil.copy(file, folder / "model.onnx")
                flavors = {"onnx": {"data": "model.onnx"}}
            else:
                raise InvalidInput(
                    f"{file.name}: mlgate registers .skops and .onnx files, not {file.suffix or 'this file'}",
                    "save scikit-learn models with skops.io.dump, or convert to ONNX; pickles are refused",
                )
            (folder / "MLmodel").write_text(yaml.safe_dump({"artifact_path": "model", "flavors": flavors}))
            return self.register_dir(name, folder, alias=alias, description=description)

    def register_run(self, name: str, model_uri: str, *, alias: str | None = None) -> VersionInfo:
        """Register a model an MLflow run logged (``runs:/<id>/model`` or ``models:/m-…``), with mlgate's tags."""
        import mlflow
        import mlflow.artifacts

        self._refuse_code(
            name, Path(mlflow.artifacts.download_artifacts(model_uri))
        )  # before anything is written
        self._ensure_model(name, "")
        with self._fluent():
            registered = mlflow.register_model(model_uri, name, tags=_pending())
        info = self.registry.version(name, int(registered.version))
        with discard(self.resolver, info, artifacts=False):  # the run's files are the caller's, not ours
            loaded = self._admitted_load(info)
            return self._finish(
                name,
                str(info.version),
                Path(loaded.local_path),
                list(loaded.info.interfaces),
                loaded.info.features,
                self.resolver.metrics(info),
                alias,
            )

    def _refuse_code(self, name: str, model_dir: Path) -> ArtifactPlan:
        """The artifact plan of ``model_dir``: refuses files outside the artifact, and code unless this
        registration admits it (``admit_by``)."""
        plan = plan_artifact(model_dir)
        if plan.code and self.admit_by is None:
            raise Refused(
                f"{name}: the artifact contains {'; '.join(plan.code)}, which runs code when loaded",
                "register a format without code (skops, ONNX); an operator who reviewed it registers it with "
                "`mlgate models register … --admit`",
            )
        return plan

    def _admitted_load(self, info: VersionInfo) -> LoadedModel:
        """Load a just-created version to learn its interfaces: an artifact with code only when this
        registration admits it (``admit_by``); the admission is recorded at the plan's digest."""
        from mlgate.models.loader import load_model_dir

        path = self.resolver.local_path(info)
        plan = self._refuse_code(info.name, path)  # the stored copy, planned again: it is what will serve
        if plan.code and self.admit_by is not None:
            self.resolver.gate.admit(
                info.name, info.version, plan.digest, self.admit_by, "; ".join(plan.code)
            )
        return load_model_dir(
            info,
            path,
            plan.size,
            admitted=plan.runs_code,
            remote_allowlist=self.settings.remote_allowlist,
            plan=plan,
        )

    def _ensure_model(self, name: str, description: str) -> None:
        from mlgate.models.ref import check_name

        check_name(name)
        self.registry.ensure_model(name, description)

    def _log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            self.registry.log_metric(run_id, k, float(v))


def _pending(tags: dict[str, str] | None = None) -> dict[str, str]:
    """The tags a new version row is created with: the caller's, and the pending marker (removed last)."""
    return {**(tags or {}), TAG_PENDING: marker()}


def _requirements() -> list[str]:
    """Explicit requirements: MLflow's inference of them imports every installed ML library (seconds)."""
    from importlib.metadata import version

    return [f"scikit-learn=={version('scikit-learn')}", f"numpy=={version('numpy')}"]


def _trusted_types(estimator: Any) -> list[str]:
    """The skops types this estimator needs that mlgate's allow-list covers (see interfaces.sklearn)."""
    import skops.io as sio

    from mlgate.adapters.sklearn import SKOPS_ALLOWED

    return [t for t in sio.get_untrusted_types(data=sio.dumps(estimator)) if t in SKOPS_ALLOWED]
