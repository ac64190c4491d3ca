"""Skill specs: reviewed YAML recipes that chain pinned model calls.

``parse_spec(data, source)`` reads the YAML, validates it with the pydantic models
below and then checks what a schema cannot: every model reference is a concrete
version (no alias, no ``latest``), every binding names a declared input or a step and
a field that step's result has, each step calls a known interface with the arguments
it takes, and the steps have no cycle. Any problem refuses the whole spec, with every
problem listed. Steps run in dependency order (declared order among independent steps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    TypeAdapter,
    ValidationError,
    create_model,
)

from mlgate.errors import InvalidReference, Refused
from mlgate.models.ref import parse_ref
from mlgate.schemas.inference import (
    AnalyzeResult,
    ClassifyResult,
    ForecastResult,
    PredictResult,
    SegmentResult,
)
from mlgate.schemas.interfaces import BY_VERB
from mlgate.skills.bindings import INPUTS, Binding, bindings_in, is_binding, parse_binding

MAX_SPEC_BYTES = 64 * 1024
MAX_STEPS = 32
_SKILL_NAME = r"^[a-z][a-z0-9_\-]{0,63}$"
_STEP_ID = r"^[a-z][a-z0-9_]{0,63}$"
_KEY = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")

InputType = Literal["records", "numbers", "texts", "integer", "number", "string", "boolean"]
_PY_TYPES: dict[str, Any] = {
    "records": Annotated[list[dict[str, Any]], Field(min_length=1)],
    "numbers": Annotated[list[float], Field(min_length=1)],
    "texts": Annotated[list[str], Field(min_length=1)],
    "integer": StrictInt,
    "number": float,
    "string": str,
    "boolean": bool,
}


@dataclass(frozen=True, slots=True)
class Call:
    """One interface a step may call: the tool it mirrors, its arguments, its result."""

    tool: str
    args: dict[str, InputType]  # argument → the input type it accepts
    required: tuple[str, ...]
    result: type[BaseModel]


# One entry per row of the interface table (schemas/interfaces.py); a new interface is a row there, its
# arguments here and a branch in runtime._invoke.
CALLS: dict[str, Call] = {
    "predict": Call(BY_VERB["predict"].tool, {"features": "records"}, ("features",), PredictResult),
    "classify": Call(BY_VERB["classify"].tool, {"features": "records"}, ("features",), ClassifyResult),
    "forecast": Call(
        BY_VERB["forecast"].tool,
        {"history": "numbers", "horizon": "integer", "levels": "numbers"},
        ("history", "horizon"),
        ForecastResult,
    ),
    "segment": Call(BY_VERB["segment"].tool, {"series": "numbers"}, ("series",), SegmentResult),
    "analyze": Call(BY_VERB["analyze"].tool, {"texts": "texts"}, ("texts",), AnalyzeResult),
}

assert set(CALLS) == set(BY_VERB), "every interface of the table has a skill call"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    type: InputType
    description: str = ""
    default: Any = None

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class RouteSpec(_Strict):
    """Choose the step's model from an earlier value: ``route: $regime.labels.0`` + ``map``."""

    route: str = Field(description="a binding whose value (a string) picks the entry of `map`")
    map: dict[str, str] = Field(min_length=1, description="value → pinned model ref")
    default: str | None = Field(default=None, description="pinned ref when the value is not in `map`")


class StepSpec(_Strict):
    id: Annotated[str, Field(pattern=_STEP_ID)]
    call: str = Field(description="the interface: " + ", ".join(CALLS))
    model: str | RouteSpec
    args: dict[str, Any] = Field(default_factory=dict)
    description: str = ""

    def refs(self) -> list[str]:
        if isinstance(self.model, str):
            return [self.model]
        return [*self.model.map.values(), *([self.model.default] if self.model.default else [])]


class SkillSpec(_Strict):
    name: Annotated[str, Field(pattern=_SKILL_NAME)]
    version: Annotated[StrictInt, Field(ge=1)]
    description: Annotated[str, Field(min_length=1)]
    inputs: dict[Annotated[str, Field(pattern=_KEY)], InputSpec] = Field(default_factory=dict)
    steps: list[StepSpec] = Field(min_length=1, max_length=MAX_STEPS)
    outputs: dict[Annotated[str, Field(pattern=_KEY)], str] = Field(min_length=1)
    example: dict[str, Any] | None = Field(
        default=None, description="inputs that work, shown by ml_list_skills"
    )
    _order: list[int] = PrivateAttr(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def ordered_steps(self) -> list[StepSpec]:
        return [self.steps[i] for i in self._order]

    def inputs_model(self) -> type[BaseModel]:
        fields: dict[str, Any] = {
            key: (
                Annotated[_PY_TYPES[spec.type], Field(description=spec.description or None)],
                ... if spec.required else spec.default,
            )
            for key, spec in self.inputs.items()
        }
        return create_model(f"{self.name}_inputs", __config__=ConfigDict(extra="forbid"), **fields)

    def input_schema(self) -> dict[str, Any]:
        return self.inputs_model().model_json_schema()


def spec_error(source: str, problems: list[str]) -> Refused:
    return Refused(
        f"skill spec {source} is invalid: " + "; ".join(problems),
        "fix the spec (see docs/skills.md for the schema); a changed skill needs a new version and `mlgate skills lock`",
    )


def parse_spec(data: bytes, source: str) -> SkillSpec:
    """Parse and check a spec file's bytes; ``Refused`` listing every problem."""
    import yaml

    if len(data) > MAX_SPEC_BYTES:
        raise spec_error(source, [f"{len(data)} bytes is more than the limit of {MAX_SPEC_BYTES}"])
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise spec_error(source, [f"not valid UTF-8 YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise spec_error(
            source, ["the top level must be a mapping (name, version, description, inputs, steps, outputs)"]
        )
    try:
        spec = SkillSpec.model_validate(raw)
    except ValidationError as exc:
        raise spec_error(source, [_where(e["loc"]) + e["msg"] for e in exc.errors()]) from None
    problems = check(spec)
    if problems:
        raise spec_error(source, problems)
    return spec


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) + ": " if loc else ""


def pinned_problem(ref: str) -> str | None:
    """Why ``ref`` is not a concrete version, or None when it is one."""
    try:
        parsed = parse_ref(ref, allow_latest=True)
    except InvalidReference as exc:
        return f"model {ref!r} is not a valid reference: {exc.message}"
    if parsed.source == "hf":
        if not _COMMIT.match(parsed.alias or ""):
            return f"model {ref!r} names a Hub revision that is not a 40-character commit hash"
        return None
    if parsed.alias == "latest":
        kind = "'latest'" if "@" in ref or ref.startswith("models:/") else "a bare name"
        return (
            f"model {ref!r} is {kind}, which floats; a skill pins a concrete version "
            f"such as '{parsed.name}@1'"
        )
    if parsed.version is None:
        return (
            f"model {ref!r} is the alias '{parsed.alias}', which can move; a skill pins a concrete "
            f"version such as '{parsed.name}@1'"
        )
    return None


def check(spec: SkillSpec) -> list[str]:
    """Everything a schema cannot say; sets the step order when there is no problem."""
    problems: list[str] = []
    ids = [s.id for s in spec.steps]
    calls = {s.id: s.call for s in spec.steps}
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"step id {dup!r} is used more than once")
    if INPUTS in ids:
        problems.append(f"a step may not be called {INPUTS!r}")
    deps: dict[str, set[str]] = {s.id: set() for s in spec.steps}

    def binding(text: str, where: str, owner: str | None, expect: str | None = None) -> None:
        try:
            b = parse_binding(text)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            return
        problem = _binding_problem(b, spec, calls, expect)
        if problem:
            problems.append(f"{where}: {problem}")
        elif owner is not None and b.source != INPUTS:
            deps[owner].add(b.source)

    for step in spec.steps:
        where = f"step {step.id!r}"
        call = CALLS.get(step.call)
        if call is None:
            problems.append(f"{where}: unknown interface {step.call!r} (known: {', '.join(CALLS)})")
        else:
            for arg in step.args:
                if arg not in call.args:
                    problems.append(
                        f"{where} ({step.call}): unknown argument {arg!r} (takes: {', '.join(call.args)})"
                    )
            for arg in call.required:
                if arg not in step.args:
                    problems.append(f"{where} ({step.call}): argument {arg!r} is missing")
        for ref in step.refs():
            problem = pinned_problem(ref)
            if problem:
                problems.append(f"{where}: {problem}")
        if isinstance(step.model, RouteSpec):
            if is_binding(step.model.route):
                binding(step.model.route, f"{where} route", step.id)
            else:
                problems.append(
                    f"{where}: route {step.model.route!r} must be a binding such as '$regime.labels.0'"
                )
        for arg, value in step.args.items():
            expect = call.args.get(arg) if call is not None and is_binding(value) else None
            for text in bindings_in(value):
                binding(text, f"{where} argument {arg!r}", step.id, expect if text == value else None)
    for key, text in spec.outputs.items():
        if is_binding(text):
            binding(text, f"output {key!r}", None)
        else:
            problems.append(f"output {key!r}: {text!r} must be a binding such as '$step.field'")
    for key, declared in spec.inputs.items():
        if not declared.required:
            try:
                TypeAdapter(_PY_TYPES[declared.type]).validate_python(declared.default)
            except ValidationError as exc:
                problems.append(f"input {key!r}: default is not {declared.type}: {exc.errors()[0]['msg']}")
    if spec.example is not None:
        try:
            spec.inputs_model().model_validate(spec.example)
        except ValidationError as exc:
            problems += ["example." + _where(e["loc"]) + e["msg"] for e in exc.errors()]
    if not problems:
        order, cycle = _order(ids, deps)
        if cycle:
            problems.append("the steps form a cycle: " + " → ".join(cycle))
        spec._order = order
    return problems


def _binding_problem(b: Binding, spec: SkillSpec, calls: dict[str, str], expect: str | None) -> str | None:
    if b.source == INPUTS:
        name = str(b.field)
        declared = spec.inputs.get(name)
        if declared is None:
            known = ", ".join(spec.inputs) or "none declared"
            return f"{b.text} names no declared input (inputs: {known})"
        if expect is not None and len(b.path) == 1 and declared.type != expect:
            return f"{b.text} is of type {declared.type}, but the argument takes {expect}"
        return None
    if b.source not in calls:
        return f"{b.text} names no input or step (steps: {', '.join(calls)}; inputs are '$inputs.<name>')"
    call = CALLS.get(calls[b.source])
    if call is not None and b.field is not None and b.field not in call.result.model_fields:
        fields = ", ".join(call.result.model_fields)
        return f"{b.text}: a {calls[b.source]} result has no field {b.field!r} (fields: {fields})"
    return None


def _order(ids: list[str], deps: dict[str, set[str]]) -> tuple[list[int], list[str]]:
    """Dependency order (declared order among ready steps), or the cycle that prevents one."""
    done: set[str] = set()
    order: list[int] = []
    while len(order) < len(ids):
        ready = [i for i, s in enumerate(ids) if s not in done and deps[s] <= done]
        if not ready:
            return order, _cycle([s for s in ids if s not in done], deps)
        order.append(ready[0])
        done.add(ids[ready[0]])
    return order, []


def _cycle(left: list[str], deps: dict[str, set[str]]) -> list[str]:
    path = [left[0]]
    while True:
        nxt = sorted(d for d in deps[path[-1]] if d in left)[0]
        if nxt in path:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)
