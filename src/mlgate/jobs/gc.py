"""Removing what a killed registration left behind: pending versions, their files and runs, staging folders.

A registration that stopped half-way (its worker SIGKILLed, its host gone) leaves a version
still tagged ``mlgate.pending`` (never served: ``models/pending.py``), the MLflow run and
artifact folder it wrote, and its staging folder under ``MLGATE_HOME/staging``. Each names its
owner — the job, or the process on its host. It is an orphan when that job is no longer
active (reaped first, so a job whose worker died counts as ended), or, without a job, when
its process is gone from this host or it is older than ``older_than`` seconds on another
host. Every ``mlgate worker`` collects at start; ``mlgate jobs gc`` does it on demand; a
compile or retrain collects the orphans of its model before it registers, so a retry
follows a dead attempt's version instead of stacking one beside it.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from mlgate.config import Settings
from mlgate.models.pending import (
    Owner,
    local_dir,
    owner_of,
    parse_owner,
    prune,
    remove_version,
    staging_owner,
)
from mlgate.models.pending import staging_root as staging_root
from mlgate.models.registrar import EXPERIMENT
from mlgate.models.resolvers import MlflowResolver
from mlgate.models.tags import TAG_PENDING
from mlgate.state.jobs import JobStore

log = logging.getLogger("mlgate.jobs")
OLDER_THAN_S = 3600.0  # a registration without a job, on another host, is given this long


def _process_start() -> float:
    """When this process started (Linux /proc), else now: pending things of our own pid from before then
    belong to a former process that had the same pid."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        lines = Path("/proc/stat").read_text().splitlines()
        boot = next(float(x.split()[1]) for x in lines if x.startswith("btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


STARTED = _process_start()


class Collector:
    def __init__(self, settings: Settings, store: JobStore, older_than: float = OLDER_THAN_S) -> None:
        self.settings = settings
        self.store = store
        self.older_than = older_than
        self.resolver = MlflowResolver(settings)

    def orphaned(self, owner: Owner) -> bool:
        if owner.job is not None:
            rec = self.store.get(owner.job)  # ended, or running on a lease nobody renews: dead
            return rec is None or not rec.active or (rec.lease_until or 0.0) < time.time()
        if owner.pid == os.getpid() and owner.alive_here() and owner.at < STARTED:
            return True  # our own pid, recycled (a container's restarted worker)
        alive = owner.alive_here()
        if alive is None:
            return time.time() - owner.at > self.older_than
        return not alive

    def collect(self, name: str | None = None) -> list[str]:
        """Remove the orphans (of model ``name`` only, when given; then staging folders are left): what went."""
        registry = self.resolver.registry
        removed: list[str] = []
        versions = registry.versions(name) if name is not None else registry.all_versions()
        for info in versions:
            owner = owner_of(info)
            if owner is not None and self.orphaned(owner):
                try:
                    removed += remove_version(self.resolver, info)
                except Exception:
                    log.warning("could not remove %s@%s", info.name, info.version, exc_info=True)
        if name is None:
            removed += self._runs() + self._staging()
        if removed:
            log.info("removed what killed registrations left: %s", "; ".join(removed))
        return removed

    def _runs(self) -> list[str]:
        """Runs a registration started (artifacts written) that never got a live version."""
        registry, removed = self.resolver.registry, []
        for run_id, uri, raw in registry.tagged_runs(EXPERIMENT, TAG_PENDING):
            if not self.orphaned(parse_owner(raw)):
                continue
            if any(TAG_PENDING not in v.tags for v in registry.run_versions(run_id)):
                continue  # it completed: the version serves from these files
            folder = local_dir(self.settings, uri)
            registry.delete_run(run_id)
            if folder is not None and folder.exists():
                prune(folder.parent if folder.name == "artifacts" else folder, self.settings)
                removed.append(f"artifact folder of run {run_id}")
        return removed

    def _staging(self) -> list[str]:
        root, removed = staging_root(self.settings), []
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            owner = staging_owner(folder)
            if owner is not None and self.orphaned(owner):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(f"staging folder {folder.name}")
        return removed


def collect(
    settings: Settings, store: JobStore, name: str | None = None, older_than: float = OLDER_THAN_S
) -> list[str]:
    return Collector(settings, store, older_than).collect(name)
