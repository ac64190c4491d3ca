"""Digests (of model folders, of canonical JSON) and atomic writes.

The digest of a model is defined over the model's own files: every regular file under
its folder, sorted by relative path, except files MLflow adds after the fact
(``registered_model_meta``). A folder digest is the SHA-256 of lines
``<sha256 of file>  <relative path>``, so renaming, adding or changing any file changes it.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXCLUDED = frozenset({"registered_model_meta"})
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def model_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        (p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.name not in EXCLUDED),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def tree_sha256(root: Path) -> tuple[str, int]:
    """Digest and total size in bytes of a model file or folder."""
    if root.is_file():
        return file_sha256(root), root.stat().st_size
    h = hashlib.sha256()
    size = 0
    for p in model_files(root):
        h.update(f"{file_sha256(p)}  {p.relative_to(root).as_posix()}\n".encode())
        size += p.stat().st_size
    return h.hexdigest(), size


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def staging_dir(parent: Path, prefix: str = ".staging-") -> Iterator[Path]:
    """A temporary folder under ``parent`` that is removed unless the caller renamed it away."""
    import shutil

    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def safe_join(root: Path, relative: str) -> Path:
    """Join ``relative`` under ``root``; refuse anything that would escape it."""
    from mlgate.errors import Refused

    if not relative or relative.startswith(("/", "\\")) or "\x00" in relative:
        raise Refused(f"path {relative!r} is absolute or empty", "paths must be relative to the snapshot")
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise Refused(f"path {relative!r} escapes {root.name}", "refusing path traversal")
    return target


_STORAGE = {
    errno.ENOSPC: "no space left on device in {where}",
    errno.EDQUOT: "the disk quota of {where} is exhausted",
    errno.EROFS: "{where} is read-only (read-only file system)",
    errno.EACCES: "{where} refused the write (permission denied)",
    errno.EPERM: "{where} refused the write (operation not permitted)",
}


def storage_error(exc: BaseException, where: str = "the artifact store") -> Exception | None:
    """A ``StorageError`` naming what a failed write met (full, read-only, …), without paths; None when
    ``exc`` (or what caused it) is no such error."""
    from mlgate.errors import StorageError

    seen: BaseException | None = exc
    for _ in range(8):  # MLflow and others wrap OSError: follow the chain a few links
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno in _STORAGE:
            return StorageError(
                _STORAGE[seen.errno].format(where=where),
                "nothing was registered and no partial file was left; an operator frees space (or makes "
                "the store writable again), then submit it again",
            )
        seen = seen.__cause__ or seen.__context__
    return None


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def json_sha256(obj: Any) -> str:
    """sha256 (hex) of the canonical JSON of ``obj``: sorted keys, no whitespace, UTF-8."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
