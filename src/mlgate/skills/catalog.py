"""Where skills come from, and whether each one may run.

Two folders hold spec files (``*.yaml`` / ``*.yml``), each with its own lock file
``skills.lock`` beside the specs: the built-in skills shipped in the package, and the
organisation's own in ``MLGATE_SKILLS_DIR``. A lock vouches only for the specs in its
own folder. A skill may run only when its file's SHA-256 equals the digest its folder's
lock records for the ``name@version`` the file declares, and the spec is valid.

Files are re-read on every listing and run (they are small), so an edited file is
refused at once; the spec is parsed from the very bytes whose digest was checked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.config import Settings
from mlgate.errors import IntegrityError, InvalidReference, MlgateError, NotFound, Refused
from mlgate.schemas.skills import ListSkillsResult, SkillSummary, StepSummary
from mlgate.skills.spec import RouteSpec, SkillSpec, parse_spec

log = logging.getLogger(__name__)

LOCK_FILE = "skills.lock"
LOCK_FORMAT = 1
BUILTIN_DIR = Path(__file__).parent / "builtin"
_SKILL_REF = re.compile(r"^([a-z][a-z0-9_\-]{0,63})@([0-9]{1,9})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_RELOCK = "an operator reviews the spec, gives any change a new version and runs `mlgate skills lock`"
_parsed: dict[tuple[str, str], SkillSpec | MlgateError] = {}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class SpecFile:
    """One spec file as found: its bytes' digest, what its folder's lock says, and whether it is valid."""

    path: Path
    origin: str  # "builtin" | "custom"
    digest: str
    name: str | None
    version: int | None
    locked_digest: str | None
    spec: SkillSpec | None
    problem: MlgateError | None = None  # the spec's own: invalid, duplicated, reusing a built-in's name
    lock_error: MlgateError | None = None  # its folder's lock file is unreadable

    @property
    def source(self) -> str:
        return f"{self.origin}:{self.path.name}"

    @property
    def ref(self) -> str | None:
        return f"{self.name}@{self.version}" if self.name is not None and self.version is not None else None

    @property
    def locked(self) -> bool:
        return self.locked_digest is not None and self.locked_digest == self.digest

    def lock_problem(self) -> MlgateError | None:
        """Why the lock refuses this file (expected and actual digests), or None."""
        if self.lock_error is not None:
            return self.lock_error
        if self.locked:
            return None
        lock = f"{self.origin} {LOCK_FILE}"
        if self.locked_digest is None:
            return Refused(
                f"skill {self.ref} ({self.source}) is not locked: {lock} has no entry for it "
                f"(expected sha256: none; actual sha256: {self.digest})",
                _RELOCK,
            )
        return IntegrityError(
            f"skill {self.ref} ({self.source}) does not match its lock: expected sha256 "
            f"{self.locked_digest}, actual sha256 {self.digest}; a locked skill never changes",
            "restore the reviewed file, or " + _RELOCK,
        )


def read_lock(directory: Path) -> dict[str, str]:
    """``name@version → sha256`` from ``directory/skills.lock``; {} when there is none."""
    path = directory / LOCK_FILE
    if not path.exists():
        return {}
    fix = "restore it from version control; `mlgate skills lock` does not overwrite a malformed lock"
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{path} cannot be read: {exc}", fix) from None
    skills = raw.get("skills") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or raw.get("format") != LOCK_FORMAT or not isinstance(skills, dict):
        raise IntegrityError(f"{path} is not a format-{LOCK_FORMAT} skills lock", fix)
    for key, digest in skills.items():
        if not _SKILL_REF.match(key) or not isinstance(digest, str) or not _HEX64.match(digest):
            raise IntegrityError(f"{path}: entry {key!r} is not 'name@version': '<sha256 hex>'", fix)
    return dict(skills)


def peek(data: bytes) -> tuple[str | None, int | None]:
    """The name and version a spec file declares, even when it is otherwise invalid."""
    import yaml

    try:
        raw = yaml.safe_load(data)
    except yaml.YAMLError:  # the caller reports the file as invalid; this only names it when it can
        return None, None
    if not isinstance(raw, dict):
        return None, None
    name, version = raw.get("name"), raw.get("version")
    return (
        name if isinstance(name, str) else None,
        version if isinstance(version, int) and not isinstance(version, bool) else None,
    )


def spec_paths(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml") and p.is_file() and not p.name.startswith(".")
    )


def _parse(data: bytes, digest: str, source: str) -> SkillSpec | MlgateError:
    key = (digest, source)
    found = _parsed.get(key)
    if found is None:
        try:
            found = parse_spec(data, source)
        except MlgateError as exc:
            found = exc
        if len(_parsed) > 512:
            _parsed.clear()
        _parsed[key] = found
    return found


def scan_dir(directory: Path, origin: str) -> list[SpecFile]:
    """Every spec file in one folder, checked against that folder's lock."""
    try:
        lock, lock_error = read_lock(directory), None
    except IntegrityError as exc:
        lock, lock_error = {}, exc
    found: list[SpecFile] = []
    for path in spec_paths(directory):
        data = path.read_bytes()
        digest = sha256_hex(data)
        name, version = peek(data)
        parsed = _parse(data, digest, f"{origin}:{path.name}")
        spec = parsed if isinstance(parsed, SkillSpec) else None
        problem = parsed if isinstance(parsed, MlgateError) else None
        ref = f"{name}@{version}"
        found.append(SpecFile(path, origin, digest, name, version, lock.get(ref), spec, problem, lock_error))
    refs = [f.ref for f in found]
    return [
        _with_problem(
            f,
            Refused(
                f"{f.ref} is declared by more than one file in {origin} skills",
                "give each spec its own name@version",
            ),
        )
        if f.ref is not None and refs.count(f.ref) > 1
        else f
        for f in found
    ]


def _with_problem(f: SpecFile, problem: MlgateError) -> SpecFile:
    return SpecFile(
        f.path,
        f.origin,
        f.digest,
        f.name,
        f.version,
        f.locked_digest,
        f.spec,
        f.problem or problem,
        f.lock_error,
    )


def skill_dirs(settings: Settings) -> list[tuple[str, Path]]:
    dirs = [("builtin", BUILTIN_DIR)]
    if settings.skills_dir is not None:
        dirs.append(("custom", settings.skills_dir.expanduser()))
    return dirs


def scan(settings: Settings) -> list[SpecFile]:
    """Built-in skills, then the organisation's; an organisation's file may not reuse a built-in name@version."""
    found: list[SpecFile] = []
    builtin: set[str | None] = set()
    for origin, directory in skill_dirs(settings):
        if not directory.is_dir():
            log.warning("MLGATE_SKILLS_DIR %s is not a folder; no organisation skills loaded", directory)
            continue
        for f in scan_dir(directory, origin):
            if origin == "builtin":
                builtin.add(f.ref)
            elif f.ref in builtin:
                f = _with_problem(
                    f,
                    Refused(
                        f"{f.ref} ({f.source}) reuses the name@version of a built-in skill",
                        "choose another name or a new version",
                    ),
                )
            found.append(f)
    return found


def parse_skill_ref(text: str) -> tuple[str, int]:
    m = _SKILL_REF.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise InvalidReference(
            f"{text!r} is not a skill reference of the form 'name@version'",
            "skills run at an exact version, e.g. 'regime_aware_alpha@1' (see ml_list_skills)",
        )
    return m.group(1), int(m.group(2))


def find(settings: Settings, text: str) -> tuple[SpecFile, SkillSpec]:
    """The skill ``name@version`` if it is locked and valid; otherwise the precise refusal."""
    name, version = parse_skill_ref(text)
    files = scan(settings)
    matches = [f for f in files if f.name == name and f.version == version]
    if not matches:
        known = sorted(r for r in {f.ref for f in files} if r is not None)
        raise NotFound(
            f"no skill {name}@{version}; available: {', '.join(known) or 'none'}",
            "list them with ml_list_skills",
        )
    f = matches[0]
    problem = f.lock_problem() or f.problem
    if problem is not None:
        raise type(problem)(problem.message, problem.hint)  # a fresh error: `problem` may be cached
    if f.spec is None:  # pragma: no cover - a file without a problem always has a spec
        raise Refused(f"skill {f.ref} could not be loaded")
    return f, f.spec


def summary(f: SpecFile) -> SkillSummary:
    """What ``ml_list_skills`` shows of one file, runnable or not."""
    problem = f.lock_problem() or f.problem
    spec = f.spec
    common: dict[str, Any] = {
        "digest": f.digest,
        "locked": f.locked,
        "runnable": problem is None,
        "source": f.source,
        "locked_digest": f.locked_digest if not f.locked else None,
        "error": str(problem) if problem else None,
    }
    if spec is None:
        return SkillSummary(name=f.name or f.path.stem, version=f.version, description="", **common)
    steps = [
        StepSummary(
            id=s.id,
            call=s.call,
            models=s.refs(),
            route=s.model.route if isinstance(s.model, RouteSpec) else None,
        )
        for s in spec.steps
    ]
    return SkillSummary(
        name=spec.name,
        version=spec.version,
        description=spec.description.strip(),
        inputs=spec.input_schema(),
        outputs=list(spec.outputs),
        steps=steps,
        example=spec.example,
        **common,
    )


def list_skills(settings: Settings) -> ListSkillsResult:
    return ListSkillsResult(skills=[summary(f) for f in scan(settings)])
