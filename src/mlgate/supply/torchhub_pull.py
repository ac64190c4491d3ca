"""``ml_pull`` with a ``torchhub:owner/repo:entry@<commit>`` ref: an agent's TorchHub pull, as a job.

Every rule of ``mlgate torchhub pull`` (``supply/torchhub.py``) applies, in the same order: the ref names
a commit, the repository is on ``MLGATE_TORCHHUB_ALLOWLIST``, the archive's SHA-256 is pinned in
``MLGATE_TORCHHUB_PINS``; the archive is fetched from ``MLGATE_TORCHHUB_ENDPOINT`` only (nothing else is
downloaded), hashed against the pin before it is opened and unpacked with the traversal-safe unpacker
(no code runs: the unpacked files are only checked and dropped). Unlike the operator's command, an agent's
pull never runs ``hubconf.py``: it registers a version holding the pinned archive (flavor
``mlgate_torchhub`` without a weights file: the entrypoint loads the weights the snapshot ships, downloads
refused) with the interfaces and features the caller declared. That version serves only once an operator
admits it (``mlgate torchhub admit owner/repo@<commit>`` or ``mlgate models admit NAME VERSION``); the
admission gate refuses it by name until then.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from mlgate.adapters.torch_hubconf import ARCHIVE
from mlgate.artifacts import staging_dir
from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.domain import Feature, VersionInfo
from mlgate.errors import InvalidInput
from mlgate.schemas.supply import PulledFile, PullResult
from mlgate.supply import torchhub as th
from mlgate.supply.cancellable import in_thread
from mlgate.supply.pull import Progress

PREFIX = "torchhub:"


def is_torchhub(repo_id: str) -> bool:
    return repo_id.strip().startswith(PREFIX)


def ref_of(repo_id: str, revision: str) -> th.HubRef:
    """``repo_id`` is the whole ref, or ``torchhub:owner/repo:entry`` with the commit in ``revision``."""
    text, rev = repo_id.strip(), revision.strip()
    if "@" not in text:
        text = f"{text}@{rev}"
    ref = th.parse(text)
    if rev and rev != ref.commit:
        raise InvalidInput(
            f"the ref names commit {ref.commit} but revision is {rev!r}",
            "pass the commit once: in the ref (torchhub:owner/repo:entry@<commit>) or as revision",
        )
    return ref


def _check_args(register_as: str | None, features: list[str] | None) -> tuple[str, list[str]]:
    from mlgate.models.ref import check_name

    if not register_as or not register_as.strip():
        raise InvalidInput(
            "a TorchHub pull registers a version: register_as is required",
            'pass register_as, e.g. {"register_as": "tiny", "features": ["a", "b", "c"]}',
        )
    names = [f.strip() for f in features or [] if f.strip()]
    if not names or len(set(names)) != len(names):
        raise InvalidInput(
            "a TorchHub model needs its input feature names, distinct, in the order it takes them",
            'pass features, e.g. ["a", "b", "c"]: nothing runs before an operator admits the hubconf.py',
        )
    check_name(register_as.strip())
    return register_as.strip(), names


async def pull(
    settings: Settings,
    repo_id: str,
    revision: str,
    *,
    register_as: str | None,
    features: list[str] | None,
    caller: Caller,
    progress: Progress,
    before_register: Callable[[], Awaitable[None]] | None = None,
) -> PullResult:
    """Fetch and verify the pinned archive, then register it awaiting admission (see the module docstring)."""
    ref = ref_of(repo_id, revision)
    th.check_allowed(settings, ref)
    pin = th.pinned(settings, ref)
    name, names = _check_args(register_as, features)
    url = th.url_for(settings, ref)
    await progress(0, 3, f"{ref.pin_key}: fetching the pinned archive")
    with staging_dir(settings.home / "torchhub") as stage:
        archive = stage / "archive.tar.gz"
        await in_thread(lambda: th.fetch(url, archive, pin))
        await progress(1, 3, f"archive sha256 {pin[:12]}… matches the pin; checking its entries")
        await in_thread(lambda: _check_entries(archive, stage / "files"))
        size = archive.stat().st_size
        if before_register is not None:
            await before_register()
        await progress(2, 3, f"registering {name} (it serves once an operator admits the hubconf.py)")
        info = await in_thread(lambda: _register(settings, archive, ref, pin, name, names, caller))
    await progress(3, 3, f"registered {info.name}@{info.version}")
    return PullResult(
        repo_id=f"{PREFIX}{ref.repo_id}:{ref.entrypoint}",
        revision=ref.commit,
        revision_kind="commit",
        commit=ref.commit,
        ref=str(ref),
        files=[PulledFile(path="archive.tar.gz", size=size, sha256=pin)],
        manifest_sha256=pin,
        downloaded=1,
        registered=f"{info.name}@{info.version}",
        serves_as=list(info.interfaces),
        admission=_admission_note(settings, ref, pin, info),
    )


def _check_entries(archive: Path, files: Path) -> None:
    """The unpacker serving uses refuses links, devices, absolute paths and ``..``; nothing unpacked is run."""
    files.mkdir()
    th.unpack(archive, files)
    shutil.rmtree(files, ignore_errors=True)


def _admission_note(settings: Settings, ref: th.HubRef, pin: str, info: VersionInfo) -> str:
    from mlgate.state.admissions import AdmissionBook
    from mlgate.state.db import StateDB

    row = AdmissionBook(StateDB(settings.state)).get(ref.admission_name, 0)
    if row is not None and row.digest == pin:
        return f"admitted by {row.by} at {row.at}: serves now"
    return (
        f"awaits an operator: `mlgate torchhub admit {ref.pin_key}` (or `mlgate models admit "
        f"{info.name} {info.version}`) after reviewing the hubconf.py; until then it is refused"
    )


def _register(
    settings: Settings,
    archive: Path,
    ref: th.HubRef,
    pin: str,
    name: str,
    features: list[str],
    caller: Caller,
) -> VersionInfo:
    import yaml

    from mlgate.models.registrar import Registrar

    tags = {
        "torchhub.repo": ref.repo_id,
        "torchhub.commit": ref.commit,
        "torchhub.entrypoint": ref.entrypoint,
        "torchhub.archive_sha256": pin,
        "torchhub.ref": str(ref),
        "torchhub.pulled_by": caller.subject,
    }
    reg = Registrar(settings)
    found: VersionInfo | None = reg.registry.find_version(
        name, {k: v for k, v in tags.items() if k != "torchhub.pulled_by"}
    )
    if found is not None:
        return found
    conf = {"archive": ARCHIVE, "archive_sha256": pin, "entrypoint": ref.entrypoint, "ref": str(ref)}
    feats = [{"name": f, "type": "double"} for f in features]
    meta = {
        "interfaces": ["predictor"],
        "features": feats,
        "lineage": {"torchhub": str(ref), "archive_sha256": pin},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        (folder / ARCHIVE).parent.mkdir(parents=True)
        shutil.copyfile(archive, folder / ARCHIVE)
        mlmodel = {
            "artifact_path": "model",
            "flavors": {"mlgate_torchhub": conf},
            "metadata": {"mlgate": meta},
        }
        (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
        desc = (
            f"TorchHub {ref} (archive sha256 {pin[:12]}…), pulled by {caller.subject}: serves once admitted"
        )
        return reg.register_awaiting(
            name, folder, ["predictor"], [Feature(f) for f in features], description=desc, extra_tags=tags
        )
