"""Resolvers turn a ``ModelRef`` into a concrete version and load its artifact.

``MlflowResolver`` speaks to any MLflow tracking/registry URI (SQLite by default).
mlflow is imported inside it, never at module import. Every load recomputes the
artifact digest and refuses a mismatch with the recorded one; a version registered
by plain MLflow code (no mlgate tags) gets its digest recorded on first load.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Protocol

from mlgate.config import Settings
from mlgate.errors import BackendError, IntegrityError, NotFound
from mlgate.interfaces.base import Feature, LoadedModel, VersionInfo
from mlgate.models.ref import ModelRef
from mlgate.artifacts import tree_sha256

log = logging.getLogger(__name__)

TAG_SHA = "mlgate.sha256"
TAG_INTERFACES = "mlgate.interfaces"
TAG_FEATURES = "mlgate.features"
TAG_METRICS = "mlgate.metrics"
TAG_STAGE = "mlgate.stage"


class Resolver(Protocol):
    def resolve(self, ref: ModelRef) -> VersionInfo: ...
    def load(self, info: VersionInfo) -> LoadedModel: ...
    def list_versions(self) -> list[VersionInfo]: ...


def _version_info(mv: Any, metrics: dict[str, float] | None = None) -> VersionInfo:
    tags: dict[str, str] = dict(mv.tags or {})
    interfaces = tuple(i for i in tags.get(TAG_INTERFACES, "").split(",") if i)
    feats = [Feature(**f) for f in json.loads(tags[TAG_FEATURES])] if TAG_FEATURES in tags else []
    if metrics is None:
        metrics = {k: float(v) for k, v in json.loads(tags.get(TAG_METRICS, "{}")).items()}
    return VersionInfo(
        name=mv.name,
        version=int(mv.version),
        interfaces=interfaces,
        flavor=tags.get("mlgate.flavor", ""),
        source=mv.source,
        run_id=mv.run_id,
        sha256=tags.get(TAG_SHA),
        features=feats,
        metrics=metrics,
        aliases=list(mv.aliases or []),
        tags=tags,
        description=mv.description or "",
        created_at=mv.creation_timestamp,
    )


class MlflowResolver:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from mlflow import MlflowClient

                    if self.settings.tracking_uri is None:
                        self.settings.ensure_home()
                    uri = self.settings.tracking
                    self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    def resolve(self, ref: ModelRef) -> VersionInfo:
        from mlflow.exceptions import MlflowException

        if ref.source != "registry":
            raise NotFound(f"{ref} is not a registered model", "register the pulled snapshot with ml_pull register_as")
        try:
            if ref.version is not None:
                mv = self.client.get_model_version(ref.name, str(ref.version))
            elif ref.alias == "latest":
                found = self.client.search_model_versions(
                    f"name='{ref.name}'", order_by=["version_number DESC"], max_results=1
                )
                if not found:
                    raise NotFound(f"model {ref.name!r} has no versions")
                mv = found[0]
            else:
                mv = self.client.get_model_version_by_alias(ref.name, ref.alias)
        except MlflowException as exc:
            raise self._not_found(ref, exc) from None
        return _version_info(mv)

    def _not_found(self, ref: ModelRef, exc: Exception) -> NotFound:
        log.info("resolve %s failed: %s", ref, exc)
        try:
            versions = self.client.search_model_versions(f"name='{ref.name}'", max_results=50)
        except Exception:
            versions = []
        if not versions:
            return NotFound(f"no registered model named {ref.name!r}", "list models with ml_list_models")
        known = sorted({int(v.version) for v in versions})
        try:
            aliases = sorted(self.client.get_registered_model(ref.name).aliases or {})
        except Exception:
            aliases = []
        what = f"version {ref.version}" if ref.version is not None else f"alias {ref.alias!r}"
        return NotFound(
            f"model {ref.name!r} has no {what}",
            f"known versions: {', '.join(map(str, known))}; aliases: {', '.join(aliases) or 'none'}",
        )

    def metrics(self, info: VersionInfo) -> dict[str, float]:
        if info.metrics or not info.run_id:
            return info.metrics
        try:
            return dict(self.client.get_run(info.run_id).data.metrics)
        except Exception:
            return {}

    def local_path(self, info: VersionInfo) -> Path:
        import mlflow.artifacts

        uri = self.client.get_model_version_download_uri(info.name, str(info.version))
        if uri.startswith("file:") or Path(uri).is_absolute():
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=self.settings.tracking))
        # remote artifacts (mlflow-artifacts:, s3:, …): the tracking URI is passed explicitly (mlflow-artifacts:
        # needs the http tracking server), into a folder per process and version that is refreshed on each load
        dst = self.settings.home / "downloads" / str(os.getpid()) / info.name / str(info.version)
        if dst.exists():
            shutil.rmtree(dst)  # a fresh copy: the digest check must see what the store holds now
        dst.mkdir(parents=True)
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dst),
                                                        tracking_uri=self.settings.tracking))

    def load(self, info: VersionInfo) -> LoadedModel:
        from mlgate.models.loader import load_model_dir

        path = self.local_path(info)
        digest, size = tree_sha256(path)
        if info.sha256 is None:
            log.info("recording digest of %s@%s on first load: %s", info.name, info.version, digest)
            self.client.set_model_version_tag(info.name, str(info.version), TAG_SHA, digest)
            info.sha256 = digest
        elif info.sha256 != digest:
            raise IntegrityError(
                f"artifact of {info.name}@{info.version} does not match its recorded digest: "
                f"recorded {info.sha256}, found {digest}",
                "the artifact store was changed after registration; restore it or register a new version",
            )
        loaded = load_model_dir(info, path, size)
        if not info.metrics:
            info.metrics = self.metrics(info)
        return loaded

    def list_versions(self) -> list[VersionInfo]:
        aliases: dict[tuple[str, int], list[str]] = {}
        for rm in self.client.search_registered_models(max_results=1000):
            for alias, version in (rm.aliases or {}).items():
                aliases.setdefault((rm.name, int(version)), []).append(alias)
        out: list[VersionInfo] = []
        for mv in self.client.search_model_versions(max_results=10_000):
            info = _version_info(mv)
            info.aliases = sorted(aliases.get(info.key, info.aliases))
            out.append(info)
        out.sort(key=lambda v: (v.name, v.version))
        return out

    def set_tag(self, info: VersionInfo, key: str, value: str) -> None:
        try:
            self.client.set_model_version_tag(info.name, str(info.version), key, value)
        except Exception as exc:
            raise BackendError(f"could not write tag {key} on {info.name}@{info.version}: {exc}") from exc
