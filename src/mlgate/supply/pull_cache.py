"""The pull cache under ``MLGATE_HOME/hub``: verified snapshots, their manifests, recorded refs.

    hub/<org>/<repo>/snapshots/<commit>/manifest.json   what was pulled, with digests
    hub/<org>/<repo>/snapshots/<commit>/files/…         the verified files
    hub/<org>/<repo>/refs/<tag or branch>.json           the commit a name pointed at when pulled
    hub/.staging-*                                       downloads in flight (removed on any failure)

A snapshot folder appears in one rename, after every file in it was verified; a later
pull of more files of the same commit moves each verified file in with one rename and
then rewrites the manifest atomically. Nothing unverified is ever under ``snapshots/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlgate.artifacts import atomic_write_bytes, safe_join, staging_dir
from mlgate.errors import InvalidReference

COMMIT = re.compile(r"^[0-9a-f]{40}$")
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,95}$")


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One file of a commit as the Hub lists it."""

    path: str
    size: int
    blob_id: str
    lfs_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class ManifestFile:
    path: str
    size: int
    sha256: str
    blob_id: str
    lfs: bool


@dataclass
class Manifest:
    repo_id: str
    commit: str
    files: list[ManifestFile]
    listing: list[RemoteFile] = field(default_factory=list)
    pulled_at: float = 0.0

    @property
    def sha256(self) -> str:
        core = {
            "repo": self.repo_id,
            "commit": self.commit,
            "files": [[f.path, f.size, f.sha256] for f in sorted(self.files, key=lambda f: f.path)],
        }
        return hashlib.sha256(json.dumps(core, separators=(",", ":")).encode()).hexdigest()

    def file(self, path: str) -> ManifestFile | None:
        return next((f for f in self.files if f.path == path), None)

    def to_json(self) -> bytes:
        data = {
            "repo_id": self.repo_id,
            "commit": self.commit,
            "manifest_sha256": self.sha256,
            "pulled_at": self.pulled_at,
            "files": [asdict(f) for f in sorted(self.files, key=lambda f: f.path)],
            "listing": [asdict(f) for f in self.listing],
        }
        return json.dumps(data, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            data["repo_id"],
            data["commit"],
            [ManifestFile(**f) for f in data["files"]],
            [RemoteFile(**f) for f in data.get("listing", [])],
            float(data.get("pulled_at", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class RefRecord:
    name: str
    kind: str  # "tag" | "branch"
    commit: str
    at: float


def split_repo(repo_id: str) -> tuple[str, str]:
    org, sep, name = repo_id.partition("/")
    if not sep or not _PART.match(org) or not _PART.match(name) or ".." in repo_id:
        raise InvalidReference(
            f"{repo_id!r} is not a Hub repository id of the form 'org/repo'", "send e.g. 'acme/iris-onnx'"
        )
    return org, name


class HubStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def repo_dir(self, repo_id: str) -> Path:
        org, name = split_repo(repo_id)
        return self.root / org / name

    def snapshot_dir(self, repo_id: str, commit: str) -> Path:
        if not COMMIT.match(commit):
            raise InvalidReference(f"{commit!r} is not a 40-character commit hash")
        return self.repo_dir(repo_id) / "snapshots" / commit

    def files_dir(self, repo_id: str, commit: str) -> Path:
        return self.snapshot_dir(repo_id, commit) / "files"

    def manifest(self, repo_id: str, commit: str) -> Manifest | None:
        f = self.snapshot_dir(repo_id, commit) / "manifest.json"
        return Manifest.from_json(f.read_bytes()) if f.is_file() else None

    def ref(self, repo_id: str, name: str) -> RefRecord | None:
        f = self.repo_dir(repo_id) / "refs" / f"{name}.json"
        return RefRecord(**json.loads(f.read_text())) if f.is_file() else None

    def write_ref(self, repo_id: str, name: str, kind: str, commit: str) -> None:
        data = json.dumps(asdict(RefRecord(name, kind, commit, time.time())))
        atomic_write_bytes(safe_join(self.repo_dir(repo_id) / "refs", f"{name}.json"), data.encode())

    def commit_for(self, repo_id: str, revision: str) -> tuple[str, str] | None:
        """(commit, kind) of a revision this cache knows, without the network."""
        if COMMIT.match(revision):
            return (revision, "commit") if self.manifest(repo_id, revision) else None
        rec = self.ref(repo_id, revision)
        return (rec.commit, rec.kind) if rec and self.manifest(repo_id, rec.commit) else None

    def snapshots(self) -> list[Manifest]:
        out = []
        for f in sorted(self.root.glob("*/*/snapshots/*/manifest.json")):
            try:
                out.append(Manifest.from_json(f.read_bytes()))
            except (OSError, ValueError, KeyError):
                continue
        return out

    def staging(self) -> AbstractContextManager[Path]:
        return staging_dir(self.root, prefix=".staging-")

    def publish(self, staged_files: Path, manifest: Manifest, new: list[ManifestFile]) -> None:
        """Make verified files visible: a new snapshot in one rename, or new files into an existing one."""
        target = self.snapshot_dir(manifest.repo_id, manifest.commit)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            snap = staged_files.parent / "snapshot"
            snap.mkdir()
            staged_files.rename(snap / "files")
            (snap / "manifest.json").write_bytes(manifest.to_json())
            try:
                os.rename(snap, target)
                return
            except OSError:  # another pull of the same commit won the race: merge into it below
                snap.joinpath("files").rename(staged_files)
        files = target / "files"
        for f in new:
            dest = safe_join(files, f.path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(safe_join(staged_files, f.path), dest)
        current = self.manifest(manifest.repo_id, manifest.commit)
        known = {f.path: f for f in (current.files if current else [])}
        known.update({f.path: f for f in manifest.files})
        manifest.files = sorted(known.values(), key=lambda f: f.path)
        atomic_write_bytes(target / "manifest.json", manifest.to_json())
