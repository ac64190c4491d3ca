"""A version mlgate is still registering: written with a ``mlgate.pending`` tag, never served until it goes.

Registration is several steps (artifacts, version row, digest and lineage tags, admission,
alias); a process killed between them must not leave a row that serves. So every version
mlgate creates carries ``mlgate.pending`` from its first moment (the tag is written with the
row, in one transaction), the tag is removed last, once every other tag is in place, and the
resolver refuses a pending version. The tag's value says who registers it — host, process,
the job (when a job registers) and when — so ``mlgate jobs gc`` and a worker's start can tell
an orphan (its job ended or its process is gone) from a registration still under way.

Staging folders of registrations live under ``MLGATE_HOME/staging``, named after their
process, so the same clean-up finds the ones a killed process left.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from urllib.request import url2pathname

from mlgate.artifacts import storage_error
from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.errors import Unavailable
from mlgate.models.tags import TAG_PENDING

if TYPE_CHECKING:
    from mlgate.models.resolvers import MlflowResolver

log = logging.getLogger(__name__)

# the job a registration runs for (set by the job runner; copied into worker threads with the context)
current_job: ContextVar[str | None] = ContextVar("mlgate_current_job", default=None)


@dataclass(frozen=True)
class Owner:
    """Who is registering a pending version (or staging a folder)."""

    host: str
    pid: int
    job: str | None
    at: float

    def alive_here(self) -> bool | None:
        """Whether the owning process still runs; None when it ran on another host (unknown here)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def marker() -> str:
    """The ``mlgate.pending`` value of a version this process starts registering now."""
    return json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "job": current_job.get(), "at": time.time()},
        sort_keys=True,
    )


def owner_of(info: VersionInfo) -> Owner | None:
    """The owner recorded on a pending version (None: not pending)."""
    raw = info.tags.get(TAG_PENDING)
    return None if raw is None else parse_owner(raw)


def parse_owner(raw: str) -> Owner:
    """A ``mlgate.pending`` value; an unreadable one: owner unknown, at time 0 (an orphan for gc)."""
    try:
        found = json.loads(raw)
        return Owner(str(found["host"]), int(found["pid"]), found.get("job"), float(found["at"]))
    except (ValueError, KeyError, TypeError):
        return Owner("", 0, None, 0.0)


def refuse_pending(info: VersionInfo) -> None:
    """A version still being registered (or whose registration died) is not served."""
    if TAG_PENDING in info.tags:
        raise Unavailable(
            f"{info.name}@{info.version} is not fully registered yet (its registration is under way, or "
            "it stopped before the version was complete); it is not served",
            "wait for the job that registers it to finish, or pick another version; an operator "
            "removes abandoned ones with `mlgate jobs gc`",
        )


def staging_root(settings: Settings) -> Path:
    return settings.home / "staging"


@contextmanager
def staging(settings: Settings) -> Iterator[Path]:
    """A private folder for a registration's files, removed afterwards (or by gc, if this process dies)."""
    root = staging_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    prefix = f"{socket.gethostname()}-{os.getpid()}-{current_job.get() or 'none'}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def staging_owner(folder: Path) -> Owner | None:
    """The owner encoded in a staging folder's name (None: not one of ours)."""
    parts = folder.name.rsplit("-", 3)
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    try:
        at = folder.stat().st_mtime
    except OSError:
        return None
    return Owner(parts[0], int(parts[1]), None if parts[2] == "none" else parts[2], at)


def local_dir(settings: Settings, uri: str) -> Path | None:
    """The folder of an artifact URI when it lies inside this home's artifact store; None otherwise."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(url2pathname(parsed.path))
    elif not parsed.scheme and Path(uri).is_absolute():
        path = Path(uri)
    else:
        return None
    root = (settings.home / "artifacts").resolve()
    found = path.resolve()
    return found if found.is_relative_to(root) and found != root else None


def prune(folder: Path, settings: Settings, *, tree: bool = True) -> None:
    """Remove ``folder`` (``tree``: with its contents; else only if empty), then its parents while they are
    empty, up to the artifact store's root."""
    root = (settings.home / "artifacts").resolve()
    if tree:
        shutil.rmtree(folder, ignore_errors=True)
    parent = folder if not tree else folder.parent
    while parent.is_relative_to(root) and parent != root:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def _copy_synced(src: Path, dst: Path) -> None:
    """Copy a folder's files, each flushed to disk; the first failed write raises as it is (its errno kept:
    ``shutil.copytree`` would gather them into one ``shutil.Error`` without it)."""
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_dir() and not path.is_symlink():
            target.mkdir(exist_ok=True)
            continue
        shutil.copy2(path, target, follow_symlinks=False)
        if not path.is_symlink():
            with target.open("rb") as f:
                os.fsync(f.fileno())


def store_dir(settings: Settings, artifact_uri: str, folder: Path) -> None:
    """Put ``folder`` at ``<artifact_uri>/model``: copied into a hidden staging folder beside it, then renamed
    into place, so a full or read-only store leaves no partial file (a remote store: MLflow's own upload).
    A refused write raises ``StorageError`` naming what happened, without paths."""
    local = local_dir(settings, artifact_uri)
    try:
        if local is None:
            import mlflow

            mlflow.log_artifacts(str(folder), artifact_path="model")
            return
        tmp: Path | None = None
        try:
            local.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=local))
            _copy_synced(folder, tmp)
            os.replace(tmp, local / "model")
        except BaseException:
            prune(tmp or local, settings, tree=tmp is not None)
            raise
    except OSError as exc:
        found = storage_error(exc)
        if found is None:
            raise
        raise found from None


def remove_version(resolver: MlflowResolver, info: VersionInfo, *, artifacts: bool = True) -> list[str]:
    """Delete a version mlgate created but did not complete, with its files and run: what was removed."""
    done = []
    folder = None
    if artifacts:
        try:
            folder = local_dir(resolver.settings, resolver.registry.download_uri(info.name, info.version))
        except Exception:
            log.warning("could not find the artifacts of %s@%s", info.name, info.version, exc_info=True)
    resolver.registry.delete_version(info.name, info.version)
    done.append(f"version {info.name}@{info.version}")
    if folder is not None and folder.exists():
        prune(folder, resolver.settings)
        done.append(f"artifact folder of {info.name}@{info.version}")
    if artifacts and info.run_id:
        try:
            resolver.registry.delete_run(info.run_id)
        except Exception:
            log.info("run %s of %s@%s not deleted", info.run_id, info.name, info.version, exc_info=True)
    return done


@contextmanager
def discard(resolver: MlflowResolver, info: VersionInfo, *, artifacts: bool = True) -> Iterator[None]:
    """Completing a just-created pending version: if that fails, the version (and its files) go again."""
    try:
        yield
    except BaseException:
        try:
            remove_version(resolver, info, artifacts=artifacts)
        except Exception:  # left pending (never served): `mlgate jobs gc` removes it later
            log.warning("could not remove %s@%s after its registration failed", info.name, info.version)
        raise


PAUSE_MAX_S = 600.0  # a test that never says go fails the step instead of leaving a worker waiting


def pause(point: str) -> None:
    """A test seam: with ``MLGATE_TEST_PAUSE_DIR`` set, mark ``<dir>/<point>.reached`` and wait until
    ``<dir>/<point>.go`` exists (at most ``PAUSE_MAX_S``), so a test can kill this process at exactly
    this step. Unset: nothing."""
    folder = os.environ.get("MLGATE_TEST_PAUSE_DIR")
    if not folder:
        return
    base = Path(folder)
    (base / f"{point}.reached").write_text(str(os.getpid()))
    deadline = time.monotonic() + PAUSE_MAX_S
    while not (base / f"{point}.go").exists():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{point}: no {point}.go in {base} within {PAUSE_MAX_S:g} s")
        time.sleep(0.05)
