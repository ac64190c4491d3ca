"""Bindings: how a skill step names a value — ``$inputs.features``, ``$regime.labels.0``.

A binding is a string that starts with ``$``: a source (``inputs`` or a step id), then
dot-separated keys or list indexes (``-1`` is the last item). ``$$`` at the start is a
literal ``$``. Argument values may nest bindings inside lists and objects.

Resolution works on plain JSON (the step results as the tools return them), so a
step receives exactly what an agent calling the tool by hand would send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlgate.errors import InvalidInput

INPUTS = "inputs"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_INDEX = re.compile(r"^-?[0-9]{1,6}$")


@dataclass(frozen=True, slots=True)
class Binding:
    source: str  # "inputs" or a step id
    path: tuple[str | int, ...]
    text: str

    @property
    def field(self) -> str | int | None:
        """The first key after the source (the input name, or the result field of a step)."""
        return self.path[0] if self.path else None


def parse_binding(text: str) -> Binding:
    """``$source.key.0`` → Binding; ``ValueError`` with the reason when malformed."""
    if not text.startswith("$") or text.startswith("$$"):
        raise ValueError(f"{text!r} is not a binding (bindings start with '$')")
    parts = text[1:].split(".")
    source, rest = parts[0], parts[1:]
    if not _IDENT.match(source):
        raise ValueError(f"binding {text!r}: {source!r} is not an input or step name")
    path: list[str | int] = []
    for part in rest:
        if _INDEX.match(part):
            path.append(int(part))
        elif _IDENT.match(part):
            path.append(part)
        else:
            raise ValueError(f"binding {text!r}: {part!r} is neither a key nor a list index")
    if source == INPUTS and (not path or not isinstance(path[0], str)):
        raise ValueError(f"binding {text!r} names no input: write '$inputs.<name>'")
    return Binding(source, tuple(path), text)


def is_binding(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$") and not value.startswith("$$")


def bindings_in(value: Any) -> Iterator[str]:
    """Every binding string inside an argument value (lists and objects are walked)."""
    if is_binding(value):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from bindings_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from bindings_in(item)


def lookup(binding: Binding, scope: Mapping[str, Any]) -> Any:
    """The value a binding names in ``scope`` ({"inputs": {...}, step id: result JSON})."""
    value = scope[binding.source]
    walked = "$" + binding.source
    for key in binding.path:
        if isinstance(key, int):
            if not isinstance(value, list):
                raise InvalidInput(f"{walked} is not a list, so {binding.text} cannot index it")
            if not -len(value) <= key < len(value):
                raise InvalidInput(
                    f"{binding.text}: index {key} is out of range ({walked} has {len(value)} items)"
                )
            value = value[key]
        else:
            if not isinstance(value, dict) or key not in value:
                raise InvalidInput(f"{binding.text}: {walked} has no key {key!r}")
            value = value[key]
        walked += f".{key}"
    return value


def substitute(value: Any, scope: Mapping[str, Any]) -> Any:
    """An argument value with every binding replaced by what it names."""
    if isinstance(value, str):
        if value.startswith("$$"):
            return value[1:]
        if value.startswith("$"):
            return lookup(parse_binding(value), scope)
        return value
    if isinstance(value, list):
        return [substitute(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, scope) for k, v in value.items()}
    return value
