"""Typed model tools: a listed version as a tool of its own (``MLGATE_MODEL_TOOLS``).

A generic ``ml_predict`` takes ``{feature: value}`` records a model must first learn from
``ml_model_info``. An operator can publish the versions agents should see as tools whose
input schema *is* the version's signature: ``predict_churn`` takes ``records`` of one closed
object each, every feature a typed property with its training range. The call is the
generic tool's call — the typed tool hands ``model=<ref>`` and its arguments to the guarded
``ml_predict`` / ``ml_classify`` / ``ml_forecast`` — so scopes, halts, admission, ledger rows
(``ml_predict``, with the ref) and capture are exactly those.

When an alias moves (``ml_promote``, ``ml_rollback``, a retrain job, or another process) to a
version whose signature differs, the tool's schema changes and connected clients are told
(``notifications/tools/list_changed``: on the ``subscriptions/listen`` bus and to each
session that called a tool).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fnmatch
import functools
import json
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

import anyio
from mcp.server.mcpserver import Context
from mcp.shared.subscriptions import ToolsListChanged

from mlgate.errors import MlgateError
from mlgate.schemas.catalog import FeatureInfo
from mlgate.server.gate import GateServer, ToolSpec, guard
from mlgate.server.listing import lean_input
from mlgate.tools.context import Batch

log = logging.getLogger("mlgate.model_tools")

VERBS = {"predictor": ("predict", "ml_predict"), "classifier": ("classify", "ml_classify")}
FORECAST = ("forecast", "ml_forecast")
JSON_TYPES = {
    "double": "number",
    "float": "number",
    "long": "integer",
    "integer": "integer",
    "boolean": "boolean",
    "string": "string",
    "datetime": "string",
}
# calls after which an alias may point elsewhere (legacy dotted names included)
MOVES_ALIASES = frozenset({"ml_promote", "ml_rollback", "ml_job", "ml.promote", "ml.rollback", "ml.job"})
STALE_S = 60.0  # tools/list re-reads the registry at most this often (an alias moved by another process)
BUDGET_SEEN, BUDGET_ALL = 20 * 1024, 32 * 1024
SUMMARY = 80  # characters of the model's description a typed tool carries


def tool_name(verb: str, model: str) -> str:
    """``predict_<name>``: characters outside ``[a-zA-Z0-9_-]`` → ``_``, at most 64 characters."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", f"{verb}_{model}")[:64]


@dataclass(frozen=True)
class Published:
    name: str
    ref: str
    generic: str  # ml_predict / ml_classify / ml_forecast
    schema: dict[str, Any]
    description: str
    classes: tuple[str, ...] = ()  # a classifier's labels: the output's enum
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (feature, its training categories)

    @property
    def shape(self) -> str:
        return json.dumps([self.generic, self.schema, self.description, self.classes], sort_keys=True)


def feature_schema(f: FeatureInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"type": JSON_TYPES.get(f.type, "string")}
    if f.type == "datetime":
        out["format"] = "date-time"
    if f.categories and f.type == "string":
        out["enum"] = list(f.categories)
        return out
    said = []  # the training range, then the unit its team declared ("0..120 years")
    if f.min is not None and f.max is not None:
        said.append(f"{f.min:.3g}..{f.max:.3g}")
    if f.unit:
        said.append(f.unit)
    if said:  # the server instructions say what the range is
        out["description"] = " ".join(said)
    return out


def check_categories(batch: Any, categories: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    """A string outside a feature's training categories is refused, naming the feature and the allowed
    values (a value of another type is left to the type check that follows)."""
    from mlgate.errors import InvalidInput
    from mlgate.records.columns import is_columnar

    columnar = is_columnar(batch)
    cols = batch.get("columns") if columnar else None
    rows = batch.get("rows") if columnar else batch
    if not isinstance(rows, list) or (columnar and not isinstance(cols, list)):
        return  # the shape check that follows says what is wrong
    for name, allowed in categories:
        j = cols.index(name) if cols is not None and name in cols else None
        if columnar and j is None:
            continue
        known = frozenset(allowed)
        for i, row in enumerate(rows):
            if j is not None:
                v = row[j] if isinstance(row, list) and j < len(row) else None
            else:
                v = row.get(name) if isinstance(row, dict) else None
            if isinstance(v, str) and v not in known:
                raise InvalidInput(
                    f"record {i}, feature {name!r}: {v!r:.40} is not one of its training categories",
                    f"send one of: {', '.join(map(repr, allowed))}",
                    fields=[f"features[{i}].{name}"],
                )


def records_schema(features: list[FeatureInfo]) -> dict[str, Any]:
    record = {
        "type": "object",
        "properties": {f.name: feature_schema(f) for f in features},
        "required": [f.name for f in features],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "records": {"type": "array", "items": record, "minItems": 1},
            "keys": {"type": "array", "items": {"type": "string"}},  # ml_predict's keys, described there
        },
        "required": ["records"],
        "additionalProperties": False,
    }


async def resolve(server: GateServer, patterns: list[str]) -> list[Published]:
    """The tools ``patterns`` (``name@alias``, ``demand-*@production``, ``churn@3``) name now."""
    from mlgate.lifecycle import catalog

    rt = server.runtime
    names = sorted({v.name for v in await rt.models.list_versions()})
    out: dict[str, Published] = {}
    for pattern in patterns:
        base, at, alias = pattern.rpartition("@")
        if not at or not base or not alias:
            raise MlgateError(f"MLGATE_MODEL_TOOLS: {pattern!r} is not name@alias", "e.g. churn@production")
        for name in [n for n in names if fnmatch.fnmatchcase(n, base)]:
            ref = f"{name}@{alias}"
            try:
                info = await catalog.model_info(rt, ref)
            except MlgateError as exc:  # a model matched by a pattern without that alias
                log.info("MLGATE_MODEL_TOOLS: %s is not published: %s", ref, exc)
                continue
            pub = _published(ref, info, server)
            if pub is None:
                continue
            if pub.name in out and out[pub.name].ref != ref:
                raise MlgateError(
                    f"MLGATE_MODEL_TOOLS: {out[pub.name].ref} and {ref} would both be the tool {pub.name}",
                    "list one of them, or rename a model",
                )
            published = getattr(server, "published", {})
            if pub.name in server.specs and pub.name not in published:
                raise MlgateError(f"MLGATE_MODEL_TOOLS: {pub.name} is already a tool", "rename the model")
            out[pub.name] = pub
    return list(out.values())


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """``{anyOf: [{type: T, …}, {type: null}]}`` → ``{type: [T, null], …}`` (the same schema, shorter), without
    the argument's prose."""
    out = {k: v for k, v in prop.items() if k != "description"}
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (one,) = [o for o in options if o != {"type": "null"}]
        if isinstance(one.get("type"), str):
            out.pop("anyOf")
            out = {**one, **out, "type": [one["type"], "null"]}
    return out


def _future_rows(schema: dict[str, Any], form: Any) -> None:
    """The typed forecast tool's ``future``: closed rows of the version's own future columns for a model
    that takes them (its horizon and history go); for a horizon model, no ``future`` at all."""
    props = schema["properties"]
    columns = list(getattr(form, "future_columns", None) or [])
    if getattr(form, "form", "horizon") != "future" or not columns:
        props.pop("future", None)
        return
    for name in ("horizon", "history"):
        props.pop(name, None)
    row = {
        "type": "object",
        "properties": {c: {"type": ["number", "string"]} for c in columns},
        "required": columns,
        "additionalProperties": False,
    }
    props["future"] = {"type": "array", "items": row, "description": "One row per future step."}
    schema["required"] = ["future"]


def _published(ref: str, info: Any, server: GateServer) -> Published | None:
    kinds = list(info.interfaces)
    classes: tuple[str, ...] = ()
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if "forecaster" in kinds:
        verb, generic = FORECAST
        generic_tool = server._tool_manager.get_tool(generic)
        assert generic_tool is not None
        schema = lean_input(generic_tool.parameters)
        schema["properties"].pop("model", None)
        schema["required"] = [r for r in schema.get("required", []) if r != "model"]
        schema["additionalProperties"] = False
        for name, prop in schema["properties"].items():  # ml_forecast describes its arguments once
            schema["properties"][name] = _nullable(prop)
        _future_rows(schema, getattr(info, "forecast", None))
    else:
        kind = next((k for k in kinds if k in VERBS), None)
        if kind is None or not info.features:
            log.info("MLGATE_MODEL_TOOLS: %s offers no predictor/classifier/forecaster; not published", ref)
            return None
        verb, generic = VERBS[kind]
        schema = records_schema(info.features)
        classes = tuple(info.classes or ()) if kind == "classifier" else ()
        categories = tuple(
            (f.name, tuple(f.categories)) for f in info.features if "enum" in feature_schema(f)
        )
    return Published(
        tool_name(verb, info.model.name),
        ref,
        generic,
        schema,
        summary(ref, info.description),
        classes,
        categories,
    )


def summary(ref: str, said: str | None) -> str:
    """A typed tool's description: the ref and the model's first sentence (at most ``SUMMARY`` characters);
    what the tool does is its name's verb, how it is called is its schema (the server instructions say the
    rest once, for all of them)."""
    line = ((said or "").strip().splitlines() or [""])[0]
    first = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0].rstrip(".")
    if len(first) > SUMMARY:
        first = first[: SUMMARY - 1].rsplit(" ", 1)[0] + "…"
    return f"{ref}: {first}." if first else f"{ref}."


def _body(pub: Published, call: Callable[..., Awaitable[Any]], generic_fn: Any) -> Any:
    """The typed tool's function: the generic guarded call with ``model`` fixed."""
    if pub.generic == "ml_forecast":

        async def forecast(
            ctx: Context[Any, Any],
            horizon: int | None = None,
            history: list[float] | None = None,
            levels: list[float] | None = None,
            key: str | None = None,
            future: list[dict[str, Any]] | None = None,
        ) -> Any:
            args = {"horizon": horizon, "history": history, "levels": levels, "key": key, "future": future}
            sent = {k: v for k, v in args.items() if v is not None}
            return await call(model=pub.ref, ctx=ctx, **sent)

        forecast.__annotations__["return"] = get_type_hints(generic_fn)["return"]
        return forecast

    async def records(
        records: Batch,
        ctx: Context[Any, Any],
        keys: list[str] = [],  # noqa: B006
    ) -> Any:
        return await call(model=pub.ref, features=records, keys=keys, ctx=ctx)

    records.__annotations__["return"] = get_type_hints(generic_fn)["return"]
    return records


def _checked(fn: Callable[..., Awaitable[Any]], categories: Any) -> Callable[..., Awaitable[Any]]:
    """The generic tool's function, refusing a category outside the training set first (inside the guard:
    the refusal is an audited isError result)."""

    @functools.wraps(fn)
    async def checked(**kwargs: Any) -> Any:
        check_categories(kwargs.get("features"), categories)
        return await fn(**kwargs)

    return checked


class ModelToolsServer(GateServer):
    """``GateServer`` plus the typed model tools of ``MLGATE_MODEL_TOOLS``, kept current."""

    patterns: list[str]
    published: dict[str, Published]
    _refreshed: float = 0.0

    def use_model_tools(self, patterns: list[str], generic: dict[str, ToolSpec]) -> None:
        self.patterns, self.published, self._generic = patterns, {}, generic
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = anyio.Lock()

    async def refresh(self) -> bool:
        """Re-read what the patterns name; (re)register changed tools. True when the listing changed.
        One refresh at a time: the start, a stale listing and a promotion must not register a tool twice."""
        if not self.patterns:
            return False
        async with self._lock:
            return await self._refresh()

    async def _refresh(self) -> bool:
        self._refreshed = time.monotonic()
        now = {p.name: p for p in await resolve(self, self.patterns)}
        changed = False
        for name in set(self.published) - set(now):
            self.remove_tool(name)
            self.specs.pop(name, None)
            changed = True
        for name, pub in now.items():
            old = self.published.get(name)
            if old is not None and old.shape == pub.shape:
                continue
            if old is not None:
                self.remove_tool(name)
            self._register(pub)
            changed = True
        self.published = now
        if changed:
            self._listing = None
        return changed

    def _register(self, pub: Published) -> None:
        spec = self._generic[pub.generic]
        if pub.categories:
            spec = dataclasses.replace(spec, fn=_checked(spec.fn, pub.categories))
        body = _body(pub, guard(spec), spec.fn)
        body.__doc__ = pub.description
        self.add_tool(
            body,
            name=pub.name,
            description=pub.description,
            annotations=spec.annotations,
            structured_output=True,
        )
        tool = self._tool_manager.get_tool(pub.name)
        assert tool is not None
        tool.parameters = pub.schema
        if pub.classes and tool.output_schema is not None:
            out = copy.deepcopy(tool.output_schema)
            out["properties"]["labels"]["items"] = {"type": "string", "enum": list(pub.classes)}
            tool.fn_metadata.output_schema = out
            vars(tool).pop("output_schema", None)  # the SDK caches the schema it read first
        # argument advice for a bad typed call names the typed tool, with no example (the schema is the example)
        self.specs[pub.name] = ToolSpec(pub.name, body, pub.name, spec.scope, spec.annotations)

    async def announce(self) -> None:
        """Tell connected clients the listing changed: the listen bus, and each session seen."""
        await self._subscriptions.publish(ToolsListChanged())
        for session in list(self._sessions):
            try:
                await session.send_tool_list_changed()
            except Exception as exc:  # a session that went away
                log.debug("list_changed not delivered: %s", exc)

    async def list_tools(self) -> Any:
        if self.patterns and time.monotonic() - self._refreshed > STALE_S:
            await self._refresh_and_announce()
        return await super().list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        if self.patterns and context is not None:
            # no request (a direct call) or a session that is not weak-referable: nobody to tell
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                self._sessions.add(context.session)
        try:
            return await super().call_tool(name, arguments, context)
        finally:
            if name in MOVES_ALIASES and self.patterns:
                await self._refresh_and_announce()

    async def _refresh_and_announce(self) -> None:
        try:
            changed = await self.refresh()
            if changed:
                await self.announce()
        except (
            Exception
        ) as exc:  # keep serving the tools as they were (the call's own result stands); say why
            log.warning("typed model tools not refreshed: %s", exc)


def weigh(obj: object) -> int:
    """Bytes on the wire: compact JSON, UTF-8 (as the SDK sends a result)."""
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


async def listing_weight(server: GateServer) -> tuple[int, int]:
    """What ``tools/list`` weighs: the whole listing and what a model reads (name, description, input)."""
    tools = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await server.list_tools()]
    seen = [{k: t[k] for k in ("name", "description", "inputSchema") if k in t} for t in tools]
    return weigh(tools), weigh(seen)


def weight_line(tools: int, typed: int, full: int, seen: int) -> tuple[int, str]:
    """The start's log line on the listing's weight: a warning naming how far over budget it is."""
    over = [
        f"{what} {got - limit} bytes over its {limit}"
        for what, got, limit in (("the listing", full, BUDGET_ALL), ("what a model reads", seen, BUDGET_SEEN))
        if got > limit
    ]
    said = (
        f"tools/list weighs {full} bytes, what a model reads (names, descriptions, input schemas) {seen} "
        f"bytes: {tools} tools, {typed} typed model tools (budget {BUDGET_ALL} and {BUDGET_SEEN})"
    )
    if not over:
        return logging.INFO, said
    return logging.WARNING, f"{said}; {' and '.join(over)}: publish fewer model tools (MLGATE_MODEL_TOOLS)"


async def publish_model_tools(server: ModelToolsServer) -> None:
    """At start: the typed tools (a collision or a malformed pattern stops the server), then the weight."""
    if server.patterns and not server.published:
        await server.refresh()
    full, seen = await listing_weight(server)
    log.log(*weight_line(len(await server.list_tools()), len(server.published), full, seen))
