"""What every tool call passes through, before and around its body.

``guard`` wraps each tool in the one audited-call path (``serving.audited``: the scope check —
the same rule on every transport —, the fail-closed ledger check, error mapping, one ledger row
per call, also for a call its client cancelled) and turns its domain errors into ``isError``. ``GateServer`` adds what happens before a tool runs:
the dotted names of the first release answer as their canonical ``ml_*`` names, arguments
that fail validation come back as advice (the argument, what was expected, a valid
example) with their own ledger row, and ``tools/list`` is the lean listing.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import Tool as MCPTool
from mcp_types import ToolAnnotations
from pydantic import ValidationError

from mlgate.compose import App
from mlgate.errors import InvalidInput, MlgateError
from mlgate.server.advice import argument_advice, example_for, schema_names
from mlgate.server.listing import lean_tool
from mlgate.serving.audited import Call, audited
from mlgate.serving.runtime import Runtime
from mlgate.tools.context import caller_of, runtime


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

    durable = not spec.annotations.read_only_hint  # a tool that changes state answers once its row is in

    @functools.wraps(fn)
    async def call(**kwargs: Any) -> Any:
        ctx: Context[Any, Any] = kwargs["ctx"]
        rt = runtime(ctx)
        audit = Call(spec.name, caller_of(rt), sent(kwargs), scope, durable=durable, passthrough=_PROTOCOL)
        try:
            return await audited(rt, audit, lambda: fn(**kwargs))
        except MlgateError as exc:
            raise ToolError(str(exc)) from None

    return call


_PROTOCOL = (ToolError, MCPError)  # the SDK's own errors: re-raised as they are


class GateServer(MCPServer[App]):
    """``MCPServer`` plus legacy names, argument advice and the lean listing, for ``specs``."""

    app: App
    runtime: Runtime
    _listing: list[MCPTool] | None = None
    specs: dict[str, ToolSpec]
    legacy: dict[str, str]  # the first release's dotted names (ml.predict …): answered, never listed

    def use(self, app: App, specs: Sequence[ToolSpec]) -> None:
        self.app = app
        self.runtime = app.runtime
        self.specs = {s.name: s for s in specs}
        self.legacy = {s.name.replace("ml_", "ml.", 1): s.name for s in specs}

    def _names(self, name: str) -> frozenset[str]:
        """The names declared in a tool's input schema (what a ledger row may name of bad arguments)."""
        tool = self._tool_manager.get_tool(name)
        return schema_names(tool.parameters) if tool is not None else frozenset()

    async def list_tools(self) -> list[MCPTool]:
        if self._listing is None:  # tools are fixed once the server is built
            self._listing = [lean_tool(t) for t in await super().list_tools()]
        return self._listing

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        name = self.legacy.get(name, name)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            spec = self.specs.get(name)
            if spec is None or not isinstance(exc.__cause__, ValidationError):
                raise
            rt = self.runtime
            call, example = await example_for(rt, name, arguments, spec.example)
            message, hint, fields = argument_advice(name, exc.__cause__, example, self._names(name), call)
            audit = Call(
                name, caller_of(rt), arguments, spec.scope, durable=not spec.annotations.read_only_hint
            )
            try:
                await audited(rt, audit, _raising(InvalidInput(message, hint, fields=fields)))
            except MlgateError as err:
                raise ToolError(str(err)) from None
            raise  # pragma: no cover - audited re-raises


def _raising(error: MlgateError) -> Callable[[], Awaitable[Any]]:
    async def body() -> Any:
        raise error

    return body
