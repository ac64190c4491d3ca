"""Resolvers turn a ``ModelRef`` into a concrete version and load its artifact.

``MlflowResolver`` speaks to any MLflow tracking/registry URI (SQLite by default) through
``MlflowRegistry``. Every load plans the artifact again (``models/plan.py``: the flavor, the
files inside the artifact, what runs code, the digest): a digest recorded when mlgate registered
the version must match it; an artifact whose plan runs code must have been admitted by an
operator at exactly that digest (``models/admission.py``).
Nothing is ever written to the registry on a load.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from mlgate.config import Settings
from mlgate.domain import LoadedModel, VersionInfo
from mlgate.errors import IntegrityError, NotFound
from mlgate.models.admission import Gate, hub_admission
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.models.pending import refuse_pending
from mlgate.models.plan import ArtifactPlan, plan_artifact
from mlgate.models.ref import ModelRef
from mlgate.state.admissions import AdmissionBook

log = logging.getLogger(__name__)


class Resolver(Protocol):
    def resolve(self, ref: ModelRef) -> VersionInfo: ...
    def load(self, info: VersionInfo) -> LoadedModel: ...
    def list_versions(self) -> list[VersionInfo]: ...


def own_admissions(settings: Settings) -> Callable[[], AdmissionBook]:
    """The admission book of ``settings``' state database, opened on first use."""
    book: list[AdmissionBook] = []

    def get() -> AdmissionBook:
        if not book:
            from mlgate.state.db import StateDB

            if settings.state_url is None:
                settings.ensure_home()
            book.append(AdmissionBook(StateDB(settings.state)))
        return book[0]

    return get


class MlflowResolver:
    def __init__(self, settings: Settings, admissions: Callable[[], AdmissionBook] | None = None) -> None:
        self.settings = settings
        self.registry = MlflowRegistry(settings)
        self.gate = Gate(settings, admissions or own_admissions(settings))

    def resolve(self, ref: ModelRef) -> VersionInfo:
        if ref.source != "registry":
            raise NotFound(
                f"{ref} is not a registered model", "register the pulled snapshot with ml_pull register_as"
            )
        if ref.version is not None:
            found = self.registry.version(ref.name, ref.version)
        elif ref.alias == "latest":
            found = self.registry.newest(ref.name)
        else:
            found = self.registry.by_alias(ref.name, str(ref.alias))
        refuse_pending(found)  # a version mlgate has not finished registering never serves
        return found

    def metrics(self, info: VersionInfo) -> dict[str, float]:
        return info.metrics or self.registry.run_metrics(info.run_id)

    def local_path(self, info: VersionInfo) -> Path:
        uri = self.registry.download_uri(info.name, info.version)  # first: mlflow imported under its lock
        import mlflow.artifacts

        if uri.startswith("file:") or Path(uri).is_absolute():
            return Path(
                mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=self.settings.tracking)
            )
        # remote artifacts (mlflow-artifacts:, s3:, …): the tracking URI is passed explicitly (mlflow-artifacts:
        # needs the http tracking server), into a folder per process and version that is refreshed on each load
        dst = self.settings.home / "downloads" / str(os.getpid()) / info.name / str(info.version)
        if dst.exists():
            shutil.rmtree(dst)  # a fresh copy: the digest check must see what the store holds now
        dst.mkdir(parents=True)
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(dst), tracking_uri=self.settings.tracking
            )
        )

    def verify(self, info: VersionInfo, path: Path) -> tuple[ArtifactPlan, bool]:
        """The artifact plan of ``path``, its digest checked against the recorded one and its code against
        the admissions: (the plan, may it run code)."""
        plan = plan_artifact(path)  # refuses files outside the artifact before anything reads them
        if info.sha256 is not None and info.sha256 != plan.digest:
            raise IntegrityError(
                f"artifact of {info.name}@{info.version} does not match its recorded digest: "
                f"recorded {info.sha256}, found {plan.digest}",
                "the artifact store was changed after registration; restore it or register a new version",
            )
        return plan, self.gate.check(info.name, info.version, plan, hub_admission(plan.mlmodel))

    def load(self, info: VersionInfo) -> LoadedModel:
        from mlgate.models.loader import load_model_dir

        refuse_pending(info)
        path = self.local_path(info)
        plan, admitted = self.verify(info, path)
        stamped = replace(  # what the stamp reports: recorded at registration, or computed now
            info, sha256=plan.digest, metrics=self.metrics(info)
        )
        return load_model_dir(
            stamped,
            path,
            plan.size,
            admitted=admitted,
            remote_allowlist=self.settings.remote_allowlist,
            plan=plan,
        )

    def list_versions(self) -> list[VersionInfo]:
        return self.registry.all_versions()
