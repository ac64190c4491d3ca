"""The model store: parse a reference, resolve it, load it once, hand it out.

One home for what every use case needs of a model: reference parsing (``latest`` refused
unless allowed), resolution through the registry or a Hub snapshot, the optional alias
TTL, the memory-bounded cache with single-flight loads, and the registry listing. It knows
nothing of halts, ledgers or callers: those belong to the serving runtime above it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cached_property

import anyio

from mlgate.config import Settings
from mlgate.errors import NotFound, Refused, WrongInterface
from mlgate.interfaces.base import LoadedModel, VersionInfo
from mlgate.models.cache import ModelCache
from mlgate.models.describe import Described, Describer
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.models.ref import ModelRef, parse_ref
from mlgate.models.resolvers import MlflowResolver, Resolver
from mlgate.schemas.interfaces import TOOL_OF
from mlgate.schemas.stamp import ModelStamp
from mlgate.state.admissions import AdmissionBook

log = logging.getLogger(__name__)


class ModelStore:
    def __init__(
        self,
        settings: Settings,
        resolver: Resolver | None = None,
        admissions: Callable[[], AdmissionBook] | None = None,
    ) -> None:
        self.settings = settings
        self.resolver: Resolver = resolver or MlflowResolver(settings, admissions)
        self._resolvers: dict[str, Resolver] = {"registry": self.resolver}
        self._sources: dict[str, Callable[[], Resolver]] = {}
        self.cache: ModelCache[LoadedModel] = ModelCache(
            settings.cache_mb * 1024 * 1024, lambda m: m.size_bytes
        )
        self._listing: tuple[float, list[VersionInfo]] | None = None
        self._aliases: dict[tuple[str, str], tuple[float, VersionInfo]] = {}

    @property
    def mlflow(self) -> MlflowResolver:
        """The MLflow resolver behind this store (registration and lifecycle operations need one)."""
        if not isinstance(self.resolver, MlflowResolver):
            raise Refused(
                "the lifecycle needs the MLflow registry; this server was started with another resolver"
            )
        return self.resolver

    @cached_property
    def describer(self) -> Describer:
        return Describer(self.mlflow)

    async def describe(self, info: VersionInfo) -> Described:
        """What a registry version offers, from its files, without loading it (kept per version)."""
        return await anyio.to_thread.run_sync(self.describer.describe, info)

    @property
    def registry(self) -> MlflowRegistry:
        """The MLflow registry's narrow interface (versions, aliases, tags)."""
        return self.mlflow.registry

    def parse(self, model: str) -> ModelRef:
        return parse_ref(model, allow_latest=self.settings.allow_latest)

    def add_source(self, source: str, factory: Callable[[], Resolver]) -> None:
        """Another source of models (``hf`` for pulled Hub snapshots), its resolver made on first use."""
        self._sources[source] = factory

    def resolver_for(self, source: str) -> Resolver:
        """The registry resolver, or the resolver added for ``source`` (e.g. ``hf:`` refs)."""
        found = self._resolvers.get(source)
        if found is None:
            factory = self._sources.get(source)
            if factory is None:
                raise NotFound(
                    f"unknown model source {source!r}", "use a registry reference such as 'name@3'"
                )
            found = self._resolvers[source] = factory()
        return found

    async def resolve(self, ref: ModelRef) -> VersionInfo:
        """Concrete version of ``ref``. Aliases are re-resolved on every call unless
        ``MLGATE_ALIAS_TTL_MS`` allows reusing an answer that young (this process forgets it at
        once when it moves the alias itself; other replicas follow within the TTL)."""
        ttl = self.settings.alias_ttl_ms / 1000
        if ttl <= 0 or ref.version is not None or ref.source != "registry":
            return await anyio.to_thread.run_sync(self.resolver_for(ref.source).resolve, ref)
        key = (ref.name, ref.alias or "")
        now = time.monotonic()
        hit = self._aliases.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        info = await anyio.to_thread.run_sync(self.resolver_for(ref.source).resolve, ref)
        self._aliases[key] = (now + ttl, info)
        return info

    def forget_aliases(self, name: str) -> None:
        """Drop cached alias answers for ``name`` (after this process promoted, rolled back or demoted)."""
        for key in [k for k in self._aliases if k[0] == name]:
            self._aliases.pop(key, None)

    async def acquire(
        self, model: str, interface: str | None = None, *, ref: ModelRef | None = None
    ) -> tuple[LoadedModel, ModelStamp]:
        """Resolve ``model`` (or its already parsed ``ref``), load it once (cached), check it offers
        ``interface``. The stamp carries ``model`` as the caller wrote it."""
        ref = ref or self.parse(model)
        loaded = self.cache.get_nowait((ref.name, ref.version)) if ref.version is not None else None
        if loaded is None:
            info = await self.resolve(ref)
            loaded = self.cache.get_nowait(info.key)
            if loaded is None:
                loaded = await self.cache.get(info.key, lambda: self._load(info, ref.source))
        info = loaded.info
        if interface is not None and interface not in info.interfaces:
            offered = ", ".join(info.interfaces) or "none"
            tools = " or ".join(TOOL_OF[i] for i in info.interfaces if i in TOOL_OF)
            raise WrongInterface(
                f"{info.name}@{info.version} is not {'an' if interface[0] in 'aeiou' else 'a'} {interface}; "
                f"it offers: {offered}",
                f"call {tools} with it instead" if tools else "pick another model (see ml_list_models)",
            )
        return loaded, ModelStamp(name=info.name, version=info.version, ref=model, sha256=info.sha256)

    async def _load(self, info: VersionInfo, source: str = "registry") -> LoadedModel:
        t0 = time.perf_counter()
        loaded = await anyio.to_thread.run_sync(self.resolver_for(source).load, info)
        log.info("loaded %s@%s in %.0f ms", info.name, info.version, (time.perf_counter() - t0) * 1000)
        return loaded

    async def list_versions(self) -> list[VersionInfo]:
        return await anyio.to_thread.run_sync(self.resolver.list_versions)

    async def list_versions_cached(self, ttl: float = 5.0) -> list[VersionInfo]:
        """The registry listing, cached briefly (completions ask for it on every keystroke)."""
        now = time.monotonic()
        if self._listing is None or now - self._listing[0] > ttl:
            self._listing = (now, await self.list_versions())
        return self._listing[1]
