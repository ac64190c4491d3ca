"""Warm starts: before the first call, do what the first call would otherwise pay for.

Started by ``mlgate serve`` (stdio and HTTP) as a background task on the server's event loop,
so both transports answer while it runs; ``/readyz`` says when it is done. In order:

1. open what serving needs: the state database, the kill switch (and the alias generations it
   follows), the ledger, the executor with its guard rules;
2. list the registry (this imports MLflow and opens its client);
3. for each alias in ``MLGATE_WARM_ALIASES`` (default ``production``; empty: no warm-up), in
   that order, every version the alias points to: load it into the model cache through the
   same single-flight path a call takes (a call arriving meanwhile waits for that load instead
   of starting its own), which imports its flavor's library, and keep the alias answer;
4. once all are loaded (so the measurement is not disturbed by other loads' imports), make one
   call on each version's stored sample row (predictors and classifiers) so the executor has
   measured it and chosen batching or not — the first agent call pays nothing the second does
   not.

A version that would not fit in what is left of ``MLGATE_CACHE_MB`` (its size read from a
local artifact store) is not loaded, only its flavor's library imported: warm-up never evicts.

While it runs, loads take turns (``ModelStore.serial_loads``) and MLflow is first imported under a
lock (``mlflow_registry``): two threads importing one library at once can deadlock or leave it half
built (mlflow's protobuf modules do), and a call arriving during the warm-up loads in another thread.

A version that fails to load (refused, missing, broken) is reported in ``status()`` and the
log; it does not keep the replica from being ready (it would fail just the same on a call).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import anyio
import numpy as np

from mlgate.domain import LoadedModel, VersionInfo
from mlgate.serving.runtime import Runtime

log = logging.getLogger(__name__)

# MLmodel flavor → the library its adapter imports (what a version too large to load still warms)
FLAVOR_LIBRARIES: dict[str, str] = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "onnx": "onnxruntime",
    "mlgate_torch": "torch",
    "pytorch": "torch",
    "transformers": "transformers",
    "statsmodels": "statsmodels.api",
    "prophet": "prophet",
    "pyfunc": "mlflow.pyfunc",
}
ROW_METHODS = {"predictor": "predict", "classifier": "classify"}

State = Literal["pending", "warming", "ready"]


def targets(versions: Sequence[VersionInfo], aliases: Sequence[str]) -> list[tuple[str, VersionInfo]]:
    """``(name@alias, version)`` for every version an alias in ``aliases`` points to: aliases in the
    order given, models by name; a version under two aliases once (under the first)."""
    seen: set[tuple[str, int]] = set()
    out: list[tuple[str, VersionInfo]] = []
    for alias in aliases:
        for info in sorted(versions, key=lambda v: (v.name, v.version)):
            if alias in info.aliases and info.key not in seen:
                seen.add(info.key)
                out.append((f"{info.name}@{alias}", info))
    return out


class Warmup:
    def __init__(self, rt: Runtime, aliases: Sequence[str] | None = None) -> None:
        self.rt = rt
        self.aliases = [a for a in (rt.settings.warm_aliases if aliases is None else aliases) if a]
        self.state: State = "pending" if self.aliases else "ready"
        self.loaded: list[str] = []  # "name@alias → version N"
        self.imported: list[str] = []  # libraries of versions that were not loaded
        self.skipped: list[str] = []
        self.errors: list[str] = []
        self.seconds: float | None = None
        self._done = asyncio.Event()
        if not self.aliases:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    async def wait(self) -> None:
        """Until the warm-up finished (at once when there is none)."""
        await self._done.wait()

    def public_status(self) -> dict[str, Any]:
        """What the unauthenticated ``/readyz`` shows: counts, no model names (those are in the log)."""
        return {
            "state": self.state,
            "loaded": len(self.loaded),
            "skipped": len(self.skipped),
            "errors": len(self.errors),
            "seconds": self.seconds,
        }

    def status(self) -> dict[str, Any]:
        """In full: which references were loaded, skipped, failed (and the libraries imported)."""
        return {
            "state": self.state,
            "aliases": self.aliases,
            "loaded": self.loaded,
            "imported": self.imported,
            "skipped": self.skipped,
            "errors": self.errors,
            "seconds": self.seconds,
        }

    async def run(self) -> None:
        if self.state != "pending":
            return
        self.state = "warming"
        t0 = time.perf_counter()
        self.rt.models.serial_loads = threading.Lock()  # a call's load waits for the warm-up's current one
        try:
            await anyio.sleep(0)  # let the transport start first
            self._open_serving()
            versions = await self.rt.models.list_versions()
            loaded = [
                m for ref, info in targets(versions, self.aliases) if (m := await self._warm(ref, info))
            ]
            for model in loaded:  # once every load is done: measured on a quiet process, as a call would be
                await self._first_call(model)
        except Exception as exc:
            self.errors.append(f"warm-up stopped: {type(exc).__name__}: {exc}"[:500])
            log.exception("warm-up stopped")
        finally:
            self.rt.models.serial_loads = None
            self.seconds = round(time.perf_counter() - t0, 3)
            self.state = "ready"
            self._done.set()
            log.info(
                "warm-up done in %.1f s: loaded %s; not loaded %s; errors %s",
                self.seconds,
                "; ".join(self.loaded) or "none",
                "; ".join(self.skipped) or "none",
                "; ".join(self.errors) or "none",
            )

    def _open_serving(self) -> None:
        """What the first call opens (on the event loop, as a call would: these are created once)."""
        rt = self.rt
        rt.killswitch  # noqa: B018 -- cached properties: touching them opens them
        rt.ledger  # noqa: B018
        rt.executor  # noqa: B018

    async def _warm(self, ref: str, info: VersionInfo) -> LoadedModel | None:
        cache = self.rt.models.cache
        if cache.has(info.key):
            self.loaded.append(f"{ref} → version {info.version} (already loaded)")
            return None
        try:
            size = await anyio.to_thread.run_sync(self._local_size, info)
            left = cache.stats().budget_bytes - cache.total_bytes
            if size is not None and size > left:
                self.skipped.append(
                    f"{ref} → version {info.version}: {size} bytes, {max(left, 0)} left in MLGATE_CACHE_MB"
                )
                await self._import_flavor(info)
                return None
            loaded, _ = await self.rt.models.acquire(ref)
        except Exception as exc:
            self.errors.append(f"{ref}: {type(exc).__name__}: {exc}"[:500])
            log.warning("warm-up: %s did not load: %s", ref, exc)
            return None
        self.loaded.append(f"{ref} → version {loaded.info.version}")
        return loaded

    def _local_size(self, info: VersionInfo) -> int | None:
        """Bytes of the version's artifact when the store is a local folder; None when unknown."""
        from mlgate.artifacts import model_files
        from mlgate.models.resolvers import MlflowResolver

        resolver = self.rt.models.resolver
        if not isinstance(resolver, MlflowResolver):
            return None
        uri = resolver.registry.download_uri(info.name, info.version)
        parts = urlsplit(uri)
        if parts.scheme not in ("", "file"):
            return None
        path = Path(unquote(parts.path))
        if path.is_file():
            return path.stat().st_size
        if not path.is_dir():
            return None
        return sum(p.stat().st_size for p in model_files(path))

    async def _import_flavor(self, info: VersionInfo) -> None:
        """Import the library a version's flavor needs (read from its MLmodel, nothing loaded)."""
        try:
            described = await self.rt.models.describe(info)
            library = FLAVOR_LIBRARIES.get(described.flavor)
            if library is not None:
                await anyio.to_thread.run_sync(importlib.import_module, library)
                self.imported.append(library)
        except Exception as exc:
            log.info("warm-up: the flavor of %s@%s was not imported: %s", info.name, info.version, exc)

    async def _first_call(self, loaded: LoadedModel) -> None:
        """One call on the version's stored sample row: the executor measures it and picks batching."""
        info = loaded.info
        method = next((ROW_METHODS[i] for i in info.interfaces if i in ROW_METHODS), None)
        sample = loaded.extra.get("sample")
        if method is None or not sample or getattr(loaded.impl, "call_cost_s", None) is not None:
            return  # not row-shaped, no sample, or a remote engine (never called without a caller)
        try:
            rows = np.asarray(sample[:1], dtype=np.float64)
            await self.rt.executor.rows(loaded, method, rows)
        except Exception as exc:
            log.info("warm-up: the first call of %s@%s failed: %s", info.name, info.version, exc)
