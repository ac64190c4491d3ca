"""The Hub, through the real ``huggingface_hub`` client (imported here, lazily), with mlgate's errors.

The client checks a download's size only after it has written it; ``fetch`` counts the bytes
while they stream and aborts as soon as a file grows past the size the Hub listed or past what
is left of ``MLGATE_PULL_MAX_MB`` (a Hub that lies about sizes cannot fill the disk), then hashes
every file and compares it with the digest the Hub lists for it: SHA-256 for LFS files, the git
blob id (SHA-1 of ``blob <len>\\0`` + content) for regular files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlgate.artifacts import safe_join
from mlgate.errors import BackendError, IntegrityError, MlgateError, NotFound, Refused
from mlgate.supply.cancellable import Stopped
from mlgate.supply.pull_cache import ManifestFile, RemoteFile

_CHUNK = 1 << 20


def digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob id) of a file, in one read."""
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()


class HubClient:
    """One pull's view of the Hub. ``stop`` aborts a download between two chunks."""

    def __init__(self) -> None:
        from huggingface_hub import HfApi, constants

        self.endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
        self.api = HfApi(endpoint=self.endpoint)
        self.stop = threading.Event()
        self._moved: dict[str, Path] = {}

    def resolve(self, repo_id: str, revision: str) -> tuple[str, str]:
        """(commit, "tag" | "branch") of a named revision."""
        with hub_errors(repo_id, revision):
            refs = self.api.list_repo_refs(repo_id)
        for kind, items in (("tag", refs.tags), ("branch", refs.branches)):
            for ref in items:
                if ref.name == revision:
                    return str(ref.target_commit), kind
        tags = ", ".join(r.name for r in refs.tags[:20]) or "none"
        raise NotFound(
            f"{repo_id} has no tag or branch named {revision!r}",
            f"tags: {tags}; or pass a full 40-character commit hash",
        )

    def listing(self, repo_id: str, commit: str) -> list[RemoteFile]:
        from huggingface_hub.hf_api import RepoFile

        with hub_errors(repo_id, commit):
            entries = list(self.api.list_repo_tree(repo_id, revision=commit, recursive=True))
        return [
            RemoteFile(e.path, int(e.size), str(e.blob_id), e.lfs.sha256 if e.lfs else None)
            for e in entries
            if isinstance(e, RepoFile)
        ]

    def fetch(
        self, repo_id: str, commit: str, f: RemoteFile, cache: Path, into: Path, budget: int | None = None
    ) -> ManifestFile:
        """Download one file into ``into`` (a staging folder), verified, or raise; ``budget``: the bytes
        the pull may still download (``Refused`` as soon as the stream passes it or the listed size)."""
        from huggingface_hub import hf_hub_download

        if self.stop.is_set():
            raise Stopped(f.path)
        dest = safe_join(into, f.path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with hub_errors(repo_id, commit):
            got = Path(
                hf_hub_download(
                    repo_id,
                    f.path,
                    revision=commit,
                    cache_dir=cache,
                    endpoint=self.endpoint,
                    tqdm_class=self._bar(f, f.size if budget is None else min(f.size, budget)),
                )
            )
        blob = got.resolve()
        if blob.exists():
            os.replace(blob, dest)
            self._moved[str(blob)] = dest
        else:  # two paths with the same content share one blob in the client's cache
            shutil.copyfile(self._moved[str(blob)], dest)
        sha256, blob_id = digests(dest)
        expected, actual = (f.lfs_sha256, sha256) if f.lfs_sha256 else (f.blob_id, blob_id)
        if dest.stat().st_size != f.size or actual != expected:
            raise IntegrityError(
                f"{repo_id}@{commit[:12]}/{f.path}: the downloaded bytes do not match the digest the Hub lists "
                f"(expected {expected}, got {actual}); the pull was aborted and nothing was cached",
                "retry later; if it persists the file or a proxy on the way was tampered with",
            )
        return ManifestFile(f.path, f.size, sha256, f.blob_id, f.lfs_sha256 is not None)

    def _bar(self, f: RemoteFile, limit: int) -> Any:
        """The client's progress bar, made to stop a cancelled pull and a stream longer than ``limit``."""
        from huggingface_hub.utils.tqdm import tqdm

        stop = self.stop

        class StopBar(tqdm):
            streamed = 0

            def update(self, n: float | None = 1) -> bool | None:
                if stop.is_set():
                    raise Stopped("download cancelled")
                StopBar.streamed += int(n or 0)
                if StopBar.streamed > limit:
                    raise _too_long(f, StopBar.streamed, limit)
                result: bool | None = super().update(n)
                return result

        return StopBar


def _too_long(f: RemoteFile, streamed: int, limit: int) -> Refused:
    why = "the size the Hub listed for it" if limit >= f.size else "what is left of MLGATE_PULL_MAX_MB"
    return Refused(
        f"{f.path}: the Hub sent more than {limit:,} bytes ({why}; {streamed:,} so far, listed {f.size:,}); "
        "the download was aborted and its partial files removed",
        "pull from a Hub you trust; an operator may raise MLGATE_PULL_MAX_MB for large models",
    )


@contextmanager
def hub_errors(repo_id: str, revision: str) -> Iterator[None]:
    """Map the client's exceptions to mlgate's error tree (what happened, what to do)."""
    from huggingface_hub import errors as hf

    try:
        yield
    except (MlgateError, Stopped):
        raise
    except hf.GatedRepoError:
        raise Refused(f"{repo_id} is gated", "accept its terms on the Hub and set HF_TOKEN") from None
    except hf.RepositoryNotFoundError:
        raise NotFound(
            f"repository {repo_id} was not found on the Hub",
            "check the id; a private repository needs HF_TOKEN",
        ) from None
    except hf.RevisionNotFoundError:
        raise NotFound(
            f"{repo_id} has no revision {revision!r}", "pass an existing commit hash or tag"
        ) from None
    except (hf.EntryNotFoundError, hf.LocalEntryNotFoundError) as exc:
        raise BackendError(
            f"the Hub did not serve a file of {repo_id}@{revision}: {exc}",
            "retry; offline, only cached snapshots can be used",
        ) from None
    except hf.HfHubHTTPError as exc:
        raise BackendError(f"the Hub answered with an error for {repo_id}: {exc}", "retry later") from None
    except OSError as exc:  # connection errors and the client's size check
        raise BackendError(
            f"could not download from the Hub ({type(exc).__name__}: {exc})",
            "check HF_ENDPOINT and the network; set HF_HUB_OFFLINE=1 to use the cache",
        ) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore"):
            raise BackendError(
                f"could not reach the Hub ({type(exc).__name__}: {exc})",
                "check HF_ENDPOINT and the network; set HF_HUB_OFFLINE=1 to use the cache",
            ) from None
        raise
