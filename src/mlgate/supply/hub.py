"""Serving pulled snapshots: the resolver behind ``hf:org/repo@<revision>`` references.

It reads the pull cache only and never touches the network: a snapshot must have been
pulled with ``ml_pull`` (scope ``ml:manage``) before an inference tool can use it. A tag
or branch resolves to the commit it pointed at when it was pulled. Each snapshot is
one version named ``hf:org/repo@<commit>`` (version 0); its ``sha256`` is the digest
of the served model file (for an ONNX or skops file, the Hub's own LFS SHA-256).
"""

from __future__ import annotations

from mlgate.config import Settings
from mlgate.domain import LoadedModel, VersionInfo
from mlgate.errors import NotFound
from mlgate.models.ref import ModelRef
from mlgate.supply import served
from mlgate.supply.pull import store_for
from mlgate.supply.pull_cache import COMMIT, Manifest


class HubResolver:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = store_for(settings)
        self._memo: dict[tuple[str, str], tuple[int, Manifest]] = {}

    def _info(self, manifest: Manifest) -> VersionInfo:
        tags = {
            "hf.repo": manifest.repo_id,
            "hf.commit": manifest.commit,
            "hf.manifest_sha256": manifest.sha256,
        }
        return VersionInfo(
            name=f"hf:{manifest.repo_id}@{manifest.commit}",
            version=0,
            interfaces=(),
            flavor="",
            source=str(self.store.files_dir(manifest.repo_id, manifest.commit)),
            tags=tags,
            description=f"Snapshot of {manifest.repo_id} at commit {manifest.commit}, pulled from the Hub",
            created_at=int(manifest.pulled_at * 1000),
        )

    def resolve(self, ref: ModelRef) -> VersionInfo:
        if ref.source != "hf" or ref.alias is None:
            raise NotFound(f"{ref} is not a Hub snapshot reference", "use 'hf:org/repo@<commit>'")
        if COMMIT.match(ref.alias):
            commit: str | None = ref.alias
        else:
            rec = self.store.ref(ref.name, ref.alias)
            commit = rec.commit if rec else None
        manifest = self._manifest(ref.name, commit) if commit else None
        if manifest is None:
            raise NotFound(
                f"hf:{ref.name}@{ref.alias} has not been pulled into this server's cache",
                "pull it first with ml_pull (scope ml:manage), then use the commit it returns",
            )
        return self._info(manifest)

    def _manifest(self, repo: str, commit: str) -> Manifest | None:
        """The snapshot's manifest, parsed once per change of the file (resolution runs on every call)."""
        path = self.store.snapshot_dir(repo, commit) / "manifest.json"
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        hit = self._memo.get((repo, commit))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        manifest = self.store.manifest(repo, commit)
        if manifest is not None:
            self._memo[(repo, commit)] = (stamp, manifest)
        return manifest

    def load(self, info: VersionInfo) -> LoadedModel:
        repo, _, commit = info.name.removeprefix("hf:").rpartition("@")
        manifest = self._manifest(repo, commit)
        if manifest is None:
            raise NotFound(f"{info.name} is no longer in the pull cache", "pull it again with ml_pull")
        return served.load(self.store.files_dir(repo, commit), manifest, info)

    def list_versions(self) -> list[VersionInfo]:
        return [self._info(m) for m in self.store.snapshots()]
