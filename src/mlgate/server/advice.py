"""Argument errors as advice: which argument, what was expected, a valid example.

pydantic's own text (``1 validation error for predictArguments … [type=missing,
input_value=…] … https://errors.pydantic.dev/…``) names internal classes, echoes the
caller's data and links to pydantic's docs. An agent needs the argument's name, what it
should be, and arguments it can copy: for an inference tool called on a model, that model's own
example (its features, its form of forecast), not the tool's generic one.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

MAX_PROBLEMS = 5

_EXPECTED = {
    "missing": "is required",
    "extra_forbidden": "is not an argument of this tool",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "finite_number": "must be a finite number",
}


def _where(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, str) and part.endswith("-form"):  # a union arm's tag (tools/context.py)
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "the arguments"


def _expected(err: Any) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the listed values')}"
    if kind in ("too_short", "too_long"):
        limit = ctx.get("min_length", ctx.get("max_length"))
        side = "at least" if kind == "too_short" else "at most"
        return f"must have {side} {limit} item(s)"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"must be at least {ctx.get('min_length')} characters"
    for key, word in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
        if key in ctx:
            return f"must be {word} {ctx[key]}"
    return str(err.get("msg", "is not valid")).split("[", 1)[0].strip().lower()


async def example_for(
    rt: Any, tool: str, arguments: dict[str, Any], default: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """(tool, arguments) of a valid call: the named model's own example (``ml_model_info``) when ``tool`` is an
    inference tool and the arguments name a model that resolves; else ``tool`` with its generic example."""
    from mlgate.errors import MlgateError
    from mlgate.schemas.interfaces import TOOL_OF

    model = arguments.get("model") if isinstance(arguments, dict) else None
    if tool not in TOOL_OF.values() or not isinstance(model, str) or not model.strip():
        return tool, default
    from mlgate.lifecycle.catalog import model_info

    try:
        info = await model_info(rt, model.strip())
    except MlgateError:
        return tool, default
    own = [TOOL_OF[i] for i in info.interfaces if i in TOOL_OF]
    if not info.example or not own:
        return tool, default
    return (tool if tool in own else own[0]), {**info.example, "model": model.strip()}


def argument_advice(
    tool: str,
    exc: ValidationError,
    example: dict[str, Any],
    known: frozenset[str] = frozenset(),
    call: str | None = None,
) -> tuple[str, str, list[str]]:
    """(message, hint, fields) for an ``InvalidInput`` from the validation errors of ``tool``'s arguments;
    ``call``: the tool the example is for, when the named model is served by another one.

    ``fields`` are the paths for the ledger: a name the caller chose (a stray argument, a dict key)
    is not in ``known`` (the names of the tool's schema) and becomes ``*``."""
    problems, fields = [], []
    for err in exc.errors(include_url=False, include_input=False)[:MAX_PROBLEMS]:
        problems.append(f"'{_where(tuple(err['loc']))}' {_expected(err)}")
        loc = tuple(
            p if isinstance(p, int) or p in known or p.endswith("-form") else "*" for p in err["loc"]
        )  # a union arm's tag is the schema's, not the caller's: _where drops it
        fields.append(_where(loc))
    more = len(exc.errors()) - MAX_PROBLEMS
    message = f"{tool}: " + "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
    other = f"{call} " if call and call != tool else ""
    hint = f"a valid call: {other}{json.dumps(example)}" if example else "call it with no arguments"
    return message, hint, fields


def schema_names(schema: Any) -> frozenset[str]:
    """Every property name declared anywhere in a JSON schema (nested objects and ``$defs`` too)."""
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(props)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(names)
