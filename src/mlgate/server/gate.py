"""What every tool call passes through, before and around its body.

``guard`` wraps each tool: the scope check (the same rule on every transport), the ledger
check (fail closed), the domain-error → ``isError`` mapping, and one ledger row per call —
also for a call its client cancelled. ``GateServer`` adds what happens before a tool runs:
the dotted names of the first release answer as their canonical ``ml_*`` names, arguments
that fail validation come back as advice (the argument, what was expected, a valid
example) with their own ledger row, and ``tools/list`` is the lean listing.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import Tool as MCPTool
from mcp_types import ToolAnnotations
from pydantic import ValidationError

from mlgate.errors import Cancelled, InsufficientScope, InvalidInput, MlgateError
from mlgate.server.advice import argument_advice, example_for
from mlgate.server.listing import lean_tool
from mlgate.serving.runtime import Runtime
from mlgate.tools.context import caller_of

log = logging.getLogger("mlgate.tools")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: Callable[..., Awaitable[Any]]
    title: str
    scope: str  # the one place a tool's scope is declared (auth.scopes has only the rule)
    annotations: ToolAnnotations
    example: dict[str, Any] = field(default_factory=dict)  # valid arguments (a test checks each validates)


def guard(spec: ToolSpec) -> Callable[..., Awaitable[Any]]:
    """Wrap a tool: scope check, error mapping, ledger row. Keeps the tool's signature."""
    scope = spec.scope
    fn = spec.fn
    defaults = {n: p.default for n, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}

    def sent(kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments as a client means them: an optional one left at its default is not part of
        the ledger's input digest (sending ``keys: []`` or leaving it out is the same call)."""
        return {k: v for k, v in kwargs.items() if k != "ctx" and not (k in defaults and v == defaults[k])}

    @functools.wraps(fn)
    async def call(**kwargs: Any) -> Any:
        ctx: Context[Any, Any] = kwargs["ctx"]
        rt: Runtime = ctx.request_context.lifespan_context
        caller = caller_of(rt)
        t0 = time.perf_counter()
        result: Any = None
        failure: BaseException | None = None
        message = ""
        try:
            if not caller.may(scope):
                raise InsufficientScope(spec.name, scope)
            rt.ledger.check()  # a call that could not leave its row does nothing (fail closed)
            result = await fn(**kwargs)
        except anyio.get_cancelled_exc_class():
            # cancelled (notifications/cancelled, or the client went away): the row is written all the same
            with anyio.CancelScope(shield=True):
                try:
                    await _recorded(
                        rt, spec, rt.record(spec.name, caller, sent(kwargs), None, t0, Cancelled())
                    )
                except MlgateError as exc:
                    log.error("%s was cancelled and its ledger row could not be written: %s", spec.name, exc)
            raise
        except MlgateError as exc:
            failure, message = exc, str(exc)
        except (ToolError, MCPError):
            raise
        except Exception as exc:
            incident = uuid.uuid4().hex[:12]
            log.exception("%s failed unexpectedly (incident %s)", spec.name, incident)
            failure = exc
            message = (
                f"{spec.name} failed inside the server (incident {incident}); the operator's log has details"
            )
        try:
            await _recorded(rt, spec, rt.record(spec.name, caller, sent(kwargs), result, t0, failure))
        except MlgateError as exc:  # the row could not be written: the call must not look successful
            raise ToolError(str(exc)) from None
        if failure is not None:
            raise ToolError(message) from None
        return result

    return call


async def _recorded(rt: Runtime, spec: ToolSpec, seq: int) -> None:
    """With MLGATE_LEDGER_SYNC, or for a tool that changes state, answer only once the row is committed."""
    if rt.settings.ledger_sync or not spec.annotations.read_only_hint:
        await rt.committed(seq)


class GateServer(MCPServer[Runtime]):
    """``MCPServer`` plus legacy names, argument advice and the lean listing, for ``specs``."""

    runtime: Runtime
    _listing: list[MCPTool] | None = None
    specs: dict[str, ToolSpec]
    legacy: dict[str, str]  # the first release's dotted names (ml.predict …): answered, never listed

    def use(self, runtime: Runtime, specs: Sequence[ToolSpec]) -> None:
        self.runtime = runtime
        self.specs = {s.name: s for s in specs}
        self.legacy = {s.name.replace("ml_", "ml.", 1): s.name for s in specs}

    async def list_tools(self) -> list[MCPTool]:
        if self._listing is None:  # tools are fixed once the server is built
            self._listing = [lean_tool(t) for t in await super().list_tools()]
        return self._listing

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        name = self.legacy.get(name, name)
        t0 = time.perf_counter()
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            spec = self.specs.get(name)
            if spec is None or not isinstance(exc.__cause__, ValidationError):
                raise
            rt = self.runtime
            call, example = await example_for(rt, name, arguments, spec.example)
            advice = InvalidInput(*argument_advice(name, exc.__cause__, example, call))
            try:
                await _recorded(rt, spec, rt.record(name, caller_of(rt), arguments, None, t0, advice))
            except MlgateError as exc:
                raise ToolError(str(exc)) from None
            raise ToolError(str(advice)) from None
