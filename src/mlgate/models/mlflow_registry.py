"""One narrow, typed interface over the MLflow registry.

Everything mlgate asks of MLflow's registry goes through ``MlflowRegistry``: versions as
``VersionInfo``, aliases, tags, the runs' metrics, and the few writes the lifecycle and
registration make. No other module touches an ``MlflowClient``; mlflow is imported on
first use, never at module import.

It is also the one place MLflow's errors are translated: every client call goes through
``_Client``, which turns "does not exist" into ``NotFound`` and everything else (an HTTP
error, a dead tracking server, a broken store) into ``BackendError``. So a registry outage
is never read as "not registered": ``exists``, ``ensure_model`` and ``find_version`` let
``BackendError`` through instead of answering False / creating / None. No other module
imports ``mlflow.exceptions``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from mlgate.config import Settings
from mlgate.domain import Feature, VersionInfo
from mlgate.errors import BackendError, MlgateError, NotFound
from mlgate.models.tags import TAG_FEATURES, TAG_INTERFACES, TAG_METRICS, TAG_PENDING, TAG_SHA

log = logging.getLogger(__name__)
MAX_VERSIONS = 1000
# mlflow's first import is not safe from two threads at once (its protobuf modules import each other: a
# second importer meets a half-built descriptor pool or a _DeadlockError): every method reaches mlflow
# through ``_mlflow`` first, which imports it under this lock (the warm-up and a first call race otherwise)
_IMPORT = threading.Lock()
_ABSENT = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")  # MLflow's error codes for "no such thing"


def translate(exc: Exception, uri: str, what: str) -> MlgateError:
    """An exception raised by an MLflow client call as mlgate's error: absent → ``NotFound``, every other
    failure (unreachable server, HTTP 5xx, a broken store) → ``BackendError`` naming the registry."""
    if isinstance(exc, MlgateError):
        return exc
    code = str(getattr(exc, "error_code", ""))
    # a missing alias is INVALID_PARAMETER_VALUE ("Registered model alias … not found") in MLflow's stores
    absent_alias = code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc).lower()
    if code in _ABSENT or absent_alias:
        return NotFound(f"{what}: not found in the model registry", "list models with ml_list_models")
    log.warning("the MLflow registry at %s failed on %s: %s: %s", uri, what, type(exc).__name__, exc)
    return BackendError(
        f"the model registry did not answer ({what} failed: {type(exc).__name__}"
        f"{' ' + code if code else ''}); nothing was read as missing",
        "retry later; the operator should check the tracking server (MLGATE_TRACKING_URI) "
        "and the server's log",
    )


class _Client:
    """An ``MlflowClient`` whose every method raises mlgate's errors (see ``translate``)."""

    def __init__(self, client: Any, uri: str) -> None:
        self._client = client
        self._uri = uri

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                raise translate(exc, self._uri, name) from exc

        return call


def version_info(mv: Any) -> VersionInfo:
    """An MLflow ``ModelVersion`` as mlgate reads it (tags written by mlgate, where present)."""
    tags: dict[str, str] = dict(mv.tags or {})
    interfaces = tuple(i for i in tags.get(TAG_INTERFACES, "").split(",") if i)
    feats = [Feature(**f) for f in json.loads(tags[TAG_FEATURES])] if TAG_FEATURES in tags else []
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


class MlflowRegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None

    @property
    def _mlflow(self) -> Any:
        if self._client is None:
            with _IMPORT:
                if self._client is None:
                    from mlflow import MlflowClient

                    if self.settings.tracking_uri is None:
                        self.settings.ensure_home()
                    uri = self.settings.tracking
                    self._client = _Client(MlflowClient(tracking_uri=uri, registry_uri=uri), uri)
        return self._client

    # -- reading ---------------------------------------------------------------------
    def version(self, name: str, version: int) -> VersionInfo:
        """One version; ``NotFound`` naming the versions and aliases that exist."""
        try:
            return version_info(self._mlflow.get_model_version(name, str(version)))
        except NotFound as exc:
            raise self._not_found(name, f"version {version}", exc) from None

    def by_alias(self, name: str, alias: str) -> VersionInfo:
        try:
            return version_info(self._mlflow.get_model_version_by_alias(name, alias))
        except NotFound as exc:
            raise self._not_found(name, f"alias {alias!r}", exc) from None

    def newest(self, name: str) -> VersionInfo:
        found = self._mlflow.search_model_versions(
            f"name='{_quoted(name)}'", order_by=["version_number DESC"], max_results=1
        )
        if not found:
            raise NotFound(f"no registered model named {name!r}", "list models with ml_list_models")
        return version_info(found[0])

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of ``name``, oldest first (at most ``MAX_VERSIONS``)."""
        found = self._mlflow.search_model_versions(f"name='{_quoted(name)}'", max_results=MAX_VERSIONS)
        return sorted((version_info(mv) for mv in found), key=lambda v: v.version)

    def all_versions(self) -> list[VersionInfo]:
        """Every version of every model, with its aliases, sorted by name and version."""
        aliases: dict[tuple[str, int], list[str]] = {}
        for rm in self._mlflow.search_registered_models(max_results=MAX_VERSIONS):
            for alias, version in (rm.aliases or {}).items():
                aliases.setdefault((rm.name, int(version)), []).append(alias)
        out: list[VersionInfo] = []
        for mv in self._mlflow.search_model_versions(max_results=10_000):
            info = version_info(mv)
            out.append(replace(info, aliases=sorted(aliases.get(info.key, info.aliases))))
        return sorted(out, key=lambda v: (v.name, v.version))

    def find_version(self, name: str, tags: dict[str, str]) -> VersionInfo | None:
        """The oldest complete version of ``name`` whose tags include all of ``tags`` (an "already registered?"
        check: a version still pending, or left pending by a killed registration, is not one). A registry
        that does not answer raises ``BackendError``: it is not "none registered"."""
        try:
            versions = self.versions(name)
        except NotFound:
            return None
        done = (v for v in versions if TAG_PENDING not in v.tags)
        return next((v for v in done if all(v.tags.get(k) == val for k, val in tags.items())), None)

    def aliases(self, name: str) -> dict[str, int]:
        return {a: int(v) for a, v in (self._mlflow.get_registered_model(name).aliases or {}).items()}

    def model_tags(self, name: str) -> dict[str, str]:
        return dict(self._mlflow.get_registered_model(name).tags or {})

    def run_metrics(self, run_id: str | None) -> dict[str, float]:
        if not run_id:
            return {}
        try:
            return {k: float(v) for k, v in self._mlflow.get_run(run_id).data.metrics.items()}
        except NotFound:  # a deleted run: no metrics, not a failure
            return {}
        except BackendError:  # logged by translate(); metrics are informative, the call goes on without
            return {}

    def download_uri(self, name: str, version: int) -> str:
        return str(self._mlflow.get_model_version_download_uri(name, str(version)))

    def exists(self, name: str, version: int = 1) -> bool:
        """Whether ``name@version`` is registered; ``BackendError`` when the registry does not answer."""
        try:
            self._mlflow.get_model_version(name, str(version))
            return True
        except NotFound:
            return False

    # -- writing ---------------------------------------------------------------------
    def set_tag(self, name: str, version: int, key: str, value: str) -> None:
        try:
            self._mlflow.set_model_version_tag(name, str(version), key, value)
        except MlgateError as exc:
            raise BackendError(f"could not write tag {key} on {name}@{version}: {exc.message}") from exc

    def delete_tag(self, name: str, version: int, key: str) -> None:
        try:
            self._mlflow.delete_model_version_tag(name, str(version), key)
        except Exception as exc:
            raise BackendError(f"could not remove tag {key} from {name}@{version}: {exc}") from exc

    def delete_version(self, name: str, version: int) -> None:
        self._mlflow.delete_model_version(name, str(version))

    def tagged_runs(self, experiment: str, key: str) -> list[tuple[str, str, str]]:
        """(run id, artifact URI, tag value) of the live runs of ``experiment`` that carry tag ``key``."""
        exp = self._mlflow.get_experiment_by_name(experiment)
        if exp is None:
            return []
        runs = self._mlflow.search_runs(
            [exp.experiment_id], filter_string=f"tags.`{key}` LIKE '%'", max_results=MAX_VERSIONS
        )
        return [(r.info.run_id, r.info.artifact_uri, r.data.tags[key]) for r in runs]

    def run_versions(self, run_id: str) -> list[VersionInfo]:
        """The versions registered from ``run_id``."""
        return [version_info(mv) for mv in self._mlflow.search_model_versions(f"run_id='{_quoted(run_id)}'")]

    def delete_run(self, run_id: str) -> None:
        self._mlflow.delete_run(run_id)

    def describe_model(self, name: str, description: str) -> None:
        self._mlflow.update_registered_model(name, description=description)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self._mlflow.set_registered_model_tag(name, key, value)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._mlflow.set_registered_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        self._mlflow.delete_registered_model_alias(name, alias)

    def ensure_model(self, name: str, description: str = "") -> None:
        """Create ``name`` if it is not registered; an unreachable registry raises, it does not create."""
        try:
            self._mlflow.get_registered_model(name)
        except NotFound:
            self._mlflow.create_registered_model(name, description=description or None)

    def create_version(
        self,
        name: str,
        source: str,
        run_id: str,
        description: str = "",
        model_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> VersionInfo:
        """A new version row with ``tags`` written in the same step (one transaction in MLflow's stores)."""
        kwargs: dict[str, Any] = {"run_id": run_id, "description": description, "tags": tags}
        if model_id is not None:  # a tracking *server* refuses a models:/m-… source without it
            kwargs["model_id"] = model_id
        return version_info(self._mlflow.create_model_version(name, source, **kwargs))

    def experiment_id(self, name: str, location: str | None) -> str:
        exp = self._mlflow.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        return str(self._mlflow.create_experiment(name, artifact_location=location))

    def log_metric(self, run_id: str, key: str, value: float) -> None:
        self._mlflow.log_metric(run_id, key, float(value))

    # -- errors ----------------------------------------------------------------------
    def _not_found(self, name: str, what: str, exc: Exception) -> NotFound:
        log.info("lookup of %s %s failed: %s", name, what, exc)
        known = sorted(v.version for v in self.versions(name))  # BackendError: the registry went away
        if not known:
            return NotFound(f"no registered model named {name!r}", "list models with ml_list_models")
        try:
            aliases = sorted(self.aliases(name))
        except NotFound:  # the model was deleted meanwhile
            aliases = []
        return NotFound(
            f"model {name!r} has no {what}",
            f"known versions: {', '.join(map(str, known))}; aliases: {', '.join(aliases) or 'none'}",
        )


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")
