"""``skills.lock`` and the two operator commands that write and check it.

The lock is JSON beside the specs it vouches for::

    {"format": 1, "skills": {"regime_aware_alpha@1": "<sha256 hex of the spec file's bytes>"}}

``mlgate skills lock [--force] [--dir DIR]`` adds every valid spec of the folder
(default ``MLGATE_SKILLS_DIR``) that is not locked yet. It refuses, and writes nothing,
when a spec is invalid or when a file's digest differs from its existing entry: a
locked ``name@version`` never changes, a change is a new version. ``--force`` rewrites
such entries (an operator's deliberate act). Entries whose file is gone are kept, so a
retired ``name@version`` can never come back with other content.

``mlgate skills verify [--dir DIR]`` checks the built-in skills and ``MLGATE_SKILLS_DIR``
(or only ``DIR``) and exits 1 on any unlocked, changed or invalid spec.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgate.config import Settings
from mlgate.errors import NotFound
from mlgate.skills.catalog import (
    BUILTIN_DIR,
    LOCK_FILE,
    LOCK_FORMAT,
    SpecFile,
    read_lock,
    scan,
    scan_dir,
    skill_dirs,
)

Echo = Callable[[str], Any]
ABOUT = "name@version -> SHA-256 of the spec file's bytes. Written by `mlgate skills lock`; a locked entry never changes."


def write_lock(directory: Path, entries: dict[str, str]) -> None:
    from mlgate.artifacts import atomic_write_bytes

    body = {"about": ABOUT, "format": LOCK_FORMAT, "skills": dict(sorted(entries.items()))}
    atomic_write_bytes(directory / LOCK_FILE, (json.dumps(body, indent=2) + "\n").encode("utf-8"))


def _origin(directory: Path) -> str:
    return "builtin" if directory.resolve() == BUILTIN_DIR.resolve() else "custom"


def lock_dir(directory: Path, *, force: bool = False, echo: Echo = print) -> int:
    """Lock the specs of one folder; 0 when the lock is written (or already complete), 2 when refused."""
    if not directory.is_dir():
        raise NotFound(f"no skills folder at {directory}")
    origin = _origin(directory)
    lock = read_lock(directory)  # a malformed lock is refused, never silently replaced
    files = scan_dir(directory, origin)
    reserved = {f.ref for f in scan_dir(BUILTIN_DIR, "builtin")} if origin == "custom" else set()
    shadow = [f for f in files if f.ref in reserved]
    refused = [f"{f.source}: {f.problem}" for f in files if f.problem is not None]
    refused += [
        f"{f.source}: {f.ref} is the name@version of a built-in skill; choose another" for f in shadow
    ]
    conflicts = [f for f in files if f.ref is not None and lock.get(f.ref) not in (None, f.digest)]
    if not force:
        refused += [
            f"{f.source}: {f.ref} is locked at sha256 {lock[f.ref]} but the file now has sha256 {f.digest}; "
            "a locked name@version never changes: give the change a new version (or pass --force)"
            for f in conflicts
            if f.ref is not None
        ]
    if refused:
        for line in refused:
            echo(f"refused  {line}")
        echo(f"nothing written to {directory / LOCK_FILE}")
        return 2
    entries = dict(lock)
    for f in files:
        if f.ref is None:  # pragma: no cover - a file without a problem declares name and version
            continue
        old = entries.get(f.ref)
        entries[f.ref] = f.digest
        what = "added" if old is None else "unchanged" if old == f.digest else "REWRITTEN (--force)"
        echo(f"{what:<9} {f.ref}  sha256 {f.digest}  ({f.path.name})")
    if entries != lock or not (directory / LOCK_FILE).exists():
        write_lock(directory, entries)
        echo(f"wrote {directory / LOCK_FILE} ({len(entries)} entries)")
    return 0


def _report(f: SpecFile) -> str | None:
    """A problem line for one file, or None when it is locked and valid."""
    problem = f.lock_problem() or f.problem
    return None if problem is None else str(problem)


def verify(settings: Settings, directory: Path | None = None, echo: Echo = print) -> int:
    """0 when every spec is locked and valid, 1 otherwise; stale lock entries are noted, not failures."""
    bad = 0
    if directory is not None:
        if not directory.is_dir():
            raise NotFound(f"no skills folder at {directory}")
        dirs = [(_origin(directory), directory)]
        files = scan_dir(directory, dirs[0][0])
    else:
        dirs = [(o, d) for o, d in skill_dirs(settings) if d.is_dir()]
        files = scan(settings)
        for _, missing in [(o, d) for o, d in skill_dirs(settings) if not d.is_dir()]:
            bad += 1
            echo(f"FAILED    MLGATE_SKILLS_DIR {missing} is not a folder: its skills cannot load")
    for f in files:
        line = _report(f)
        if line is None:
            echo(f"ok        {f.ref}  sha256 {f.digest}  ({f.source})")
        else:
            bad += 1
            echo(f"FAILED    {f.source}: {line}")
    for origin, d in dirs:
        try:
            stale = sorted(set(read_lock(d)) - {f.ref for f in files if f.origin == origin})
        except Exception:
            continue  # already reported for each file of that folder
        for ref in stale:
            echo(
                f"note      {origin} {LOCK_FILE}: {ref} has no spec file (kept: it can never return changed)"
            )
    ok = sum(1 for f in files if _report(f) is None)
    echo(f"{ok} of {len(files)} skills verified" + (f"; {bad} problems" if bad else ""))
    return 1 if bad else 0
