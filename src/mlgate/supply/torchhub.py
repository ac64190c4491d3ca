"""TorchHub, fetched by mlgate: ``torchhub:owner/repo:entrypoint@<40-hex commit>``.

In this order, each before the next step can happen: the ref names a commit (branches and
tags move and are refused); the repository is on ``MLGATE_TORCHHUB_ALLOWLIST``; the operator
pinned the archive's SHA-256 for that commit (``MLGATE_TORCHHUB_PINS``); an operator admitted
that digest to run its ``hubconf.py`` (``mlgate torchhub admit``, a row in the admission book).
Then the archive is downloaded from ``MLGATE_TORCHHUB_ENDPOINT`` into a staging folder, hashed
and compared with the pin **before** it is opened, and unpacked entry by entry (regular files
and folders only: no absolute paths, no ``..``, no links, no devices: ``interfaces/torch_hubconf.unpack``,
which serving uses again at every load). ``torchhub_load`` runs the entrypoint from that folder with
downloads refused, registers its weights as safetensors beside the archive, and only then does the
snapshot appear under ``$MLGATE_HOME/torchhub/<owner>/<repo>/<commit>`` in one rename.
"""

from __future__ import annotations

import hashlib
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mlgate.adapters.torch_hubconf import ENTRY
from mlgate.adapters.torch_hubconf import unpack as unpack  # the same traversal-safe unpacking serving uses
from mlgate.config import Settings
from mlgate.errors import IntegrityError, InvalidInput, Refused
from mlgate.state.admissions import AdmissionBook

COMMIT = re.compile(r"^[0-9a-f]{40}$")
PART = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MAX_ARCHIVE = 2 * 1024**3
CHUNK = 1 << 20


@dataclass(frozen=True)
class HubRef:
    owner: str
    repo: str
    entrypoint: str
    commit: str

    @property
    def repo_id(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def pin_key(self) -> str:
        return f"{self.repo_id}@{self.commit}"

    @property
    def admission_name(self) -> str:
        return f"torchhub:{self.pin_key}"

    def __str__(self) -> str:
        return f"torchhub:{self.repo_id}:{self.entrypoint}@{self.commit}"


def parse(ref: str) -> HubRef:
    body = ref.strip().removeprefix("torchhub:")
    where, _, commit = body.rpartition("@")
    repo_id, _, entry = where.partition(":")
    owner, _, repo = repo_id.partition("/")
    if not (PART.match(owner) and PART.match(repo) and ENTRY.match(entry)) or ".." in repo_id:
        raise InvalidInput(
            f"{ref!r} is not a TorchHub reference", "write torchhub:owner/repo:entrypoint@<40-hex commit>"
        )
    if not COMMIT.match(commit):
        raise InvalidInput(
            f"{ref!r} names {commit or 'no revision'!r}, not a commit: branches and tags move",
            "pin the 40-character commit hash: torchhub:owner/repo:entrypoint@<commit>",
        )
    return HubRef(owner, repo, entry, commit)


def check_allowed(settings: Settings, ref: HubRef) -> None:
    from mlgate.supply.pull import check_allowed as allowed

    try:
        allowed(settings.torchhub_allowlist, ref.repo_id)
    except Refused:
        raise Refused(
            f"{ref.repo_id} is not on the TorchHub allow-list"
            + ("" if settings.torchhub_allowlist else " (the allow-list is empty)"),
            "ask the operator to add it to MLGATE_TORCHHUB_ALLOWLIST",
        ) from None


def pinned(settings: Settings, ref: HubRef) -> str:
    pin = settings.torchhub_pins.get(ref.pin_key, "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", pin):
        raise Refused(
            f"no SHA-256 is pinned for the archive of {ref.pin_key}",
            f'the operator reviews the archive and adds "{ref.pin_key}": "<sha256>" to MLGATE_TORCHHUB_PINS',
        )
    return pin


def check_admitted(book: AdmissionBook, ref: HubRef, pin: str) -> str:
    """Who admitted the hubconf.py of this archive; refuses when nobody did, or did for another digest."""
    row = book.get(ref.admission_name, 0)
    if row is None:
        raise Refused(
            f"the hubconf.py of {ref.pin_key} runs code when loaded, and no operator admitted it",
            f"an operator who reviewed the repository at that commit runs `mlgate torchhub admit {ref.pin_key}`",
        )
    if row.digest != pin:
        raise IntegrityError(
            f"{ref.pin_key} was admitted by {row.by} at {row.at} for archive {row.digest}, "
            f"but the pin is now {pin}",
            "have an operator review and admit the archive the pin names",
        )
    return row.by


def url_for(settings: Settings, ref: HubRef) -> str:
    return settings.torchhub_endpoint.format(owner=ref.owner, repo=ref.repo, commit=ref.commit)


def fetch(url: str, dest: Path, pin: str) -> None:
    """Download to ``dest``, hashing as it comes; a digest other than the pin is refused before anything opens it."""
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, dest.open("wb") as out:
            while chunk := resp.read(CHUNK):
                size += len(chunk)
                if size > MAX_ARCHIVE:
                    raise Refused(f"the archive at {url} is larger than 2 GiB", "pin a smaller repository")
                digest.update(chunk)
                out.write(chunk)
    except OSError as exc:
        raise Refused(
            f"cannot fetch {url}: {exc}", "check MLGATE_TORCHHUB_ENDPOINT and the network"
        ) from None
    found = digest.hexdigest()
    if found != pin:
        raise IntegrityError(
            f"the archive from {url} has SHA-256 {found}, not the pinned {pin}",
            "nothing was unpacked; check the endpoint, or review the new archive and update the pin",
        )
