"""A lean ``tools/list``: schemas that carry the contract without prose.

Tool schemas are paid for in every conversation's context and clients cap them. The
listing keeps what an agent acts on — each tool's description (with one example), its
arguments with their descriptions, types and limits, and the shape of its result — and
drops what pydantic adds for humans reading code: auto-generated titles, per-field prose and
examples and the ``required`` list in output schemas, string length caps and defaults that say
nothing in input schemas, the hints a read-only tool does not
need, and the inner structure of nested result objects (the ``model``
stamp's fields are named in the server instructions; all are documented in the README and
validated on the server).
"""

from __future__ import annotations

import inspect
from typing import Any

from mcp_types import Tool, ToolAnnotations

_PROSE = ("title", "description", "examples", "default")


def _strip(node: Any, drop: tuple[str, ...], *, names: bool = False) -> Any:
    """``node`` without the keys in ``drop``; the keys of a ``properties`` map are field names, kept."""
    if isinstance(node, dict):
        return {
            k: _strip(v, drop, names=(k == "properties" and not names))
            for k, v in node.items()
            if names or k not in drop
        }
    if isinstance(node, list):
        return [_strip(v, drop) for v in node]
    return node


def _shallow(node: Any) -> Any:
    """References to nested result objects become a bare object type (the server instructions and the
    README give their fields; the server validates them)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return {"type": "object"}
        return {k: _shallow(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_shallow(v) for v in node]
    return node


def _compact(node: Any, *, names: bool = False) -> Any:
    """Equivalent, shorter JSON Schema: ``anyOf [{type: T}, {type: null}]`` → ``type: [T, null]``;
    defaults that say nothing (null, ``additionalProperties: true``) dropped."""
    if isinstance(node, list):
        return [_compact(v) for v in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {k: _compact(v) for k, v in node.items()}
    out = {
        k: _compact(v, names=(k == "properties"))
        for k, v in node.items()
        if not (k == "default" and v is None) and not (k == "additionalProperties" and v is True)
    }
    options = out.get("anyOf")
    if isinstance(options, list) and all(isinstance(o, dict) and set(o) == {"type"} for o in options):
        out.pop("anyOf")
        out["type"] = [o["type"] for o in options]
    return out


def _unsaid(node: Any, *, names: bool = False) -> Any:
    """Without string length caps (the server enforces them and says so in its error) and without
    defaults that an absent argument means anyway (``false``, ``[]``)."""
    if isinstance(node, list):
        return [_unsaid(v) for v in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {k: _unsaid(v) for k, v in node.items()}
    return {
        k: _unsaid(v, names=(k == "properties"))
        for k, v in node.items()
        if k != "maxLength" and not (k == "default" and (v is False or v == []))
    }


def lean_input(schema: dict[str, Any]) -> dict[str, Any]:
    out = _strip(schema, ("title",))
    for prop in out.get("properties", {}).values():
        prop.pop("examples", None)  # the tool's description carries one example for all its arguments
    if not out.get("properties"):  # no arguments: say so, as strict clients (OpenAI's) require
        out["additionalProperties"] = False
    return dict(_unsaid(_compact(out)))


def lean_output(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if not schema:
        return schema
    out = _compact(_strip(_shallow({k: v for k, v in schema.items() if k != "$defs"}), _PROSE))
    for name, prop in out.get("properties", {}).items():  # each field: its type (and a closed set of items)
        out["properties"][name] = {
            k: v
            for k, v in prop.items()
            if k in ("type", "anyOf") or (k == "items" and isinstance(v, dict) and "enum" in v)
        }
    out.pop("required", None)  # the server validates results; a client needs the names and types
    return dict(out)


def lean_annotations(hints: ToolAnnotations | None) -> ToolAnnotations | None:
    """A read-only tool's ``destructiveHint`` and ``idempotentHint`` mean nothing (MCP spec: they
    apply only when ``readOnlyHint`` is false), so they are not sent."""
    if hints is None or not hints.read_only_hint:
        return hints
    return hints.model_copy(update={"destructive_hint": None, "idempotent_hint": None})


def lean_tool(tool: Tool) -> Tool:
    return tool.model_copy(
        update={
            "description": inspect.cleandoc(tool.description or ""),
            "input_schema": lean_input(tool.input_schema),
            "output_schema": lean_output(tool.output_schema),
            "annotations": lean_annotations(tool.annotations),
        }
    )
