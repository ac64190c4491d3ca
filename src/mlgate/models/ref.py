"""Model references: ``name@3``, ``models:/name/3``, ``name@production``, ``hf:org/repo@<rev>``.

A ``ModelRef`` is what the caller asked for; the resolver turns it into a concrete
version. ``latest`` and bare names float, so they are refused unless the operator
allows them (``MLGATE_ALLOW_LATEST=1``, development only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mlgate.errors import InvalidReference

MAX_NAME = 128
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
_HF_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,95}/[A-Za-z0-9][A-Za-z0-9._\-]{0,95}$")
_HF_REV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
_EXAMPLE = "use 'name@3' (a version), 'name@production' (an alias) or 'models:/name/3'"


@dataclass(frozen=True, slots=True)
class ModelRef:
    """What a caller asked for. Exactly one of ``version`` and ``alias`` is set."""

    name: str
    version: int | None = None
    alias: str | None = None
    source: str = "registry"  # "registry" | "hf"

    @property
    def pinned(self) -> bool:
        return self.version is not None or self.source == "hf"

    def __str__(self) -> str:
        if self.source == "hf":
            return f"hf:{self.name}@{self.alias}"
        return f"{self.name}@{self.version if self.version is not None else self.alias}"


def check_name(name: str, what: str = "model name") -> str:
    """Validate a registered model name: no path separators, no control characters, bounded length."""
    if not name:
        raise InvalidReference(f"empty {what}", _EXAMPLE)
    if len(name) > MAX_NAME:
        raise InvalidReference(f"{what} is {len(name)} characters long; at most {MAX_NAME} are allowed")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidReference(
            f"{what} contains control characters", "send a plain name such as 'demo-regressor'"
        )
    if "/" in name or "\\" in name or name in {".", ".."} or ".." in name:
        raise InvalidReference(f"{what} {name!r} contains a path separator or '..'", _EXAMPLE)
    if not _NAME.match(name):
        raise InvalidReference(
            f"{what} {name!r} has characters outside letters, digits, '.', '_' and '-'", _EXAMPLE
        )
    return name


def parse_ref(text: str, *, allow_latest: bool = False) -> ModelRef:
    """Parse a reference; raises ``InvalidReference`` with what to send instead."""
    if not isinstance(text, str):
        raise InvalidReference("a model reference must be a string", _EXAMPLE)
    return _parse(text.strip(), allow_latest)


@lru_cache(maxsize=4096)
def _parse(text: str, allow_latest: bool) -> ModelRef:
    if len(text) > 300:
        raise InvalidReference("model reference is longer than 300 characters", _EXAMPLE)
    if text.startswith("hf:"):
        return _parse_hf(text[3:])
    if text.startswith("models:/"):
        parts = text[len("models:/") :].split("/")
        if len(parts) != 2:
            raise InvalidReference(f"{text!r} is not of the form 'models:/name/3'", _EXAMPLE)
        name, tail = parts
    elif "@" in text:
        name, _, tail = text.rpartition("@")
    else:
        name, tail = text, ""
    check_name(name)
    if tail == "" or tail.lower() == "latest":
        if allow_latest:
            return ModelRef(name=name, alias="latest")
        raise InvalidReference(
            f"{text!r} does not pin a version ('latest' and bare names float)",
            f"pin it: '{name}@3' or '{name}@production'; list versions with ml_list_models",
        )
    if tail.isdigit():
        version = int(tail)
        if version < 1 or version > 10**9:
            raise InvalidReference(f"version {tail} is out of range", "versions start at 1")
        return ModelRef(name=name, version=version)
    if not _ALIAS.match(tail):
        raise InvalidReference(f"{tail!r} is neither a version number nor a valid alias", _EXAMPLE)
    return ModelRef(name=name, alias=tail)


def _parse_hf(text: str) -> ModelRef:
    repo, sep, rev = text.rpartition("@")
    if not sep or not repo or not rev:
        raise InvalidReference(
            f"'hf:{text}' has no revision", "pull it with ml_pull and use 'hf:org/repo@<commit>'"
        )
    if not _HF_REPO.match(repo) or ".." in repo:
        raise InvalidReference(f"{repo!r} is not a Hub repository id of the form 'org/repo'")
    if not _HF_REV.match(rev):
        raise InvalidReference(f"{rev!r} is not a valid revision", "use the 40-character commit hash")
    return ModelRef(name=repo, alias=rev, source="hf")
