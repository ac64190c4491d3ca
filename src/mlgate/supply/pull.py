"""ml_pull: a Hub repository at an exact revision → a verified snapshot in the pull cache.

Order of checks, each before anything it protects: reference syntax and the
allow-list (no network yet) → the revision (a branch floats: refused unless
``allow_floating`` by an admin) → the file listing (paths that escape the snapshot,
pickle-based files unless ``allow_pickle`` by an admin, a total over ``MLGATE_PULL_MAX_MB``)
→ download of each missing
file into a staging folder, its stream cut off past its listed size or the cap, hashing it
against the digest the Hub reports (SHA-256 for LFS files, the git blob id otherwise) → one
rename into the cache. Any failure or
cancellation removes the staging folder, so nothing partial is ever visible.

``HF_ENDPOINT``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` are honoured; they are read at
call time. Offline, the cache answers or the error says exactly what is missing.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from mlgate.artifacts import safe_join
from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.errors import InvalidInput, NotFound, Refused
from mlgate.models.ref import parse_ref
from mlgate.schemas.supply import PulledFile, PullResult
from mlgate.supply import hub_client as remote
from mlgate.supply.cancellable import in_thread
from mlgate.supply.pull_cache import COMMIT, HubStore, Manifest, ManifestFile, RemoteFile

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
MAX_PATTERNS = 50

Progress = Callable[[float, float | None, str], Awaitable[None]]


@dataclass(frozen=True)
class PullRequest:
    repo_id: str
    revision: str
    patterns: tuple[str, ...] | None = None
    allow_floating: bool = False
    allow_pickle: bool = False


def store_for(settings: Settings) -> HubStore:
    return HubStore(settings.home / "hub")


def check_allowed(allowlist: list[str], repo_id: str) -> None:
    """``org`` (or ``org/*``) allows a whole organisation, ``org/repo`` one repository; empty allows nothing."""
    org = repo_id.split("/", 1)[0]
    for entry in allowlist:
        e = entry.strip().rstrip("/")
        if e in (repo_id, org, f"{org}/*") or (e.endswith("*") and fnmatch.fnmatchcase(repo_id, e)):
            return
    raise Refused(
        f"{repo_id} is not on the pull allow-list" + ("" if allowlist else " (the allow-list is empty)"),
        "ask the operator to add the organisation or repository to MLGATE_PULL_ALLOWLIST",
    )


def check_path(path: str) -> None:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or ".." in parts
        or any(p in ("", ".") for p in parts)
        or any(ord(c) < 32 for c in path)
    ):
        raise Refused(
            f"the repository lists a file at {path!r}, which would escape the snapshot folder",
            "refusing path traversal; this repository cannot be pulled",
        )


def is_pickle(path: str) -> bool:
    return path.lower().endswith(PICKLE_SUFFIXES)


def select(listing: list[RemoteFile], patterns: tuple[str, ...] | None) -> list[RemoteFile]:
    if not patterns:
        return list(listing)
    pats = [p + "*" if p.endswith("/") else p for p in patterns]
    return [f for f in listing if any(fnmatch.fnmatchcase(f.path, p) for p in pats)]


def _check_request(req: PullRequest, caller: Caller) -> None:
    parse_ref(f"hf:{req.repo_id}@{req.revision}")
    pats = req.patterns or ()
    if len(pats) > MAX_PATTERNS or any(not p or len(p) > 200 or "\x00" in p for p in pats):
        raise InvalidInput(
            f"patterns: at most {MAX_PATTERNS} non-empty glob patterns of up to 200 characters",
            "e.g. ['*.onnx', 'config.json']",
        )
    for flag, what in ((req.allow_floating, "allow_floating"), (req.allow_pickle, "allow_pickle")):
        if flag:
            caller.require_admin(f"{what} on ml_pull")


def _check_revision(req: PullRequest, kind: str) -> None:
    if kind == "branch" and not req.allow_floating:
        raise Refused(
            f"{req.revision!r} is a branch of {req.repo_id}: it moves, so what you pull today is not what "
            "runs tomorrow",
            "pull a commit hash or a tag (an administrator may pass allow_floating=true)",
        )


def _check_files(req: PullRequest, listing: list[RemoteFile], chosen: list[RemoteFile]) -> None:
    for f in listing:
        check_path(f.path)
    if not chosen:
        raise NotFound(
            f"no file of {req.repo_id} matches {list(req.patterns or ())}",
            f"files at this commit: {', '.join(f.path for f in listing[:30]) or 'none'}",
        )
    pickles = [f.path for f in chosen if is_pickle(f.path)]
    if pickles and not req.allow_pickle:
        raise Refused(
            f"pickle-based files can run code when loaded: {', '.join(pickles[:10])}",
            "pass patterns that leave them out (prefer *.safetensors or *.onnx); "
            "an administrator may pass allow_pickle=true",
        )


def check_size(req: PullRequest, todo: list[RemoteFile], max_mb: int) -> int:
    """The bytes the pull will download (by the Hub's listing), or ``Refused`` over ``MLGATE_PULL_MAX_MB``."""
    total = sum(max(f.size, 0) for f in todo)
    if total > max_mb * 1024 * 1024:
        largest = sorted(todo, key=lambda f: -f.size)[:3]
        raise Refused(
            f"{req.repo_id}@{req.revision}: the files to pull total {total / 1048576:,.1f} MB, over the "
            f"limit of {max_mb:,} MB (MLGATE_PULL_MAX_MB); largest: "
            + ", ".join(f"{f.path} ({f.size / 1048576:,.1f} MB)" for f in largest),
            "pull fewer files with patterns, or ask the operator to raise MLGATE_PULL_MAX_MB; nothing was downloaded",
        )
    return total


def check_skops(files: Path, new: list[ManifestFile]) -> None:
    """A pulled ``.skops`` file may hold only allow-listed types: a pull never admits code (reading the
    type list executes nothing)."""
    import skops.io as sio

    from mlgate.adapters.sklearn import skops_refused

    for f in new:
        if f.path.endswith(".skops"):
            refused = skops_refused(sio.get_untrusted_types(file=safe_join(files, f.path)))
            if refused:
                raise Refused(
                    f"{f.path} holds types mlgate does not trust ({', '.join(refused[:8])}): loading it could run "
                    "code, so it was not published",
                    "pull a snapshot built from scikit-learn and NumPy types, or an ONNX file",
                )


def offline() -> bool:
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper()
    return bool(constants.HF_HUB_OFFLINE) or env in {"1", "ON", "YES", "TRUE"}


def _result(
    req: PullRequest, kind: str, manifest: Manifest, chosen: list[str], downloaded: int, is_offline: bool
) -> PullResult:
    files = [f for f in manifest.files if f.path in set(chosen)]
    return PullResult(
        repo_id=req.repo_id,
        revision=req.revision,
        revision_kind=kind,
        commit=manifest.commit,
        ref=f"hf:{req.repo_id}@{manifest.commit}",
        manifest_sha256=manifest.sha256,
        downloaded=downloaded,
        files=[PulledFile(path=f.path, size=f.size, sha256=f.sha256) for f in files],
        offline=is_offline,
    )


def _from_cache(store: HubStore, req: PullRequest) -> PullResult:
    found = store.commit_for(req.repo_id, req.revision)
    if found is None:
        raise NotFound(
            f"offline (HF_HUB_OFFLINE is set) and {req.repo_id}@{req.revision} is not in the pull cache",
            "pull it once while online, or unset HF_HUB_OFFLINE",
        )
    commit, kind = found
    _check_revision(req, kind)
    manifest = store.manifest(req.repo_id, commit)
    assert manifest is not None
    listing = manifest.listing or [RemoteFile(f.path, f.size, f.blob_id) for f in manifest.files]
    chosen = select(listing, req.patterns)
    missing = [f.path for f in chosen if manifest.file(f.path) is None]
    if missing or not chosen:
        raise NotFound(
            f"offline and the cached snapshot of {req.repo_id}@{commit[:12]} lacks "
            f"{', '.join(missing[:10]) or 'files matching ' + str(list(req.patterns or ()))}",
            f"cached: {', '.join(f.path for f in manifest.files[:20])}; pull the rest while online",
        )
    return _result(req, kind, manifest, [f.path for f in chosen], 0, True)


async def pull(settings: Settings, req: PullRequest, *, caller: Caller, progress: Progress) -> PullResult:
    """Pull ``req`` into the cache under ``settings.home``; see the module docstring for the checks."""
    _check_request(req, caller)
    check_allowed(settings.pull_allowlist, req.repo_id)
    store = store_for(settings)
    if offline():
        return _from_cache(store, req)
    hub = remote.HubClient()
    if COMMIT.match(req.revision):
        commit, kind = req.revision, "commit"
    else:
        commit, kind = await in_thread(lambda: hub.resolve(req.repo_id, req.revision), hub.stop)
    _check_revision(req, kind)
    cached = store.manifest(req.repo_id, commit)
    if cached is not None and cached.listing:  # a commit's listing never changes: no request for it
        listing = cached.listing
    else:
        listing = await in_thread(lambda: hub.listing(req.repo_id, commit), hub.stop)
    chosen = select(listing, req.patterns)
    _check_files(req, listing, chosen)
    todo = [f for f in chosen if cached is None or cached.file(f.path) is None]
    check_size(req, todo, settings.pull_max_mb)
    budget = settings.pull_max_mb * 1024 * 1024  # what the streams may still bring, whatever was listed
    new: list[ManifestFile] = []
    if todo:
        total = float(len(todo) + 1)  # MCP progress must increase: 0, then i + 0.5 per file, then total
        await progress(0, total, f"{req.repo_id}@{commit[:12]}: {len(todo)} file(s) to fetch")
        with store.staging() as stage:
            files = stage / "files"
            for i, f in enumerate(todo):
                await progress(i + 0.5, total, f"downloading {f.path} ({f.size:,} bytes)")
                fetch = functools.partial(hub.fetch, req.repo_id, commit, f, stage / "dl", files, budget)
                new.append(await in_thread(fetch, hub.stop))
                budget -= new[-1].size
            await in_thread(lambda: check_skops(files, new))  # before anything is published
            store.publish(files, Manifest(req.repo_id, commit, list(new), listing, time.time()), new)
        await progress(total, total, f"verified {len(new)} file(s) and published the snapshot")
    if kind != "commit":
        store.write_ref(req.repo_id, req.revision, kind, commit)
    final = store.manifest(req.repo_id, commit)
    assert final is not None
    return _result(req, kind, final, [f.path for f in chosen], len(new), False)
