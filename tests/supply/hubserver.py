"""A small Hugging Face Hub on 127.0.0.1 for the tests: real git object ids, ETags and LFS digests.

It implements the endpoints the real ``huggingface_hub`` client calls:
``/api/models/{repo}[/revision/{rev}]``, ``/refs``,
``/tree/{rev}`` and ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``. Commits are real
git commit objects over real trees, so their ids are what ``git`` would compute.
Every request is logged; ``tamper`` serves other bytes of the same size for a path,
``extra_entries`` adds tree entries the resolve route does not serve (e.g. ``../x``),
``hold`` keeps the body of a path back until its event is set (a slow server, as slow as the test says:
``holding`` is set once such a body was asked for).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests._support import wait_until

LFS_SUFFIXES = (".onnx", ".skops", ".safetensors", ".bin", ".pt", ".pkl", ".ckpt", ".joblib")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    sha = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(data)}\n".encode()


def _tree_id(files: dict[str, str]) -> str:
    """Git tree id of {relative path: blob id}, recursing into folders."""
    here: dict[str, tuple[str, str]] = {}
    sub: dict[str, dict[str, str]] = {}
    for path, blob in files.items():
        head, _, rest = path.partition("/")
        if rest:
            sub.setdefault(head, {})[rest] = blob
        else:
            here[head] = ("100644", blob)
    for name, inner in sub.items():
        here[name] = ("40000", _tree_id(inner))
    body = b"".join(
        f"{mode} {name}".encode() + b"\0" + bytes.fromhex(oid)
        for name, (mode, oid) in sorted(
            here.items(), key=lambda kv: kv[0] + ("/" if kv[1][0] == "40000" else "")
        )
    )
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


@dataclass
class Commit:
    sha: str
    files: dict[str, bytes]

    def is_lfs(self, path: str) -> bool:
        return path.endswith(LFS_SUFFIXES) or len(self.files[path]) > 10_000

    def entry(self, path: str) -> dict[str, Any]:
        data = self.files[path]
        if self.is_lfs(path):
            pointer = lfs_pointer(data)
            lfs = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)}
            return {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(pointer), "lfs": lfs}
        return {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}


@dataclass
class HubRepo:
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes], message: str = "update", branch: str = "main") -> str:
        blobs = {p: Commit("", files).entry(p)["oid"] for p in files}
        parent = self.branches.get(branch)
        text = f"tree {_tree_id(blobs)}\n" + (f"parent {parent}\n" if parent else "")
        stamp = 1_700_000_000 + len(self.commits)
        text += f"author Test <test@example.org> {stamp} +0000\ncommitter Test <test@example.org> {stamp} +0000\n\n"
        text += message + "\n"
        raw = text.encode()
        sha = hashlib.sha1(b"commit %d\0" % len(raw) + raw).hexdigest()
        self.commits[sha] = Commit(sha, dict(files))
        self.branches[branch] = sha
        return sha

    def resolve(self, rev: str) -> Commit | None:
        sha = self.branches.get(rev) or self.tags.get(rev) or rev
        return self.commits.get(sha)


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.log: list[tuple[str, str]] = []
        self.tamper: dict[tuple[str, str], bytes] = {}
        self.extra_entries: dict[str, list[dict[str, Any]]] = {}
        self.hold: dict[tuple[str, str], threading.Event] = {}
        self.holding = threading.Event()
        self.url = ""
        self._lock = threading.Lock()

    def repo(self, repo_id: str) -> HubRepo:
        return self.repos.setdefault(repo_id, HubRepo(repo_id))

    def requests_for(self, repo_id: str) -> list[tuple[str, str]]:
        with self._lock:
            return [r for r in self.log if repo_id in r[1]]

    # -- routes ------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/models/{org}/{name}/revision/{rev}", self.info),
                Route("/api/models/{org}/{name}/refs", self.refs),
                Route("/api/models/{org}/{name}/tree/{rev}", self.tree),
                Route("/api/models/{org}/{name}", self.info),
                Route("/{org}/{name}/resolve/{rev}/{path:path}", self.resolve, methods=["GET", "HEAD"]),
            ]
        )

    def _note(self, request: Request) -> None:
        with self._lock:
            self.log.append((request.method, request.url.path))

    def _find(self, request: Request) -> tuple[HubRepo | None, Commit | None]:
        self._note(request)
        repo = self.repos.get(f"{request.path_params['org']}/{request.path_params['name']}")
        if repo is None:
            return None, None
        return repo, repo.resolve(request.path_params.get("rev", "main"))

    @staticmethod
    def _error(code: str, status: int = 404, commit: str | None = None) -> Response:
        headers = {"X-Error-Code": code, "X-Error-Message": code}
        if commit:
            headers["X-Repo-Commit"] = commit
        return JSONResponse({"error": code}, status_code=status, headers=headers)

    async def info(self, request: Request) -> Response:
        repo, commit = self._find(request)
        if repo is None:
            return self._error("RepoNotFound", 401)
        if commit is None:
            return self._error("RevisionNotFound")
        siblings = [{"rfilename": p} for p in sorted(commit.files)]
        return JSONResponse(
            {
                "id": repo.repo_id,
                "modelId": repo.repo_id,
                "sha": commit.sha,
                "siblings": siblings,
                "private": False,
                "tags": [],
            }
        )

    async def refs(self, request: Request) -> Response:
        repo, _ = self._find(request)
        if repo is None:
            return self._error("RepoNotFound", 401)

        def refs(kind: str, items: dict[str, str]) -> list[dict[str, str]]:
            return [
                {"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": c} for n, c in sorted(items.items())
            ]

        return JSONResponse(
            {"branches": refs("heads", repo.branches), "tags": refs("tags", repo.tags), "converts": []}
        )

    async def tree(self, request: Request) -> Response:
        repo, commit = self._find(request)
        if repo is None:
            return self._error("RepoNotFound", 401)
        if commit is None:
            return self._error("RevisionNotFound")
        entries = [commit.entry(p) for p in sorted(commit.files)]
        folders = sorted({p.rsplit("/", 1)[0] for p in commit.files if "/" in p})
        entries += [
            {"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0}
            for f in folders
        ]
        entries += self.extra_entries.get(repo.repo_id, [])
        return JSONResponse(entries)

    async def resolve(self, request: Request) -> Response:
        repo, commit = self._find(request)
        if repo is None:
            return self._error("RepoNotFound", 401)
        if commit is None:
            return self._error("RevisionNotFound")
        path = request.path_params["path"]
        if path not in commit.files:
            return self._error("EntryNotFound", commit=commit.sha)
        data = commit.files[path]
        etag = hashlib.sha256(data).hexdigest() if commit.is_lfs(path) else git_blob_id(data)
        body = self.tamper.get((repo.repo_id, path), data)
        if request.method == "GET" and (gate := self.hold.get((repo.repo_id, path))) is not None:
            self.holding.set()
            await asyncio.to_thread(gate.wait, 60)  # (a bound: a gate nobody opens lets go by itself)
        headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{etag}"', "Content-Length": str(len(body))}
        if request.method == "HEAD":
            return Response(b"", headers=headers)
        return Response(body, headers=headers, media_type="application/octet-stream")


@contextmanager
def serve(hub: FakeHub, port: int) -> Iterator[str]:
    """Run the hub with uvicorn in a thread on 127.0.0.1; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(hub.app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def started() -> bool:
        if not thread.is_alive():
            raise RuntimeError("the test hub did not start")
        return bool(server.started)

    wait_until(started, 20, what="the test hub listens")
    hub.url = f"http://127.0.0.1:{port}"
    try:
        yield hub.url
    finally:
        server.should_exit = True
        thread.join(10)
