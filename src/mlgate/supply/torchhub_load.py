"""A TorchHub pull end to end: checks, fetch, unpack, the admitted hubconf.py run offline, registration.

The entrypoint runs with ``torch.hub.load(folder, entrypoint, source="local")`` while
``torch.hub``'s folder and ``TORCH_HOME`` point at an empty temporary folder and
``torch.hub.download_url_to_file`` and ``urllib.request.urlopen`` refuse: weights must come
from the snapshot itself. Any download attempt refuses the pull, even one the entrypoint
caught. (Other HTTP clients a hubconf.py imports are not intercepted; the admission is the
operator's review of that code.) The module is traced to TorchScript and registered through
``mlflow.pytorch`` with lineage tags ``torchhub.*``; it serves through the torch/pyfunc path
and compiles to ONNX like any PyTorch version. Blocking code: run it in a thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlgate.artifacts import staging_dir
from mlgate.config import Settings
from mlgate.errors import InvalidInput, Refused
from mlgate.interfaces.base import VersionInfo
from mlgate.state.admissions import AdmissionBook
from mlgate.supply import torchhub as th


class DownloadAttempt(Exception):
    pass


def pull_torchhub(
    settings: Settings,
    ref_text: str,
    *,
    register_as: str,
    features: list[str],
    book: AdmissionBook | None = None,
) -> tuple[VersionInfo, th.HubRef, str]:
    """(the registered version, the ref, the archive digest); refuses with nothing left behind."""
    from mlgate.state.db import StateDB

    ref = th.parse(ref_text)
    th.check_allowed(settings, ref)
    pin = th.pinned(settings, ref)
    if not features:
        raise InvalidInput("a TorchHub model needs its input feature names", "pass --features f0,f1,…")
    admitted_by = th.check_admitted(book or AdmissionBook(StateDB(settings.state)), ref, pin)
    root = settings.home / "torchhub"
    final = root / ref.owner / ref.repo / ref.commit
    with staging_dir(root) as stage:
        archive = stage / "archive.tar.gz"
        th.fetch(th.url_for(settings, ref), archive, pin)
        files = stage / "files"
        files.mkdir()
        th.unpack(archive, files)
        module = load_entrypoint(files, ref.entrypoint)
        info = _register(settings, module, ref, pin, admitted_by, register_as, features)
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            files.rename(final)
    return info, ref, pin


@contextlib.contextmanager
def _network_closed(empty: str, attempts: list[str]) -> Iterator[None]:
    import urllib.request

    import torch.hub

    def refuse(url: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(str(getattr(url, "full_url", url))[:300])
        raise DownloadAttempt(f"download of {attempts[-1]} refused: weights must be in the snapshot")

    saved = (torch.hub.get_dir(), torch.hub.download_url_to_file, urllib.request.urlopen)
    home = os.environ.get("TORCH_HOME")
    torch.hub.set_dir(empty)
    os.environ["TORCH_HOME"] = empty
    torch.hub.download_url_to_file = refuse
    urllib.request.urlopen = refuse
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


def load_entrypoint(folder: Path, entrypoint: str) -> Any:
    import torch

    attempts: list[str] = []
    before = set(sys.modules)
    try:
        with tempfile.TemporaryDirectory() as empty, _network_closed(empty, attempts):
            module = torch.hub.load(str(folder), entrypoint, source="local")  # type: ignore[no-untyped-call]
    except DownloadAttempt:
        module = None
    except Exception as exc:
        raise Refused(
            f"the entrypoint {entrypoint!r} failed: {type(exc).__name__}: {str(exc)[:300]}",
            "check the entrypoint name and that the repository needs nothing beyond torch",
        ) from None
    finally:  # modules imported from the snapshot do not outlive it
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(folder)):
                del sys.modules[name]
    if attempts:
        raise Refused(
            f"the entrypoint {entrypoint!r} tried to download {attempts[0]} at load",
            "weights must be in the pinned snapshot (load them from the repository folder); "
            "mlgate does not download at load",
        )
    if not isinstance(module, torch.nn.Module):
        raise Refused(
            f"the entrypoint {entrypoint!r} returned {type(module).__name__}, not a torch module", ""
        )
    return module.eval()


def _register(
    settings: Settings,
    module: Any,
    ref: th.HubRef,
    pin: str,
    admitted_by: str,
    name: str,
    features: list[str],
) -> VersionInfo:
    import mlflow.pytorch
    import numpy as np
    import pandas as pd
    import torch
    from mlflow.models import infer_signature

    from mlgate.models.registry import Registrar

    tags = {
        "torchhub.repo": ref.repo_id,
        "torchhub.commit": ref.commit,
        "torchhub.entrypoint": ref.entrypoint,
        "torchhub.archive_sha256": pin,
        "torchhub.admitted_by": admitted_by,
        "torchhub.ref": str(ref),
    }
    reg = Registrar(settings, admit_by=f"{admitted_by} (admitted {ref.admission_name})")
    found = reg.registry.find_version(name, tags)
    if found is not None:
        return found  # type: ignore[no-any-return]
    x = np.random.default_rng(0).normal(size=(64, len(features))).astype(np.float32)
    with torch.no_grad():
        try:
            scripted = torch.jit.trace(module, torch.from_numpy(x))  # type: ignore[no-untyped-call]
            y = scripted(torch.from_numpy(x)).numpy()
        except Exception as exc:
            raise Refused(
                f"{ref} does not take {len(features)} float inputs per row: {str(exc)[:200]}",
                "pass the model's input features with --features",
            ) from None
    frame = pd.DataFrame(x.astype(np.float64), columns=features)
    meta = {"sample": x.tolist(), "lineage": {"torchhub": str(ref), "archive_sha256": pin}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        mlflow.pytorch.save_model(
            scripted,
            str(folder),
            signature=infer_signature(frame, y),
            metadata={"mlgate": meta},
            serialization_format="pickle",
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
        )
        desc = f"TorchHub {ref} (archive sha256 {pin[:12]}…), traced to TorchScript"
        return reg.register_dir(name, folder, description=desc, extra_tags=tags)
