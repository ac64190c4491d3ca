"""The ``mlgate_torchhub`` flavor: weights in a verified safetensors file, architecture from an admitted hubconf.py.

A TorchHub pull is registered as a folder holding ``model.safetensors`` + ``model.safetensors.sha256``
(the entrypoint's ``state_dict``), ``hub/archive.tar.gz`` (the pinned archive, byte for byte) and an
MLmodel whose flavor names the entrypoint, the repository, the commit and the archive's SHA-256.
Loading, in this order: the version must be admitted (the resolver checked the admission at the
folder's digest; ``admitted`` is that verdict); the weights are checked against their sidecar and
parsed (no code); the archive is hashed and compared with the recorded pin; it is unpacked into a
private temporary folder, entries checked (``unpack``); ``torch.hub.load(folder, entrypoint,
source="local")`` rebuilds the architecture with downloads refused (``run_entrypoint``); the weights
go in with ``load_state_dict(strict=True)``. Whatever the entrypoint loaded itself is overwritten by
the verified weights; ``torch.load`` is never called by mlgate. A version an agent pulled
(``supply/torchhub_pull``) holds no weights file: the entrypoint's own weights, from the pinned archive, serve.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
import tempfile
import weakref
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.adapters.pytorch import TorchModel
from mlgate.domain import Feature
from mlgate.errors import IntegrityError, InvalidInput, Refused
from mlgate.process import DownloadRefused, torch_hub_offline

ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
ARCHIVE = "hub/archive.tar.gz"
CHUNK = 1 << 20


def unpack(archive: Path, dest: Path) -> None:
    """Regular files and folders of a .tar.gz, the archive's single top folder stripped; refuses any entry that
    is absolute, climbs with ``..``, is a link or a device."""
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for m in members:
            p = PurePosixPath(m.name)
            if m.name.startswith(("/", "\\")) or "\\" in m.name or ".." in p.parts or "\x00" in m.name:
                raise Refused(f"the archive entry {m.name!r} escapes the snapshot", "refusing path traversal")
            if not (m.isfile() or m.isdir()):
                raise Refused(
                    f"the archive entry {m.name!r} is a link or a device", "refusing links in archives"
                )
        tops = {PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts}
        strip = 1 if len(tops) == 1 and any(len(PurePosixPath(m.name).parts) > 1 for m in members) else 0
        root = dest.resolve()
        for m in members:
            parts = PurePosixPath(m.name).parts[strip:]
            if not parts or not m.isfile():
                continue
            target = root.joinpath(*parts).resolve()
            if not target.is_relative_to(root):
                raise Refused(f"the archive entry {m.name!r} escapes the snapshot", "refusing path traversal")
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(m)
            if src is None:  # pragma: no cover - isfile() members always have data
                continue
            with src, target.open("wb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
    if not (dest / "hubconf.py").is_file():
        raise InvalidInput(
            "the archive has no hubconf.py at its top", "pin the archive of a TorchHub repository"
        )


def run_entrypoint(folder: Path, entrypoint: str) -> Any:
    """The torch module ``entrypoint`` of the hubconf.py in ``folder`` returns, built with downloads refused."""
    import torch

    if not ENTRY.match(entrypoint):
        raise InvalidInput(f"{entrypoint!r} is not an entrypoint name", "name a function of hubconf.py")
    attempts: list[str] = []
    try:  # downloads refused, one load at a time, its modules dropped afterwards (mlgate/process.py)
        with torch_hub_offline(folder, attempts):
            module = torch.hub.load(str(folder), entrypoint, source="local")  # type: ignore[no-untyped-call, unused-ignore]
    except DownloadRefused:
        module = None
    except Exception as exc:
        raise Refused(
            f"the entrypoint {entrypoint!r} failed: {type(exc).__name__}: {str(exc)[:300]}",
            "check the entrypoint name and that the repository needs nothing beyond torch",
        ) from None
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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HubTorchModel(TorchModel):
    """A TorchModel that keeps the unpacked repository alive as long as the model (code may import lazily)."""

    def __init__(self, module: Any, features: Sequence[Feature], code: Path) -> None:
        super().__init__(module, features)
        self.code = code
        # removed with the model (an evicted model is garbage, not closed): quietly, unlike a TemporaryDirectory
        # left to its finalizer, which warns
        weakref.finalize(self, shutil.rmtree, code, ignore_errors=True)


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,
) -> HubTorchModel:
    from mlgate.adapters import torch_weights

    ref = str(flavor_conf.get("ref") or "a TorchHub repository")
    if not admitted:
        raise Refused(
            f"this version rebuilds its architecture by running the hubconf.py of {ref}, and it is not admitted",
            "an operator pulls it with `mlgate torchhub pull`, or admits it: `mlgate torchhub admit owner/repo@<commit>` "
            "or `mlgate models admit NAME VERSION`",
        )
    # the weights first: a tampered file stops here, before any code runs; an agent's pull (``supply/torchhub_pull``)
    # keeps none: the entrypoint loads the ones its pinned archive ships, downloads refused
    state = torch_weights.read(model_dir) if flavor_conf.get("data") else None
    archive = (model_dir / str(flavor_conf.get("archive", ARCHIVE))).resolve()
    if not archive.is_relative_to(model_dir.resolve()) or not archive.is_file():
        raise IntegrityError(f"the archive of {ref} is missing from the version", "pull it again")
    pinned, found = str(flavor_conf.get("archive_sha256", "")), sha256_of(archive)
    if found != pinned:
        raise IntegrityError(
            f"the archive of {ref} hashes to {found}, not the admitted {pinned or '(none recorded)'}",
            "the version changed after it was registered; pull it again",
        )
    code = Path(tempfile.mkdtemp(prefix="mlgate-torchhub-"))
    try:
        repo = code / "repo"
        repo.mkdir()
        unpack(archive, repo)
        module = run_entrypoint(repo, str(flavor_conf.get("entrypoint", "")))
        if state is not None:
            module = torch_weights.put(module, state)
    except BaseException:
        shutil.rmtree(code, ignore_errors=True)
        raise
    return HubTorchModel(module, features, code)
