"""The artifact plan: what loading one version reads, what of it runs code, and its digest, decided once.

``plan_artifact(path)`` reads a version's MLmodel file and the files it names, once, and answers:

- ``flavor``: the flavor that will be loaded (one order for everyone, ``adapters/flavors.py``);
- ``files``: every file that load reads, each resolved inside the artifact folder. A configuration
  naming an absolute path or a ``..`` path, and a link that leads out of the folder, are refused
  (``Refused``) before anything reads them;
- ``code``: what among them runs code when loaded (a pickle, skops types outside the allow-list, a
  pyfunc, a TorchHub hubconf …) and ``code_files``, the files that carry it; empty: data only;
- ``digest``: the SHA-256 of the artifact folder (``artifacts.tree_sha256``, the digest recorded at
  registration and admitted by operators). Every file in ``files`` is inside that folder, so the
  digest covers all that the load reads.

Registration (``models/registrar.py``), admission (``Gate.check``, ``mlgate models admit``), the
description (``ml_model_info``'s ``runs_code``) and the loader all take the plan: a version is
code-bearing exactly when the flavor that would be loaded is. Nothing from the artifact is unpickled
or imported here: YAML is parsed, a skops file is read for its list of types.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.adapters.flavors import loaded_flavor
from mlgate.artifacts import model_files, tree_sha256
from mlgate.errors import BackendError, Refused

MLMODEL = "MLmodel"
# flavor → (the configuration key naming its model file, MLflow's default name), for one-file flavors
MODEL_FILE = {
    "mlgate": ("params", "params.json"),
    "sklearn": ("pickled_model", "model.skops"),
    "xgboost": ("data", "model.xgb"),
    "lightgbm": ("data", "model.lgb"),
    "catboost": ("data", "model.cb"),
    "onnx": ("data", "model.onnx"),
    "mlgate_torchhub": ("archive", "hub/archive.tar.gz"),
    "statsmodels": ("data", "model.statsmodels"),
    "prophet": ("data", "model.pr"),
}
# flavors whose loader (MLflow's own) may read any file of the folder: the plan lists them all
WHOLE_FOLDER = frozenset({"pytorch", "transformers", "python_function"})
CODE = {
    "statsmodels": "a pickled statsmodels results object",
    "pytorch": "a pickled or TorchScript torch model",
    "mlgate_torchhub": "the hubconf.py of a TorchHub archive (it rebuilds the architecture)",
    "transformers": "a transformers model (its configuration can name repository code)",
}
# keys of MLflow's and mlgate's flavor configurations that name a file or folder of the artifact
PATH_KEYS = (
    "pickled_model",
    "data",
    "model_data",
    "model_path",
    "params",
    "archive",
    "code",
    "python_model",
    "model_code_path",
    "model_binary",
)
HINT = (
    "log the model again with its files inside the artifact (MLflow writes relative paths); mlgate reads "
    "only files inside a version's artifact folder, which its digest covers"
)


@dataclass(frozen=True, slots=True)
class ArtifactPlan:
    """One version's artifact as the loader will read it (see the module docstring)."""

    root: Path  # the artifact folder, resolved
    mlmodel: dict[str, Any]
    flavor: str  # the MLmodel flavor that is loaded ("" when mlgate can load none)
    files: tuple[str, ...]  # every file the load reads, relative to ``root`` (POSIX)
    code: tuple[str, ...] = ()  # what runs code when loaded; empty: the load reads data only
    code_files: tuple[str, ...] = ()  # the files among ``files`` that carry that code
    digest: str = ""
    size: int = 0
    conf: dict[str, Any] = field(default_factory=dict)  # the loaded flavor's configuration

    @property
    def runs_code(self) -> bool:
        return bool(self.code)

    def shown(self, files: Iterable[str] | None = None) -> list[str]:
        """Full paths (inside the artifact) of ``files`` (default: every file the load reads)."""
        return [str(self.root / f) for f in (self.files if files is None else files)]


def read_mlmodel(path: Path) -> dict[str, Any]:
    import yaml

    f = path / MLMODEL
    if not f.is_file():
        raise BackendError(f"no MLmodel file in the artifact of version at {path.name}")
    data = yaml.safe_load(f.read_text())
    return data if isinstance(data, dict) else {}


def plan_artifact(path: Path, mlmodel: dict[str, Any] | None = None) -> ArtifactPlan:
    """The plan of the artifact folder ``path`` (its MLmodel file parsed again unless given)."""
    root = path.resolve()
    _refuse_links_out(root)
    mlmodel = read_mlmodel(root) if mlmodel is None else mlmodel
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    flavor = loaded_flavor(flavors)
    conf = _conf(flavors, flavor)
    for name in dict.fromkeys((flavor, "python_function")):  # MLflow's pyfunc loader joins its paths too
        _check_paths(root, name, _conf(flavors, name))
    files = [MLMODEL, *_example(root, mlmodel)]
    code: list[str] = []
    code_files: list[str] = []
    if flavor in MODEL_FILE:
        key, default = MODEL_FILE[flavor]
        model_file = _inside(root, conf.get(key, default), f"{flavor}.{key}")
        files.append(model_file)
        code, code_files = _model_file_code(root, flavor, conf, model_file)
    if flavor in ("mlgate_torch", "mlgate_torchhub"):
        from mlgate.adapters.torch_safetensors import ARCHITECTURE
        from mlgate.adapters.torch_weights import SIDECAR, WEIGHTS

        files += [WEIGHTS, SIDECAR] + ([ARCHITECTURE] if flavor == "mlgate_torch" else [])
    if flavor in WHOLE_FOLDER:
        files = [p.relative_to(root).as_posix() for p in model_files(root)]
        code, code_files = _folder_code(root, flavor, flavors, files)
    digest, size = tree_sha256(root)
    return ArtifactPlan(
        root=root,
        mlmodel=mlmodel,
        flavor=flavor,
        files=tuple(dict.fromkeys(files)),
        code=tuple(code),
        code_files=tuple(dict.fromkeys(code_files)),
        digest=digest,
        size=size,
        conf=conf,
    )


def _conf(flavors: dict[str, Any], name: str) -> dict[str, Any]:
    conf = flavors.get(name)
    return conf if isinstance(conf, dict) else {}


def _inside(root: Path, value: Any, what: str) -> str:
    """``value`` (a configuration's path) as a POSIX path relative to ``root``; refuses anything that
    names a place outside it: an absolute path, a ``..`` part, a link that resolves outside."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise Refused(f"the artifact's MLmodel names {what} = {value!r}, which is not a file path", HINT)
    posix = value.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or (len(value) > 1 and value[1] == ":"):
        raise Refused(f"the artifact's MLmodel names {what} = {value!r}, an absolute path", HINT)
    if ".." in parts:
        raise Refused(
            f"the artifact's MLmodel names {what} = {value!r}, a path that leaves the artifact", HINT
        )
    if not (root / posix).resolve().is_relative_to(root):
        raise Refused(f"the artifact's MLmodel names {what} = {value!r}, a link out of the artifact", HINT)
    return PurePosixPath(*[p for p in parts if p != "."]).as_posix()


def _check_paths(root: Path, flavor: str, conf: dict[str, Any]) -> None:
    for key in PATH_KEYS:
        value = conf.get(key)
        if value is not None and value != "":
            _inside(root, value, f"{flavor}.{key}")
    artifacts = conf.get("artifacts")
    if isinstance(artifacts, dict):  # a pyfunc python_model's artifacts, joined by MLflow at load
        for name, spec in artifacts.items():
            if isinstance(spec, dict) and spec.get("path") is not None:
                _inside(root, spec["path"], f"{flavor}.artifacts.{name}.path")


def _refuse_links_out(root: Path) -> None:
    """A link anywhere in the artifact that leads outside it is refused: a loader that follows it would
    read a file the digest does not cover (and that can change after an operator's review)."""
    if not root.is_dir():
        raise BackendError(f"the artifact of this version is not a folder ({root.name})")
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            entry = Path(folder) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                raise Refused(
                    f"{entry.relative_to(root).as_posix()} in the artifact is a link to a place outside it",
                    HINT,
                )


def _example(root: Path, mlmodel: dict[str, Any]) -> list[str]:
    """The stored input example the description reads (a plain file name only, as ``read_example``)."""
    name = (mlmodel.get("saved_input_example_info") or {}).get("artifact_path")
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        return []
    return [name] if (root / name).is_file() else []


def _model_file_code(root: Path, flavor: str, conf: dict[str, Any], file: str) -> tuple[list[str], list[str]]:
    if flavor in CODE:
        return [CODE[flavor]], [file]
    if flavor == "sklearn" or (
        flavor == "lightgbm"
        and str(conf.get("model_class", "lightgbm.basic.Booster")) != "lightgbm.basic.Booster"
    ):
        found = _sklearn_code(root / file, conf, flavor)
        return found, [file] if found else []
    return [], []


def _sklearn_code(file: Path, conf: dict[str, Any], flavor: str) -> list[str]:
    """A (cloud)pickle runs code; a skops file runs code when it holds types outside the allow-list."""
    fmt = str(conf.get("serialization_format", "skops" if flavor == "sklearn" else "cloudpickle"))
    if fmt != "skops":
        return [f"a {fmt} file ({file.name})"]
    import skops.io as sio

    from mlgate.adapters.lightgbm import SKOPS_TYPES
    from mlgate.adapters.sklearn import skops_refused

    refused = skops_refused(
        sio.get_untrusted_types(file=file), SKOPS_TYPES if flavor == "lightgbm" else frozenset()
    )
    return [f"skops types outside the allow-list ({', '.join(refused[:8])})"] if refused else []


def _folder_code(
    root: Path, flavor: str, flavors: dict[str, Any], files: list[str]
) -> tuple[list[str], list[str]]:
    if flavor in CODE:
        data = str(_conf(flavors, flavor).get("model_data") or "")
        return [CODE[flavor]], [f for f in files if data and f.startswith(f"{data}/")] or files
    pyfunc = _conf(flavors, "python_function")
    found: list[str] = []
    carriers: list[str] = []
    if "python_model" in pyfunc or "cloudpickle_version" in pyfunc:
        found.append("a pickled pyfunc python_model")
        carriers += [f for f in files if f == pyfunc.get("python_model")]
    if pyfunc.get("code"):
        found.append(f"bundled code ({pyfunc['code']})")
        carriers += [f for f in files if f.startswith(f"{pyfunc['code']}/")]
    loader = str(pyfunc.get("loader_module", ""))
    if not found and not loader.startswith("mlflow."):
        found.append(f"the pyfunc loader module {loader or '(none)'}")
    return found or [f"the pyfunc loader {loader}"], carriers or files
