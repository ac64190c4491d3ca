"""The runtime one server process shares between its tool calls.

It owns what serving needs beyond the models themselves: the state database (halts,
ledger, skill runs), the kill switch, the executor (guards, breakers, batchers) and the
metrics; ``models`` is the model store (references, resolution, cache). Tool functions
reach it through the MCP lifespan context. Entry points get it from the composition root,
``mlgate.compose.build_runtime(settings)``, with the services built around it; tests of serving
alone may build one directly: ``Runtime(Settings(...))``. The state database and its threads start on first use, so a
runtime that only lists models never opens it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any

import anyio

from mlgate import telemetry
from mlgate.artifacts import json_sha256 as input_digest
from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.domain import LoadedModel
from mlgate.errors import InsufficientScope, InvalidToken, MlgateError, NotFound
from mlgate.models.resolvers import Resolver
from mlgate.models.store import ModelStore
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.capture import Captures
from mlgate.serving.execution import Executor
from mlgate.serving.halt_scopes import served_scopes
from mlgate.serving.killswitch import KillSwitch
from mlgate.serving.metrics import Metrics
from mlgate.state.admissions import AdmissionBook
from mlgate.state.db import LedgerRow, StateDB
from mlgate.state.generations import GenerationStore
from mlgate.state.ledger import Ledger

log = logging.getLogger(__name__)
_REFUSALS = (InsufficientScope, InvalidToken)  # authorization refusals: outcome "refused"


class Runtime:
    def __init__(
        self, settings: Settings, resolver: Resolver | None = None, *, transport: str = "memory"
    ) -> None:
        self.settings = settings
        self.models = ModelStore(settings, resolver, admissions=lambda: self.admissions)
        self.transport = transport
        self.started = time.time()
        self.metrics = Metrics(settings.metrics_multiproc_dir)

    # -- state, started on first use -------------------------------------------------
    @cached_property
    def state(self) -> StateDB:
        if self.settings.state_url is None:
            self.settings.ensure_home()
        return StateDB(self.settings.state)

    @cached_property
    def admissions(self) -> AdmissionBook:
        return AdmissionBook(self.state)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.state, fail_after_s=self.settings.ledger_fail_after_s)

    @cached_property
    def generations(self) -> GenerationStore:
        return GenerationStore(self.state)

    @cached_property
    def captures(self) -> Captures:
        return Captures(self.settings, lambda: self.state)

    @cached_property
    def killswitch(self) -> KillSwitch:
        return KillSwitch(
            self.state,
            poll_interval=self.settings.halt_poll_s,
            fail_after=self.settings.halt_fail_after,
            followers=[self._follow_generations],
        )

    def _follow_generations(self) -> None:
        """With every halt poll: forget the alias answers of models another replica moved."""
        try:
            generations: dict[str, int] | None = self.generations.read()
        except Exception:
            generations = None  # unreadable: keep no alias answer (each call asks the registry)
            log.exception("reading the alias generations failed; alias answers are not kept until it works")
        self.models.follow_generations(generations)

    @asynccontextmanager
    async def moving_aliases(self, name: str, by: str) -> AsyncIterator[None]:
        """Around a change of ``name``'s aliases: afterwards — even after a failed or cancelled change,
        which may have moved an alias already — ``aliases_moved``; not when the model does not exist."""
        try:
            yield
        except NotFound:
            self.models.forget_aliases(name)
            raise
        except BaseException:
            await self.aliases_moved(name, by)
            raise
        await self.aliases_moved(name, by)

    async def aliases_moved(self, name: str, by: str) -> None:
        """``name``'s aliases moved through this process (promote, rollback, demote, archive): forget
        its alias answers here at once, and bump its generation so other replicas forget theirs on
        their next halt poll. A failed bump is logged: the others then follow within the TTL."""
        self.models.forget_aliases(name)
        try:
            with anyio.CancelScope(shield=True):  # a cancelled promotion may have moved the alias already
                generation = await anyio.to_thread.run_sync(self.generations.bump, name, by)
        except Exception:
            log.exception(
                "recording that %s's aliases moved failed; other replicas follow within the TTL", name
            )
            return
        self.models.note_generation(name, generation)

    @cached_property
    def executor(self) -> Executor:
        from mlgate.serving.guards import Guards

        return Executor(self.settings, lambda: self.killswitch, Guards.load(self.settings))

    def local_caller(self) -> Caller:
        """The caller of a process without tokens: stdio, the command line, a test."""
        return Caller.local(self.transport, self.settings.stdio_granted)

    async def serve(self, model: str, interface: str) -> tuple[LoadedModel, ModelStamp]:
        """An inference call's model: refused first if a halt covers its name, then acquired and refused
        if a halt covers any scope of what it serves (origin, digest: ``halt_scopes.py``).
        (The executor checks the kill switch once more after the model call.)"""
        ref = self.models.parse(model)
        await self.killswitch.enforce(ref.name)
        with telemetry.span("mlgate.resolve", **{"mlgate.model": model[:300]}):
            loaded, stamp = await self.models.acquire(model, interface, ref=ref)
        await self.killswitch.enforce(loaded.info.name, served_scopes(loaded))
        self.metrics.resolved(stamp.name)  # its refusals and failures from here on are counted under its name
        return loaded, stamp

    # -- the ledger ----------------------------------------------------------------
    def record(
        self,
        tool: str,
        caller: Caller,
        args: Mapping[str, Any],
        result: Any,
        t0: float,
        error: BaseException | None,
        *,
        run_id: str | None = None,
    ) -> int:
        """One ledger row per call: never the raw inputs, only their digest; of an error, only its
        class and the fields it names (``MlgateError.audit_text``), never the values.

        Returns the row's sequence number; ``serving.audited`` awaits ``committed(seq)`` before
        answering where the call requires it, otherwise the row is written in the background.
        Calls go through ``serving.audited``; only rows of events that are no call (a job's end,
        a quality alert) are recorded here directly.
        """
        ms = (time.perf_counter() - t0) * 1000
        stamp = getattr(result, "model", None)
        if isinstance(stamp, str):  # a result naming its model (ml_record_actuals), not a stamp
            stamp = None
        ref = getattr(stamp, "ref", None) or _arg_ref(args)
        asked = args.get("model")
        trace_id = telemetry.trace_id()
        self.metrics.call(  # an exemplar only when this process traces (a client's id alone: none)
            tool,
            error,
            ms,
            stamp,
            asked if isinstance(asked, str) else None,
            trace_id if telemetry.enabled() else None,
        )
        row = LedgerRow(
            tool=tool,
            outcome="ok" if error is None else "refused" if isinstance(error, _REFUSALS) else "error",
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
            trace_id=trace_id,
            run_id=run_id or getattr(result, "run_id", None),
        )
        return self.ledger.append(row)

    async def committed(self, seq: int) -> None:
        """Wait until ledger row ``seq`` is committed (group commit with concurrent calls)."""
        with telemetry.span("mlgate.ledger_commit"):
            await self.ledger.committed(seq)

    def prometheus(self) -> str:
        """The classic text exposition."""
        return self.scrape("")[0].decode()

    def scrape(self, accept: str) -> tuple[bytes, str]:
        """(body, content type) of ``/metrics`` for a scraper sending ``Accept: accept`` (OpenMetrics, with
        the trace exemplars, when it asks for it)."""
        halts = len(self.killswitch.snapshot())
        return self.metrics.exposition(
            accept,
            cache=self.models.cache,
            batchers=self.executor.stats(),
            halts=halts,
            ledger=self.ledger.stats(),
        )

    async def aclose(self) -> None:
        for name in ("captures", "ledger", "killswitch"):
            obj = self.__dict__.get(name)
            if obj is not None:
                await anyio.to_thread.run_sync(obj.close)


def _arg_ref(args: Mapping[str, Any]) -> str | None:
    for key in ("model", "skill", "repo_id"):
        value = args.get(key)
        if isinstance(value, str):
            return value[:300]
    return None


def _safe_message(error: BaseException) -> str:
    """Domain errors are written for the caller; anything else is summarised (details stay in the log)."""
    if isinstance(error, MlgateError):
        return error.audit_text()[:1000]
    return f"internal error ({type(error).__name__})"
