"""TEST-ONLY conformance harness: mlgate's own server and HTTP stack plus the fixtures the official
MCP conformance suite (``@modelcontextprotocol/conformance``) calls by name.

Never imported by the product. It builds the product server with ``build_server``, registers the
suite's fixture tools/resources/prompts (names and texts from the python-sdk's
``examples/servers/everything-server``) on that same ``MCPServer`` object, adds the
``logging/setLevel`` and ``resources/subscribe``/``unsubscribe`` handlers, and serves the result
through mlgate's ``build_http_app`` (stateful sessions, DNS-rebinding protection, auth off) under
uvicorn on 127.0.0.1. The product's own completion handler is left in place.

    python -m tests.conformance.harness --home DIR --port PORT
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import sys
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp_types import (
    AudioContent,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel, Field
from starlette.types import ASGIApp

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.server.http import MCP_PATH, build_http_app
from mlgate.serving.runtime import Runtime

log = logging.getLogger("mlgate.conformance")

# 1x1 PNG and a minimal WAV, as in the SDK's everything-server.
TEST_IMAGE_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


class UserResponse(BaseModel):
    # the schema the suite's tools-call-elicitation scenario specifies (and answers with)
    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


class SEP1034DefaultsSchema(BaseModel):
    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active",
        description="User status",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    verified: bool = Field(default=True, description="Verification status")


class EnumSchemasTestSchema(BaseModel):
    untitledSingle: str = Field(
        description="Simple enum without titles",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    titledSingle: str = Field(
        description="Enum with titled options (oneOf)",
        json_schema_extra={
            "oneOf": [
                {"const": "low", "title": "Low Priority"},
                {"const": "medium", "title": "Medium Priority"},
                {"const": "high", "title": "High Priority"},
            ]
        },
    )
    untitledMulti: list[str] = Field(
        description="Multi-select without titles",
        json_schema_extra={"items": {"type": "string", "enum": ["read", "write", "execute"]}},
    )
    titledMulti: list[str] = Field(
        description="Multi-select with titled options",
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"const": "feature", "title": "New Feature"},
                    {"const": "bug", "title": "Bug Fix"},
                    {"const": "docs", "title": "Documentation"},
                ]
            }
        },
    )
    legacyEnum: str = Field(
        description="Legacy enum with enumNames",
        json_schema_extra={
            "enum": ["small", "medium", "large"],
            "enumNames": ["Small Size", "Medium Size", "Large Size"],
        },
    )


def add_fixtures(server: MCPServer[Any]) -> set[str]:
    """Register the suite's fixtures on ``server``; returns the set of subscribed URIs (for inspection)."""
    subscriptions: set[str] = set()

    # -- tools ---------------------------------------------------------------------------------
    @server.tool(description="Tests simple text content response")
    def test_simple_text() -> str:
        return "This is a simple text response for testing."

    @server.tool(description="Tests image content response")
    def test_image_content() -> list[ImageContent]:
        return [ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")]

    @server.tool(description="Tests audio content response")
    def test_audio_content() -> list[AudioContent]:
        return [AudioContent(type="audio", data=TEST_AUDIO_BASE64, mime_type="audio/wav")]

    @server.tool(description="Tests embedded resource content response")
    def test_embedded_resource() -> list[EmbeddedResource]:
        return [
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri="test://embedded-resource",
                    mime_type="text/plain",
                    text="This is an embedded resource content.",
                ),
            )
        ]

    @server.tool(description="Tests response with multiple content types (text, image, resource)")
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        return [
            TextContent(type="text", text="Multiple content types test:"),
            ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png"),
            EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri="test://mixed-content-resource",
                    mime_type="application/json",
                    text='{"test": "data", "value": 123}',
                ),
            ),
        ]

    # The pauses in the next two tools and in test_reconnection are the scenarios' own (the suite's reference
    # server has them): notifications spread over a call that is still running. Nothing waits for them to
    # pass; the client waits for the call's result.
    @server.tool(description="Tests tool that emits log messages during execution")
    async def test_tool_with_logging(ctx: Context[Any, Any]) -> str:
        await ctx.info("Tool execution started")
        await asyncio.sleep(0.05)
        await ctx.info("Tool processing data")
        await asyncio.sleep(0.05)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @server.tool(description="Tests tool that reports progress notifications")
    async def test_tool_with_progress(ctx: Context[Any, Any]) -> str:
        await ctx.report_progress(progress=0, total=100, message="Completed step 0 of 100")
        await asyncio.sleep(0.05)
        await ctx.report_progress(progress=50, total=100, message="Completed step 50 of 100")
        await asyncio.sleep(0.05)
        await ctx.report_progress(progress=100, total=100, message="Completed step 100 of 100")
        meta: dict[str, Any] = dict(ctx.request_context.meta or {})
        return str(meta.get("progressToken", meta.get("progress_token", 0)))

    @server.tool(description="Tests server-initiated sampling (LLM completion request)")
    async def test_sampling(prompt: str, ctx: Context[Any, Any]) -> str:
        # related_request_id: the request rides this call's POST stream, like ctx.elicit(). Without it the
        # SDK sends it on the standalone GET stream, which the client may not have opened yet (lost -> hang).
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=100,
            related_request_id=ctx.request_context.request_id,
        )
        content = result.content
        return f"LLM response: {content.text if isinstance(content, TextContent) else 'No response'}"

    @server.tool(description="Tests server-initiated elicitation (user input request)")
    async def test_elicitation(message: str, ctx: Context[Any, Any]) -> str:
        result = await ctx.elicit(message=message, schema=UserResponse)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"User response: action={result.action}, content={content}"

    @server.tool(description="Tests elicitation with default values for all primitive types (SEP-1034)")
    async def test_elicitation_sep1034_defaults(ctx: Context[Any, Any]) -> str:
        result = await ctx.elicit(message="Please provide user information", schema=SEP1034DefaultsSchema)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation result: action={result.action}, content={content}"

    @server.tool(description="Tests elicitation with enum schema variations per SEP-1330")
    async def test_elicitation_sep1330_enums(ctx: Context[Any, Any]) -> str:
        result = await ctx.elicit(
            message="Please select values using different enum schema types", schema=EnumSchemasTestSchema
        )
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation completed: action={result.action}, content={content}"

    @server.tool(description="Tests error response handling")
    def test_error_handling() -> str:
        raise RuntimeError("This tool intentionally returns an error for testing")

    @server.tool(description="Tests SSE polling by closing stream mid-call (SEP-1699)")
    async def test_reconnection(ctx: Context[Any, Any]) -> str:
        await ctx.info("Before disconnect")
        await ctx.close_sse_stream()
        await asyncio.sleep(0.2)
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None) -> str:
        return json.dumps({"name": name, "address": address})

    # The suite checks that $schema/$defs/additionalProperties survive tools/list verbatim.
    tool = server._tool_manager.add_tool(
        json_schema_2020_12_tool, description="Tool with JSON Schema 2020-12 features"
    )
    tool.parameters = JSON_SCHEMA_2020_12

    # -- resources -----------------------------------------------------------------------------
    @server.resource(
        "test://static-text", description="A static text resource for testing", mime_type="text/plain"
    )
    def static_text_resource() -> str:
        return "This is the content of the static text resource."

    @server.resource(
        "test://static-binary",
        description="A static binary resource (image) for testing",
        mime_type="image/png",
    )
    def static_binary_resource() -> bytes:
        return base64.b64decode(TEST_IMAGE_BASE64)

    @server.resource(
        "test://template/{id}/data",
        description="A resource template with parameter substitution",
        mime_type="application/json",
    )
    def template_resource(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource(
        "test://watched-resource",
        description="A resource that can be subscribed to for updates",
        mime_type="text/plain",
    )
    def watched_resource() -> str:
        return "Watched resource content"

    # -- prompts -------------------------------------------------------------------------------
    @server.prompt(description="A simple prompt without arguments")
    def test_simple_prompt() -> list[UserMessage]:
        return [
            UserMessage(
                role="user", content=TextContent(type="text", text="This is a simple prompt for testing.")
            )
        ]

    @server.prompt(description="A prompt with required arguments")
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        text = f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
        return [UserMessage(role="user", content=TextContent(type="text", text=text))]

    @server.prompt(description="A prompt that includes an embedded resource")
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
        return [
            UserMessage(
                role="user",
                content=EmbeddedResource(
                    type="resource",
                    resource=TextResourceContents(
                        uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
                    ),
                ),
            ),
            UserMessage(
                role="user",
                content=TextContent(type="text", text="Please process the embedded resource above."),
            ),
        ]

    @server.prompt(description="A prompt that includes image content")
    def test_prompt_with_image() -> list[UserMessage]:
        return [
            UserMessage(
                role="user", content=ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")
            ),
            UserMessage(
                role="user", content=TextContent(type="text", text="Please analyze the image above.")
            ),
        ]

    # -- logging/setLevel and resource subscriptions (no public MCPServer API: low-level server) --
    lowlevel = server._lowlevel_server

    async def set_level(_ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        log.info("log level set to %s", params.level)
        return EmptyResult()

    async def subscribe(_ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        subscriptions.add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(_ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        subscriptions.discard(str(params.uri))
        return EmptyResult()

    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    return subscriptions


def build_app(home: Path, port: int) -> tuple[ASGIApp, Runtime]:
    """mlgate's server + fixtures behind mlgate's HTTP stack, auth off, as ``mlgate serve --http --no-auth``."""
    settings = Settings(home=home, resource_url=f"http://127.0.0.1:{port}{MCP_PATH}")
    runtime = Runtime(settings, transport="http")
    server = build_server(runtime)
    add_fixtures(server)
    return build_http_app(settings, server, runtime, host="127.0.0.1", port=port), runtime


def main(argv: list[str] | None = None) -> int:
    import anyio
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app, runtime = build_app(args.home, args.port)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
    )
    try:
        uvicorn.Server(config).run()
    finally:
        anyio.run(runtime.aclose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
