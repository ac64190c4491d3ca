"""Over stdio: answer ``initialize`` first, import and build the server after.

A client (Claude Desktop, VS Code) spawns ``mlgate serve`` and waits for the answer to
``initialize`` at every start. That answer is the server's name, version, instructions and
capabilities: all static. Building the real server first imports SQLAlchemy, NumPy and every
tool module (~0.5 s on a quiet machine, as much again as the MCP SDK itself). So ``serve_front``
drives the SDK's connection loop with a bare low-level server that knows only ``INIT``; the first
other message (usually ``notifications/initialized``) builds the real server, and the bare one
takes over its state (handlers, middleware, extensions) before that message is dispatched.

``INIT`` must equal what the built server would answer: ``tests/server/test_front.py`` holds them
to each other. This module imports nothing heavy; keep it so (``tests/test_imports.py``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.lowlevel.server import Server
from mcp.server.models import InitializationOptions
from mcp_types import (
    CompletionsCapability,
    PromptsCapability,
    ResourcesCapability,
    ServerCapabilities,
    ToolsCapability,
)

from mlgate import __version__
from mlgate.server.instructions import INSTRUCTIONS

INIT = InitializationOptions(
    server_name="mlgate",
    server_version=__version__,
    title="mlgate",
    instructions=INSTRUCTIONS,
    capabilities=ServerCapabilities(
        prompts=PromptsCapability(list_changed=False),
        resources=ResourcesCapability(subscribe=False, list_changed=False),
        tools=ToolsCapability(list_changed=False),
        completions=CompletionsCapability(),
        extensions={"io.modelcontextprotocol/ui": {}},
    ),
)

SILENT_CLIENT_S = 10.0  # a client that connects and says nothing still gets a warm server after this

Build = Callable[[], Any]  # () -> the built MCPServer (its lifespan yields the runtime)


class Front:
    """The bare server, and the middleware that builds the real one on the first message after
    ``initialize`` (outermost, and kept outermost: it also hands every request the real lifespan)."""

    def __init__(self, build: Build) -> None:
        self.build = build
        self.server: Server[Any] = Server(
            "mlgate", version=__version__, title="mlgate", instructions=INSTRUCTIONS
        )
        self.server.middleware = [self]
        self.built: Any = None
        self.state: Any = None  # what the real server's lifespan yielded
        self._lock = anyio.Lock()
        self.taken_over = anyio.Event()  # the real server serves (its lifespan entered)
        self._stop = anyio.Event()

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "initialize":
            return await call_next(ctx)
        if self.built is None:
            chain = await self._take_over()  # this message was composed for the bare server's middleware
            return await chain(dataclasses.replace(ctx, lifespan_context=self.state), call_next)
        await self.taken_over.wait()  # a message racing the first one: not before the lifespan yielded
        return await call_next(dataclasses.replace(ctx, lifespan_context=self.state))

    async def ready(self) -> Any:
        """The real server, built now if no message has built it yet."""
        if self.built is None:
            await self._take_over()
        return self.built

    async def _take_over(self) -> Any:
        async with self._lock:
            if self.built is None:
                built = self.build()
                inner = built._lowlevel_server
                rest = list(inner.middleware)
                inner.middleware = [self, *rest]
                self.server.__dict__.update(inner.__dict__)  # handlers, middleware, extensions, lifespan
                self.built = built
                self._tg.start_soon(self._lifespan, inner)
                await self.taken_over.wait()
        return functools.partial(_through, list(self.server.middleware[1:]))

    async def _lifespan(self, inner: Server[Any]) -> None:
        async with inner.lifespan(inner) as state:
            self.state = state
            self.taken_over.set()
            await self._stop.wait()

    async def serve(self, after: Callable[[Front], Any] | None = None) -> None:
        """Serve stdio until the client leaves; ``after(front)`` runs beside it (the warm-up)."""
        from mcp.server.runner import serve_dual_era_loop
        from mcp.server.stdio import stdio_server

        async with anyio.create_task_group() as tg:
            self._tg = tg
            if after is not None:
                tg.start_soon(after, self)
            async with stdio_server() as (read, write):
                await serve_dual_era_loop(self.server, read, write, lifespan_state=None, init_options=INIT)
            self._stop.set()
            tg.cancel_scope.cancel()


async def _through(middleware: list[Any], ctx: Any, call_next: Any) -> Any:
    """``ctx`` through ``middleware`` (outermost first), then ``call_next``."""
    call = call_next
    for mw in reversed(middleware):
        call = functools.partial(_apply, mw, call)
    return await call(ctx)


async def _apply(mw: Any, call_next: Any, ctx: Any) -> Any:
    return await mw(ctx, call_next)
