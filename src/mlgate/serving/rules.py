"""Guard rule packs: the YAML model, its validation, and loading.

A pack is a YAML file::

    description: what this pack is for          # optional
    rules:
      - name: ood-zscore                        # required, unique within the pack
        kind: zscore                            # zscore | range | shape | breaker
        mode: warn                              # refuse (the default) | warn
        models: ["*"]                           # globs on the model name ("name@version" if
                                                # the glob has an "@"); default: every model
        threshold: 8

The packaged ``mlgate/rules/default.yaml`` always loads first, then the file or the
folder of ``*.yaml`` / ``*.yml`` files (read in name order) that ``MLGATE_RULES``
names. A rule whose name repeats an earlier rule's replaces it where it stood;
``enabled: false`` switches a rule off. Every key is checked (pydantic,
``extra="forbid"``): a typo is a ``ConfigError`` naming the file and the key, and
the server refuses to start rather than run without the guard the operator meant.

``compile_plan`` turns the rules that apply to one version into a ``Plan``: bound
arrays over its feature columns (a z-score rule becomes ``mean ± threshold·std``),
which ``guards.Guards.check_rows`` caches per (model name, version).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from mlgate.domain import VersionInfo
from mlgate.errors import ConfigError

Mode = Literal["refuse", "warn"]
F64 = npt.NDArray[np.float64]
PACK_SUFFIXES = (".yaml", ".yml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    mode: Mode = "refuse"
    models: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    enabled: bool = True
    description: str = ""

    def matches(self, name: str, version: int | str | None = None) -> bool:
        """Whether this rule applies to model ``name`` (at ``version``)."""
        return any(_glob(p).match(name if "@" not in p else f"{name}@{version}") for p in self.models)


class ZScoreRule(_Rule):
    """Out-of-distribution guard: ``|x - mean| / std > threshold`` against the
    version's training statistics. Features without statistics are skipped; a
    feature that was constant in training (``std == 0``) fires on any other value."""

    kind: Literal["zscore"]
    threshold: float = Field(gt=0, allow_inf_nan=False)
    features: list[str] | None = None  # only these features (default: all with statistics)


class Bound(_Strict):
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class RangeRule(_Rule):
    """Absolute bounds per feature (inclusive); features the model lacks are skipped."""

    kind: Literal["range"]
    bounds: dict[str, Bound] = Field(min_length=1)


class ShapeRule(_Rule):
    """At most ``max_rows`` rows per call; the signature has these ``features`` / this many."""

    kind: Literal["shape"]
    max_rows: int | None = Field(default=None, ge=1)
    features: list[str] | None = Field(default=None, min_length=1)
    n_features: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.max_rows is None and self.features is None and self.n_features is None:
            raise ValueError("a shape rule needs max_rows, features or n_features")
        return self


class BreakerRule(_Rule):
    """``failures`` failed calls within ``window_s`` seconds open the breaker; after
    ``cooldown_s`` one probe call is let through: success closes it, failure re-opens it."""

    kind: Literal["breaker"]
    failures: int = Field(ge=1)
    window_s: float = Field(gt=0, allow_inf_nan=False)
    cooldown_s: float = Field(gt=0, allow_inf_nan=False)


Rule = Annotated[ZScoreRule | RangeRule | ShapeRule | BreakerRule, Field(discriminator="kind")]


class RulePack(_Strict):
    description: str = ""
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}; names must be unique within a pack")
            seen.add(rule.name)
        return self


_GLOBS: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    found = _GLOBS.get(pattern)
    if found is None:
        found = _GLOBS[pattern] = re.compile(fnmatch.translate(pattern))
    return found


# -- loading ---------------------------------------------------------------------------
DEFAULT_PACK = "<mlgate>/rules/default.yaml"


def default_pack() -> RulePack:
    text = resources.files("mlgate").joinpath("rules", "default.yaml").read_text(encoding="utf-8")
    return parse_pack(text, DEFAULT_PACK)


def pack_files(path: Path) -> list[Path]:
    """The pack files ``MLGATE_RULES`` names: the file itself, or a folder's ``*.yaml`` in name order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in PACK_SUFFIXES and p.is_file())
    if path.is_file():
        return [path]
    raise ConfigError(
        f"MLGATE_RULES={path}: no such file or folder (give a rule pack file or a folder of *.yaml)"
    )


def load_pack(path: Path) -> RulePack:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"guard rule pack {path}: cannot be read: {err}") from err
    return parse_pack(text, str(path))


def parse_pack(text: str, source: str) -> RulePack:
    """Validate one pack's YAML; every problem is a ``ConfigError`` naming ``source`` and the key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"guard rule pack {source}:{where}: not valid YAML: {problem}") from err
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"guard rule pack {source}: the top level must be a mapping with a 'rules' list")
    try:
        return RulePack.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(_describe(e, data) for e in err.errors())
        raise ConfigError(f"guard rule pack {source}: {problems}") from err


def _describe(err: ErrorDetails, data: dict[str, object]) -> str:
    loc: tuple[object, ...] = tuple(err["loc"])
    kinds = {"zscore", "range", "shape", "breaker"}
    # pydantic puts the discriminator's tag into the location of a tagged union; drop it
    path = [p for i, p in enumerate(loc) if not (i == 2 and loc[0] == "rules" and p in kinds)]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"
    rule = _rule_name(data, path)
    where = f"{key} (rule {rule!r})" if rule and len(path) > 2 else key
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key {path[-1]!r}" if path else f"{where}: unknown key"
    if kind == "union_tag_invalid":
        return f"{where}.kind: unknown rule kind (use one of zscore, range, shape, breaker)"
    if kind == "union_tag_not_found":
        return f"{where}: missing key 'kind' (one of zscore, range, shape, breaker)"
    if kind == "missing":
        return f"{where}: missing required key {path[-1]!r}" if path else f"{where}: missing key"
    return f"{where}: {err['msg']}"


def _rule_name(data: dict[str, object], path: Sequence[object]) -> str | None:
    rules = data.get("rules")
    if (
        len(path) >= 2
        and path[0] == "rules"
        and isinstance(path[1], int)
        and isinstance(rules, list)
        and 0 <= path[1] < len(rules)
        and isinstance(rules[path[1]], dict)
    ):
        name = rules[path[1]].get("name")
        return name if isinstance(name, str) else None
    return None


def merge(packs: Iterable[RulePack]) -> list[Rule]:
    """The enabled rules of ``packs`` in order; a later rule replaces an earlier one of the same name."""
    merged: dict[str, Rule] = {}
    for pack in packs:
        for rule in pack.rules:
            merged[rule.name] = rule  # keeps the first position, takes the last value
    return [r for r in merged.values() if r.enabled]


# -- compiled: what the rules check for one version ------------------------------------
@dataclass(slots=True)
class Bounds:
    """One zscore or range rule compiled for one version: inclusive bounds on some columns."""

    rule: ZScoreRule | RangeRule
    cols: npt.NDArray[np.intp]
    names: list[str]
    lo: F64
    hi: F64
    mean: F64 | None = None
    std: F64 | None = None


@dataclass(slots=True)
class Plan:
    label: str
    n_cols: int  # columns the rows must have (the signature's features)
    row_limit: int  # the fast path stays fast up to here; -1 sends every call to the slow path
    cols: npt.NDArray[np.intp] | None  # columns any bound applies to; None: all of them
    lo: F64 | None  # tightest bounds over every rule; None: no column rule applies
    hi: F64 | None
    shapes: list[tuple[ShapeRule, str | None]]  # rule, what the signature breaks (if anything)
    bounds: list[Bounds]


def compile_plan(rules: Sequence[Rule], info: VersionInfo) -> Plan:
    """What the rules that apply to ``info`` (not breakers) check, precomputed for the hot path."""
    names = [f.name for f in info.features]
    index = {n: i for i, n in enumerate(names)}
    applying = [r for r in rules if r.kind != "breaker" and r.matches(info.name, info.version)]
    applying.sort(key=lambda r: r.mode != "refuse")  # refusals first; stable within a mode
    shapes: list[tuple[ShapeRule, str | None]] = []
    bounds: list[Bounds] = []
    for rule in applying:
        if isinstance(rule, ShapeRule):
            shapes.append((rule, _signature_problem(rule, names)))
        elif isinstance(rule, ZScoreRule):
            found = _zscore_bounds(rule, names, info.stats)
            if found is not None:
                bounds.append(found)
        elif isinstance(rule, RangeRule):
            cols = [index[f] for f in rule.bounds if f in index]
            if cols:
                lo = [_num(rule.bounds[names[c]].min, -math.inf) for c in cols]
                hi = [_num(rule.bounds[names[c]].max, math.inf) for c in cols]
                bounds.append(
                    Bounds(
                        rule, np.array(cols, np.intp), [names[c] for c in cols], np.array(lo), np.array(hi)
                    )
                )
    limits = [r.max_rows for r, _ in shapes if r.max_rows is not None]
    static = any(problem is not None for _, problem in shapes)
    lo_all = np.full(len(names), -math.inf)
    hi_all = np.full(len(names), math.inf)
    for b in bounds:
        np.maximum.at(lo_all, b.cols, b.lo)
        np.minimum.at(hi_all, b.cols, b.hi)
    used = np.flatnonzero(np.isfinite(lo_all) | np.isfinite(hi_all))
    every = len(used) == len(names)
    return Plan(
        label=f"{info.name}@{info.version}",
        n_cols=len(names),
        row_limit=-1 if static else min(limits, default=2**62),
        cols=None if every else used,
        lo=(lo_all if every else lo_all[used]) if len(used) else None,
        hi=(hi_all if every else hi_all[used]) if len(used) else None,
        shapes=shapes,
        bounds=bounds,
    )


def plural(n: float) -> str:
    return "" if n == 1 else "s"


def _num(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def _signature_problem(rule: ShapeRule, names: list[str]) -> str | None:
    if rule.features is not None:
        missing = [f for f in rule.features if f not in names]
        if missing:
            return f"the signature lacks the required feature{plural(len(missing))} {', '.join(map(repr, missing))}"
    if rule.n_features is not None and len(names) != rule.n_features:
        return (
            f"the signature has {len(names)} features, not the {rule.n_features} rule '{rule.name}' requires"
        )
    return None


def _zscore_bounds(rule: ZScoreRule, names: list[str], stats: dict[str, dict[str, float]]) -> Bounds | None:
    cols, means, stds = [], [], []
    for c, name in enumerate(names):
        st = stats.get(name)
        if st is None or (rule.features is not None and name not in rule.features):
            continue
        mean, std = st.get("mean"), st.get("std")
        if mean is None or std is None or not (math.isfinite(mean) and math.isfinite(std)) or std < 0:
            continue
        cols.append(c)
        means.append(float(mean))
        stds.append(float(std))
    if not cols:
        return None
    mean_a, std_a = np.array(means), np.array(stds)
    # a feature constant in training (std 0) accepts only that value, give or take rounding
    width = np.where(std_a > 0, rule.threshold * std_a, 1e-9 * np.maximum(1.0, np.abs(mean_a)))
    return Bounds(
        rule, np.array(cols, np.intp), [names[c] for c in cols], mean_a - width, mean_a + width, mean_a, std_a
    )
