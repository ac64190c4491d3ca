"""A TorchHub pull end to end: checks, fetch, unpack, the admitted hubconf.py run offline, registration.

The entrypoint runs with ``torch.hub.load(folder, entrypoint, source="local")`` with downloads
refused (``interfaces/torch_hubconf.run_entrypoint``: ``torch.hub``'s folder and ``TORCH_HOME`` point
at an empty temporary folder, ``torch.hub.download_url_to_file`` and ``urllib.request.urlopen``
raise): weights must come from the snapshot itself, and any download attempt refuses the pull, even
one the entrypoint caught. The version registered keeps the module's ``state_dict`` as
``model.safetensors`` + sidecar and the pinned archive itself (flavor ``mlgate_torchhub``); serving
rebuilds the architecture from that archive's hubconf.py and loads the verified weights into it. It
serves through ``ml_predict`` and compiles to ONNX like any PyTorch version. Blocking code: run it
in a thread.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlgate.adapters.torch_hubconf import ARCHIVE, run_entrypoint
from mlgate.artifacts import staging_dir
from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.errors import InvalidInput, Refused
from mlgate.state.admissions import AdmissionBook
from mlgate.supply import torchhub as th


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
        module = run_entrypoint(files, ref.entrypoint)
        info = _register(settings, module, archive, ref, pin, admitted_by, register_as, features)
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            files.rename(final)
    return info, ref, pin


def _register(
    settings: Settings,
    module: Any,
    archive: Path,
    ref: th.HubRef,
    pin: str,
    admitted_by: str,
    name: str,
    features: list[str],
) -> VersionInfo:
    import numpy as np
    import pandas as pd
    import torch
    import yaml
    from mlflow.models import infer_signature

    from mlgate.adapters import torch_weights
    from mlgate.models.registrar import Registrar

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
        return found
    x = np.random.default_rng(0).normal(size=(64, len(features))).astype(np.float32)
    with torch.no_grad():
        try:
            y = np.asarray(module(torch.from_numpy(x)).numpy())
        except Exception as exc:
            raise Refused(
                f"{ref} does not take {len(features)} float inputs per row: {str(exc)[:200]}",
                "pass the model's input features with --features",
            ) from None
    frame = pd.DataFrame(x.astype(np.float64), columns=features)
    meta = {"sample": x.tolist(), "lineage": {"torchhub": str(ref), "archive_sha256": pin}}
    conf = {
        "data": torch_weights.WEIGHTS,
        "archive": ARCHIVE,
        "archive_sha256": pin,
        "entrypoint": ref.entrypoint,
        "ref": str(ref),
        "torch_version": torch.__version__.split("+")[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        torch_weights.write(torch_weights.state_of(module), folder, {"torchhub": str(ref)})
        (folder / ARCHIVE).parent.mkdir(parents=True)
        shutil.copyfile(archive, folder / ARCHIVE)
        mlmodel = {
            "artifact_path": "model",
            "flavors": {"mlgate_torchhub": conf},
            "signature": infer_signature(frame, y).to_dict(),
            "metadata": {"mlgate": meta},
        }
        (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
        desc = f"TorchHub {ref} (archive sha256 {pin[:12]}…): weights as safetensors, architecture from hubconf.py"
        return reg.register_dir(name, folder, description=desc, extra_tags=tags)
