"""Admission: an artifact that runs code when loaded is loaded only if an operator admitted it.

What runs code is the artifact plan's decision (``models/plan.py``: the flavor that will be
loaded, and what in its files runs code: a (cloud)pickle, a pyfunc ``python_model``, a
statsmodels or torch pickle, a TorchScript file, skops types outside the allow-list).
``Gate.check`` is what the resolver calls before loading, with that plan: nothing to run → load;
something to run → the version must be admitted at exactly the plan's digest (``mlgate models
admit``) or match ``MLGATE_TRUSTED_MODELS``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from mlgate.config import Settings
from mlgate.errors import IntegrityError, Refused
from mlgate.models.plan import ArtifactPlan
from mlgate.state.admissions import AdmissionBook


def hub_admission(mlmodel: dict[str, Any]) -> tuple[str, str] | None:
    """(admission name, pinned archive digest) of a ``mlgate_torchhub`` version, read from its MLmodel: what
    ``mlgate torchhub admit owner/repo@<commit>`` records (``supply/torchhub.HubRef.admission_name``)."""
    import re

    conf = (mlmodel.get("flavors") or {}).get("mlgate_torchhub")
    if not isinstance(conf, dict):
        return None
    found = re.fullmatch(r"torchhub:([\w.-]+/[\w.-]+):\w+@([0-9a-f]{40})", str(conf.get("ref", "")))
    pin = str(conf.get("archive_sha256", ""))
    if found is None or not re.fullmatch(r"[0-9a-f]{64}", pin):
        return None
    return f"torchhub:{found.group(1)}@{found.group(2)}", pin


class Gate:
    """The admission check the resolver runs before it loads a version's artifact."""

    def __init__(self, settings: Settings, book: Callable[[], AdmissionBook]) -> None:
        self.settings = settings
        self._book = book

    def admit(self, name: str, version: int, digest: str, by: str, note: str = "") -> None:
        self._book().admit(name, version, digest, by, note)

    def trusted_by_setting(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.settings.trusted_models)

    def check(self, name: str, version: int, plan: ArtifactPlan, hub: tuple[str, str] | None = None) -> bool:
        """True when the artifact may run its code; raises when the plan says the load runs code and no
        operator admitted this version at the plan's digest (nor a trusted-name pattern covers it). ``hub``:
        (admission name, archive digest) of a TorchHub archive: its ``mlgate torchhub admit`` also admits."""
        if not plan.code:
            return False
        if self.trusted_by_setting(name):
            return True
        admitted = self._book().get(name, version)
        digest, what = plan.digest, "; ".join(plan.code)
        if admitted is None and hub is not None:
            row = self._book().get(hub[0], 0)
            if row is not None and row.digest == hub[1]:
                return True  # the loader checks the archive against this digest before it unpacks anything
        if admitted is None:
            also = f" (or `mlgate torchhub admit {hub[0].removeprefix('torchhub:')}`)" if hub else ""
            raise Refused(
                f"{name}@{version} contains {what}, which runs code when loaded, and no operator admitted it",
                f"an operator who reviewed it runs `mlgate models admit {name} {version}`{also} (recorded with who "
                "and when), or re-registers it in a format without code (skops, ONNX)",
            )
        if admitted.digest != digest:
            raise IntegrityError(
                f"{name}@{version} changed since {admitted.by} admitted it at {admitted.at}: admitted digest "
                f"{admitted.digest}, found {digest}",
                "restore the admitted artifact, or have an operator review and admit the new one",
            )
        return True
