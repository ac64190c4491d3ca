"""The runtime one server process shares between its tool calls.

It owns the resolver, the model cache and (when present) the kill switch, the
ledger and the batchers. Tool functions reach it through the MCP lifespan context;
plain code and tests build one directly: ``Runtime(Settings(...))``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import anyio

from mlgate.config import Settings
from mlgate.errors import NotFound, WrongInterface
from mlgate.interfaces.base import TOOL_OF, LoadedModel, VersionInfo
from mlgate.models.cache import ModelCache
from mlgate.models.ref import ModelRef, parse_ref
from mlgate.models.resolvers import MlflowResolver, Resolver
from mlgate.tools.schemas import ModelStamp

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the token's subject and client, or the local user on stdio."""

    subject: str
    client: str
    transport: str
    scopes: frozenset[str]


class Runtime:
    def __init__(self, settings: Settings, resolver: Resolver | None = None, *, transport: str = "memory") -> None:
        self.settings = settings
        self.resolver: Resolver = resolver or MlflowResolver(settings)
        self._resolvers: dict[str, Resolver] = {"registry": self.resolver}
        self.cache: ModelCache[LoadedModel] = ModelCache(settings.cache_mb * 1024 * 1024, lambda m: m.size_bytes)
        self.transport = transport
        self.started = time.time()
        self._listing: tuple[float, list[VersionInfo]] | None = None
        self.calls: dict[tuple[str, str], int] = {}
        self.seconds: dict[str, float] = {}

    # -- who is calling ------------------------------------------------------------
    def caller(self) -> Caller:
        from mcp.server.auth.middleware.auth_context import get_access_token

        token = get_access_token()
        if token is not None:
            return Caller(token.subject or token.client_id, token.client_id, "http", frozenset(token.scopes))
        return Caller("local", "local", self.transport, self.settings.stdio_granted)

    # -- models ------------------------------------------------------------------
    def parse(self, model: str) -> ModelRef:
        return parse_ref(model, allow_latest=self.settings.allow_latest)

    def resolver_for(self, source: str) -> Resolver:
        """The registry resolver, or the Hub snapshot resolver for ``hf:`` refs (made on first use)."""
        found = self._resolvers.get(source)
        if found is None:
            if source != "hf":
                raise NotFound(f"unknown model source {source!r}")
            from mlgate.supply.hub import HubResolver

            found = self._resolvers[source] = HubResolver(self.settings)
        return found

    async def resolve(self, ref: ModelRef) -> VersionInfo:
        return await anyio.to_thread.run_sync(self.resolver_for(ref.source).resolve, ref)

    async def acquire(self, model: str, interface: str | None = None) -> tuple[LoadedModel, ModelStamp]:
        """Resolve ``model``, load it once (cached), check it offers ``interface``."""
        ref = self.parse(model)
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
                f"call {tools} with it instead" if tools else "pick another model (see ml.list_models)",
            )
        return loaded, ModelStamp(name=info.name, version=info.version, ref=model, sha256=info.sha256)

    async def _load(self, info: VersionInfo, source: str = "registry") -> LoadedModel:
        t0 = time.perf_counter()
        loaded = await anyio.to_thread.run_sync(self.resolver_for(source).load, info)
        log.info("loaded %s@%s in %.0f ms", info.name, info.version, (time.perf_counter() - t0) * 1000)
        return loaded

    async def describe(self, model: str) -> tuple[LoadedModel, ModelStamp]:
        return await self.acquire(model, None)

    async def call_model(self, fn: Any, *args: Any) -> Any:
        """Run one model call. Fast models run inline; the batcher takes over for slow ones."""
        return fn(*args)

    async def list_versions_cached(self, ttl: float = 5.0) -> list[VersionInfo]:
        """The registry listing, cached briefly (completions ask for it on every keystroke)."""
        now = time.monotonic()
        if self._listing is None or now - self._listing[0] > ttl:
            self._listing = (now, await anyio.to_thread.run_sync(self.resolver.list_versions))
        return self._listing[1]

    # -- the ledger ----------------------------------------------------------------
    def record(
        self, tool: str, caller: Caller, args: dict[str, Any], result: Any, t0: float, error: BaseException | None
    ) -> None:
        """One row per tool call; never the raw inputs, only their digest."""
        ms = (time.perf_counter() - t0) * 1000
        stamp = getattr(result, "model", None)
        key = (tool, "ok" if error is None else "error")
        self.calls[key] = self.calls.get(key, 0) + 1
        self.seconds[tool] = self.seconds.get(tool, 0.0) + ms / 1000
        log.debug("%s %s %s %.2fms %s", tool, caller.subject, getattr(stamp, "ref", ""), ms, error or "ok")

    def prometheus(self) -> str:
        """Prometheus text exposition of this process's counters."""
        out = ["# HELP mlgate_tool_calls_total Tool calls by tool and outcome.", "# TYPE mlgate_tool_calls_total counter"]
        out += [f'mlgate_tool_calls_total{{tool="{t}",outcome="{o}"}} {n}' for (t, o), n in sorted(self.calls.items())]
        out += ["# HELP mlgate_tool_seconds_total Time spent in tools.", "# TYPE mlgate_tool_seconds_total counter"]
        out += [f'mlgate_tool_seconds_total{{tool="{t}"}} {s:.6f}' for t, s in sorted(self.seconds.items())]
        st = self.cache.stats()
        out += ["# TYPE mlgate_cache_bytes gauge", f"mlgate_cache_bytes {st.bytes}",
                "# TYPE mlgate_cache_models gauge", f"mlgate_cache_models {st.entries}",
                "# TYPE mlgate_cache_loads_total counter", f"mlgate_cache_loads_total {st.loads}"]
        return "\n".join(out) + "\n"

    async def aclose(self) -> None:
        return None
