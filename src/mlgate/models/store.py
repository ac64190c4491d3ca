"""The model store: parse a reference, resolve it, load it once, hand it out.

One home for what every use case needs of a model: reference parsing (``latest`` refused
unless allowed), resolution through the registry or a Hub snapshot, the alias answers kept
until they move, the memory-bounded cache with single-flight loads, and the registry
listing. It knows nothing of halts, ledgers or callers: those belong to the serving
runtime above it.

Alias answers (``name@production`` → version 4) are kept so an alias costs what a pinned
version costs. One is dropped when (a) this process moves an alias of that model
(``forget_aliases``), (b) the model's generation in the state database moved — another
replica promoted or rolled back; the runtime feeds what its halt poll read to
``follow_generations`` — or (c) it is older than ``MLGATE_ALIAS_TTL_MS``, which bounds how
long a change made outside mlgate (a plain MLflow client) goes unseen. ``latest`` is never
kept. A TTL of 0 re-resolves every call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import cached_property

import anyio

from mlgate import telemetry
from mlgate.config import Settings
from mlgate.domain import LoadedModel, VersionInfo
from mlgate.errors import NotFound, Refused, WrongInterface
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
        # (name, alias) -> (expires at, epoch of the name when it was asked, the answer)
        self._aliases: dict[tuple[str, str], tuple[float, int, VersionInfo]] = {}
        self._epochs: dict[str, int] = {}  # bumped whenever a name's alias answers must be dropped
        self._generations: dict[str, int] = {}  # as the state database said last
        self._keep = True  # False while the generations cannot be read: no alias answer is kept
        self.clock: Callable[[], float] = time.monotonic  # of the alias TTL
        # set while the warm-up runs: loads take turns, so two threads never import one library at once
        self.serial_loads: threading.Lock | None = None
        self.alias_lookups = 0  # registry round trips made to resolve an alias (status, tests, benches)

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
        """Concrete version of ``ref``: a pinned version asks the resolver; an alias answer is kept
        until it moves (see the module docstring), so a warm alias costs a dict lookup."""
        ttl = self.settings.alias_ttl_ms / 1000
        if (
            ref.version is not None
            or ref.source != "registry"
            or ref.alias == "latest"
            or ttl <= 0
            or not self._keep
        ):
            if ref.version is None:
                self.alias_lookups += 1
            return await anyio.to_thread.run_sync(self.resolver_for(ref.source).resolve, ref)
        key = (ref.name, ref.alias or "")
        epoch = self._epochs.get(ref.name, 0)
        now = self.clock()
        hit = self._aliases.get(key)
        if hit is not None and now < hit[0] and hit[1] == epoch:
            return hit[2]
        self.alias_lookups += 1
        info = await anyio.to_thread.run_sync(self.resolver_for(ref.source).resolve, ref)
        # asked at `epoch`: an answer that moved meanwhile (epoch bumped) is not kept
        if self._epochs.get(ref.name, 0) == epoch:
            self._aliases[key] = (now + ttl, epoch, info)
        return info

    def forget_aliases(self, name: str) -> None:
        """Drop kept alias answers for ``name`` (its aliases moved), including answers in flight."""
        self._epochs[name] = self._epochs.get(name, 0) + 1
        for key in [k for k in list(self._aliases) if k[0] == name]:  # list(): the poll thread calls this too
            self._aliases.pop(key, None)

    def follow_generations(self, generations: Mapping[str, int] | None) -> list[str]:
        """What the state database says now (name → generation, read with the halt poll): forget the
        alias answers of every model whose generation moved; ``None`` (unreadable) forgets them all and
        keeps none until a read works again.
        Returns the names forgotten."""
        self._keep = generations is not None
        if generations is None:
            moved = sorted({k[0] for k in list(self._aliases)})
            self._generations = {}
        else:
            seen = self._generations
            moved = sorted(n for n in set(seen) | set(generations) if seen.get(n) != generations.get(n))
            self._generations = dict(generations)
        for name in moved:
            self.forget_aliases(name)
        return moved

    def note_generation(self, name: str, generation: int) -> None:
        """This process moved ``name``'s aliases to ``generation`` (and forgot its answers already)."""
        self._generations = {**self._generations, name: generation}

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
        resolver, serial = self.resolver_for(source), self.serial_loads

        def load() -> LoadedModel:
            if serial is None:
                return resolver.load(info)
            with serial:
                return resolver.load(info)

        with telemetry.span("mlgate.load", **{"mlgate.model": f"{info.name}@{info.version}"}):
            loaded = await anyio.to_thread.run_sync(load)
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
