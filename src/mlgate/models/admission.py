"""Admission: an artifact that runs code when loaded is loaded only if an operator admitted it.

``code_in`` reads a version's MLmodel file (and, for skops, the file's type list) without
executing anything and says what in the artifact would run code: a (cloud)pickle, a pyfunc
``python_model``, a statsmodels or torch pickle, a TorchScript file, skops types outside the
allow-list. ``Gate.check`` is what the resolver calls before loading: nothing to run → load;
something to run → the version must be admitted at exactly this digest (``mlgate models admit``)
or match ``MLGATE_TRUSTED_MODELS``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlgate.config import Settings
from mlgate.errors import IntegrityError, Refused
from mlgate.state.admissions import AdmissionBook

# flavors whose files are data only (JSON, text, protobuf, native boosters), loaded without running code
DATA_FLAVORS = ("mlgate", "mlgate_remote", "onnx", "xgboost", "catboost", "prophet", "mlgate_torch")
CODE_FLAVORS = {
    "statsmodels": "a pickled statsmodels results object",
    "pytorch": "a pickled or TorchScript torch model",
    "mlgate_torchhub": "the hubconf.py of a TorchHub archive (it rebuilds the architecture)",
    "transformers": "a transformers model (its configuration can name repository code)",
    "keras": "a Keras model (layers can carry code)",
    "tensorflow": "a TensorFlow SavedModel",
}


def code_in(path: Path, mlmodel: dict[str, Any], remote: bool = False) -> list[str]:
    """What in the artifact at ``path`` would run code when loaded; empty when nothing would."""
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    if remote or any(f in flavors for f in DATA_FLAVORS[:2]):
        return []
    for flavor in ("sklearn", "lightgbm"):
        if flavor in flavors:
            return _sklearn_code(path, flavors[flavor], flavor)
    for flavor in DATA_FLAVORS[2:]:
        if flavor in flavors:
            return []
    for flavor, what in CODE_FLAVORS.items():
        if flavor in flavors:
            return [what]
    pyfunc: dict[str, Any] = flavors.get("python_function") or {}
    if not pyfunc:
        return [f"flavors mlgate cannot read as data ({', '.join(flavors) or 'none'})"]
    found = []
    if "python_model" in pyfunc or "cloudpickle_version" in pyfunc:
        found.append("a pickled pyfunc python_model")
    if pyfunc.get("code"):
        found.append(f"bundled code ({pyfunc['code']})")
    loader = str(pyfunc.get("loader_module", ""))
    if not found and not loader.startswith("mlflow."):
        found.append(f"the pyfunc loader module {loader or '(none)'}")
    return found or [f"the pyfunc loader {loader}"]


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


def _sklearn_code(path: Path, conf: dict[str, Any], flavor: str) -> list[str]:
    fmt = str(conf.get("serialization_format", "skops" if flavor == "sklearn" else "cloudpickle"))
    file = path / str(conf.get("pickled_model", conf.get("data", "model.skops")))
    if (
        flavor == "lightgbm"
        and str(conf.get("model_class", "lightgbm.basic.Booster")) == "lightgbm.basic.Booster"
    ):
        return []  # the text format of a Booster
    if fmt != "skops":
        return [f"a {fmt} file ({file.name})"]
    import skops.io as sio

    from mlgate.interfaces.lightgbm import SKOPS_TYPES
    from mlgate.interfaces.sklearn import skops_refused

    refused = skops_refused(
        sio.get_untrusted_types(file=file), SKOPS_TYPES if flavor == "lightgbm" else frozenset()
    )
    return [f"skops types outside the allow-list ({', '.join(refused[:8])})"] if refused else []


class Gate:
    """The admission check the resolver runs before it loads a version's artifact."""

    def __init__(self, settings: Settings, book: Callable[[], AdmissionBook]) -> None:
        self.settings = settings
        self._book = book

    def admit(self, name: str, version: int, digest: str, by: str, note: str = "") -> None:
        self._book().admit(name, version, digest, by, note)

    def trusted_by_setting(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.settings.trusted_models)

    def check(
        self, name: str, version: int, digest: str, code: list[str], hub: tuple[str, str] | None = None
    ) -> bool:
        """True when the artifact may run its code; raises when it would run code it was not admitted to.
        ``hub``: (admission name, archive digest) of a TorchHub archive: its ``mlgate torchhub admit`` also admits."""
        if not code:
            return False
        if self.trusted_by_setting(name):
            return True
        admitted = self._book().get(name, version)
        what = "; ".join(code)
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
