"""The runtime one server process shares between its tool calls.

It owns the resolvers, the model cache, the state database (halts, ledger, skill runs),
the kill switch, the executor (guards, breakers, batchers) and the metrics. Tool
functions reach it through the MCP lifespan context; plain code and tests build one
directly: ``Runtime(Settings(...))``. The state database and its threads start on
first use, so a runtime that only lists models never opens it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import anyio

from mlgate.config import Settings
from mlgate.errors import MlgateError, NotFound, WrongInterface
from mlgate.interfaces.base import TOOL_OF, LoadedModel, VersionInfo
from mlgate.models.cache import ModelCache
from mlgate.models.ref import ModelRef, parse_ref
from mlgate.models.resolvers import MlflowResolver, Resolver
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.execution import Executor
from mlgate.serving.killswitch import KillSwitch
from mlgate.serving.metrics import Metrics
from mlgate.state.db import LedgerRow, StateDB, input_digest
from mlgate.state.ledger import Ledger

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
        self.metrics = Metrics()
        self._listing: tuple[float, list[VersionInfo]] | None = None
        self._aliases: dict[tuple[str, str], tuple[float, VersionInfo]] = {}

    # -- state, started on first use -------------------------------------------------
    @cached_property
    def state(self) -> StateDB:
        if self.settings.state_url is None:
            self.settings.ensure_home()
        return StateDB(self.settings.state)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.state)

    @cached_property
    def killswitch(self) -> KillSwitch:
        return KillSwitch(self.state, poll_interval=self.settings.halt_poll_s)

    @cached_property
    def executor(self) -> Executor:
        from mlgate.serving.guards import Guards

        return Executor(self.settings, lambda: self.killswitch, Guards.load(self.settings))

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

    async def acquire(self, model: str, interface: str | None = None) -> tuple[LoadedModel, ModelStamp]:
        """Resolve ``model``, load it once (cached), check it offers ``interface``.

        With an interface (an inference call), a halt covering the model refuses first.
        """
        ref = self.parse(model)
        if interface is not None:
            self.killswitch.check(ref.name)
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

    async def list_versions_cached(self, ttl: float = 5.0) -> list[VersionInfo]:
        """The registry listing, cached briefly (completions ask for it on every keystroke)."""
        now = time.monotonic()
        if self._listing is None or now - self._listing[0] > ttl:
            self._listing = (now, await anyio.to_thread.run_sync(self.resolver.list_versions))
        return self._listing[1]

    # -- the ledger ----------------------------------------------------------------
    def record(
        self, tool: str, caller: Caller, args: dict[str, Any], result: Any, t0: float, error: BaseException | None
    ) -> int:
        """One ledger row per tool call: never the raw inputs, only their digest.

        Returns the row's sequence number; with ``MLGATE_LEDGER_SYNC`` the tool wrapper awaits
        ``committed(seq)`` before answering, otherwise the row is written in the background.
        """
        ms = (time.perf_counter() - t0) * 1000
        self.metrics.observe(tool, "ok" if error is None else "error", ms)
        stamp = getattr(result, "model", None)
        ref = getattr(stamp, "ref", None) or _arg_ref(args)
        row = LedgerRow(
            tool=tool,
            outcome="ok" if error is None else "error",
            subject=caller.subject,
            client=caller.client,
            transport=caller.transport,
            model_ref=ref,
            version=None if stamp is None else str(stamp.version),
            digest=getattr(stamp, "sha256", None),
            input_digest=input_digest({k: v for k, v in args.items() if k != "ctx"}),
            duration_ms=round(ms, 3),
            error_class=None if error is None else type(error).__name__,
            error_message=None if error is None else _safe_message(error),
        )
        return self.ledger.append(row)

    async def committed(self, seq: int) -> None:
        """Wait until ledger row ``seq`` is committed (group commit with concurrent calls)."""
        await self.ledger.committed(seq)

    def prometheus(self) -> str:
        halts = len(self.killswitch.snapshot())
        return self.metrics.render(cache=self.cache, batchers=self.executor.stats(), halts=halts,
                                   ledger=self.ledger.stats())

    async def aclose(self) -> None:
        for name in ("ledger", "killswitch"):
            obj = self.__dict__.get(name)
            if obj is not None:
                await anyio.to_thread.run_sync(obj.close)


def _arg_ref(args: dict[str, Any]) -> str | None:
    for key in ("model", "skill", "repo_id"):
        value = args.get(key)
        if isinstance(value, str):
            return value[:300]
    return None


def _safe_message(error: BaseException) -> str:
    """Domain errors are written for the caller; anything else is summarised (details stay in the log)."""
    if isinstance(error, MlgateError):
        return str(error)[:1000]
    return f"internal error ({type(error).__name__})"
