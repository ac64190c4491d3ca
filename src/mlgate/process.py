"""Process-wide patches, all in one place, each behind its own lock.

A few libraries keep state per *process*, not per object: MLflow's fluent API reads one tracking and
one registry URI; ``torch.hub`` has one cache folder and ``urllib.request.urlopen`` is one module
attribute; ``prometheus_client`` picks one value class for every metric. mlgate must change each of
them at some point, and two threads changing one of them differently would each see the other's
change. So nothing else in mlgate touches them: it calls this module, which

- holds a lock (or a condition) per patched thing while changing it;
- is a context manager that restores what it changed on the way out — also after an exception —
  or an idempotent function where the change is meant to last (a second call changes nothing).

The patches:

``mlflow_uris(uri)`` / ``point_mlflow_at(uri)``
    MLflow's tracking and registry URIs (``mlflow.set_tracking_uri`` / ``set_registry_uri``).
``torch_hub_offline(folder, attempts)``
    ``torch.hub``'s folder, ``TORCH_HOME``, ``torch.hub.download_url_to_file``,
    ``urllib.request.urlopen`` and the modules a hubconf.py imports (``sys.modules``), while an
    admitted hubconf.py's entrypoint runs.
``prometheus_multiprocess(path)``
    ``prometheus_client``'s value class and ``PROMETHEUS_MULTIPROC_DIR``.

Heavy libraries are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# -- MLflow's tracking and registry URIs ---------------------------------------------------------------

_MLFLOW = threading.Condition()
_mlflow_uri: str | None = None  # what the open blocks point at (None: no block open)
_mlflow_blocks = 0  # open mlflow_uris blocks, of every thread
_mlflow_before: tuple[str, str] | None = None  # the URIs before the first open block
_mlflow_mine = threading.local()  # per thread: the URI and depth of its own open blocks


def _set_mlflow(tracking: str, registry: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)


def _check_own(uri: str) -> None:
    mine: str | None = getattr(_mlflow_mine, "uri", None)
    if mine is not None and mine != uri:
        raise RuntimeError(
            f"this thread holds MLflow's URIs at {mine!r}: it cannot point them at {uri!r} inside that block"
        )


@contextlib.contextmanager
def mlflow_uris(uri: str) -> Iterator[None]:
    """MLflow's tracking *and* registry URI pointed at ``uri`` for the block.

    Why process-wide: the fluent API (``start_run``, ``log_model``, ``log_artifacts``,
    ``register_model``) takes no client; it reads the URIs ``mlflow.set_tracking_uri`` and
    ``set_registry_uri`` set for the whole process. Blocks for the same URI run side by side (one
    server has one registry: its registrations never wait for each other); a block for another
    registry waits until they are done, else its runs would land in theirs. The URIs from before
    the first block are put back after the last one, also when a block raises.
    """
    global _mlflow_uri, _mlflow_blocks, _mlflow_before
    import mlflow

    _check_own(uri)
    with _MLFLOW:
        _MLFLOW.wait_for(lambda: _mlflow_blocks == 0 or _mlflow_uri == uri)
        if _mlflow_blocks == 0:
            _mlflow_before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
            _mlflow_uri = uri
            _set_mlflow(uri, uri)
        _mlflow_blocks += 1
    depth: int = getattr(_mlflow_mine, "depth", 0)
    _mlflow_mine.uri, _mlflow_mine.depth = uri, depth + 1
    try:
        yield
    finally:
        _mlflow_mine.depth = depth
        if depth == 0:
            _mlflow_mine.uri = None
        with _MLFLOW:
            _mlflow_blocks -= 1
            if _mlflow_blocks == 0:
                assert _mlflow_before is not None
                _set_mlflow(*_mlflow_before)
                _mlflow_uri = _mlflow_before = None
                _MLFLOW.notify_all()


def point_mlflow_at(uri: str) -> None:
    """Point MLflow's URIs at ``uri`` and leave them there (a ``Registrar`` does, for MLflow code that
    runs after it: the demo, an operator's script). Idempotent; waits while blocks of ``mlflow_uris``
    hold another URI, and what they restore afterwards is ``uri``."""
    global _mlflow_before
    _check_own(uri)
    with _MLFLOW:
        _MLFLOW.wait_for(lambda: _mlflow_blocks == 0 or _mlflow_uri == uri)
        if _mlflow_blocks:
            _mlflow_before = (uri, uri)
        else:
            _set_mlflow(uri, uri)


# -- torch.hub and urlopen while a hubconf.py runs ----------------------------------------------------

_TORCH_HUB = threading.Lock()


class DownloadRefused(Exception):
    """A download an entrypoint attempted while ``torch_hub_offline`` held the network closed."""


@contextlib.contextmanager
def torch_hub_offline(folder: Path, attempts: list[str]) -> Iterator[None]:
    """While the block runs ``torch.hub.load(folder, …, source="local")``: ``torch.hub``'s folder and
    ``TORCH_HOME`` are an empty temporary folder, and this thread's ``torch.hub.download_url_to_file``
    and ``urllib.request.urlopen`` raise ``DownloadRefused`` (each URL is appended to ``attempts``;
    other threads pass through to the originals). Afterwards everything is put back — also after an
    exception — and the modules imported from ``folder`` are dropped from ``sys.modules`` (they do
    not outlive the snapshot, nor meet another repository's).

    Why process-wide: the hub folder, the environment, the two download functions (module
    attributes) and ``sys.modules`` are one per process, so loads take turns (one lock)."""
    import urllib.request

    import torch.hub

    me = threading.get_ident()

    def refusing(original: Callable[..., Any]) -> Callable[..., Any]:
        def refuse(url: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != me:
                return original(url, *args, **kwargs)
            attempts.append(str(getattr(url, "full_url", url))[:300])
            raise DownloadRefused(f"download of {attempts[-1]} refused: weights must be in the snapshot")

        return refuse

    with _TORCH_HUB, tempfile.TemporaryDirectory() as empty:
        before = set(sys.modules)
        saved = (torch.hub.get_dir(), torch.hub.download_url_to_file, urllib.request.urlopen)
        home = os.environ.get("TORCH_HOME")
        torch.hub.set_dir(empty)
        os.environ["TORCH_HOME"] = empty
        torch.hub.download_url_to_file = refusing(saved[1])
        urllib.request.urlopen = refusing(saved[2])
        try:
            yield
        finally:
            torch.hub.set_dir(saved[0])
            torch.hub.download_url_to_file = saved[1]
            urllib.request.urlopen = saved[2]
            if home is None:
                os.environ.pop("TORCH_HOME", None)
            else:
                os.environ["TORCH_HOME"] = home
            for name in set(sys.modules) - before:
                if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(folder)):
                    del sys.modules[name]


# -- prometheus_client's value class ------------------------------------------------------------------

_PROMETHEUS = threading.Lock()


def prometheus_multiprocess(path: Path) -> None:
    """Switch this process's ``prometheus_client`` values to memory-mapped files under ``path``
    (``PROMETHEUS_MULTIPROC_DIR``), so one ``/metrics`` shows every worker process's calls.

    Why process-wide: ``prometheus_client`` chooses one value class (``values.ValueClass``) for every
    metric of the process, from the environment it saw when first imported. Idempotent: a second call
    leaves the class as it is (and points the variable at ``path``)."""
    from prometheus_client import values

    with _PROMETHEUS:
        path.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        if values.ValueClass is values.MutexValue:  # imported before the variable was set
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
