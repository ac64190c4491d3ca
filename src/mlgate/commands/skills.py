"""``mlgate skills lock|verify``: the arguments; the work is in ``skills/lock.py``."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlgate.config import Settings
from mlgate.errors import ConfigError
from mlgate.skills.lock import lock_dir, verify


def skills_command(settings: Settings, args: argparse.Namespace) -> int:
    directory: Path | None = Path(args.dir).expanduser() if getattr(args, "dir", None) else None
    if args.action == "verify":
        return verify(settings, directory)
    if directory is None:
        if settings.skills_dir is None:
            raise ConfigError("MLGATE_SKILLS_DIR is not set: name the folder to lock with --dir")
        directory = settings.skills_dir.expanduser()
    return _locked(settings, directory, bool(args.force))


def _locked(settings: Settings, directory: Path, force: bool) -> int:
    """Locking changes which skills run: an operator change with its ledger row (``skills.lock``)."""
    from mlgate.commands.operator import audited, blocking, in_thread
    from mlgate.compose import build_runtime

    rt = build_runtime(settings, transport="cli").runtime
    try:
        code: int = audited(rt, "lock", {"dir": str(directory), "force": force},
                            lambda: in_thread(lambda: lock_dir(directory, force=force)), family="skills")  # fmt: skip
        return code
    finally:
        blocking(rt.aclose)
