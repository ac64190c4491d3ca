"""What a pulled snapshot serves as, how it loads, and how it becomes a registered version.

The model file is chosen in this order: ``model.onnx`` or the only ``*.onnx`` (a
Predictor, or a Classifier when the graph has label + probabilities outputs);
``model.skops`` or the only ``*.skops`` (scikit-learn, loaded with the same trusted-type
check as registered models); a transformers text-classification model (``config.json``
with ``architectures`` and ``*.safetensors``: an Analyzer, when ``transformers`` is
installed). An optional ``config.json`` beside it may name ``feature_names`` and
``classes`` (or ``id2label``). Every served file is re-hashed against the manifest at load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlgate.artifacts import file_sha256, safe_join
from mlgate.config import Settings
from mlgate.domain import Feature, LoadedModel, VersionInfo
from mlgate.errors import IntegrityError, InvalidInput, NotFound
from mlgate.models.pending import staging
from mlgate.schemas.supply import PullResult
from mlgate.supply.pull_cache import Manifest


@dataclass
class Servable:
    kind: str  # "onnx" | "skops" | "transformers"
    files: list[str]  # what is served: its digest is the version's sha256
    meta: dict[str, Any] = field(default_factory=dict)
    config: list[str] = field(default_factory=list)  # read for feature names / classes; verified too

    @property
    def main(self) -> str:
        return self.files[0]


def _one(paths: list[str], suffix: str) -> str | None:
    found = [p for p in paths if p.endswith(suffix)]
    preferred = [p for p in found if p.rsplit("/", 1)[-1] == f"model{suffix}"]
    if len(preferred) == 1:
        return preferred[0]
    if len(found) > 1:
        raise InvalidInput(
            f"the snapshot holds several {suffix} files: {', '.join(found[:8])}",
            "pull only the one to serve, with patterns",
        )
    return found[0] if found else None


def _config(files_dir: Path, manifest: Manifest, beside: str) -> tuple[dict[str, Any], list[str]]:
    folder = beside.rsplit("/", 1)[0] + "/" if "/" in beside else ""
    for name in (f"{folder}config.json", "config.json"):
        if manifest.file(name):
            try:
                data = json.loads(safe_join(files_dir, name).read_text())
            except (OSError, ValueError):
                return {}, [name]
            return (data if isinstance(data, dict) else {}), [name]
    return {}, []


def pick(files_dir: Path, manifest: Manifest) -> Servable:
    paths = sorted(f.path for f in manifest.files)
    for suffix, kind in ((".onnx", "onnx"), (".skops", "skops")):
        main = _one(paths, suffix)
        if main:
            conf, used = _config(files_dir, manifest, main)
            meta: dict[str, Any] = {}
            if isinstance(conf.get("feature_names"), list):
                meta["features"] = [{"name": str(n), "type": "double"} for n in conf["feature_names"]]
            classes = conf.get("classes") or _id2label(conf)
            if classes:
                meta["classes"] = [str(c) for c in classes]
            return Servable(kind, [main], meta, used)
    conf, _ = _config(files_dir, manifest, "config.json")
    if conf.get("architectures") and any(p.endswith(".safetensors") for p in paths):
        return Servable("transformers", paths, {"labels": _id2label(conf)})
    raise NotFound(
        f"{manifest.repo_id}@{manifest.commit[:12]} holds nothing mlgate can serve ({', '.join(paths[:10])})",
        "pull an .onnx graph, a .skops scikit-learn model, or a transformers model in safetensors",
    )


def _id2label(conf: dict[str, Any]) -> list[str]:
    labels = conf.get("id2label")
    if isinstance(labels, dict):
        return [str(labels[k]) for k in sorted(labels, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return []


def verify(files_dir: Path, manifest: Manifest, paths: list[str]) -> tuple[str, int]:
    """Re-hash the served files against the manifest; returns (digest of what is served, bytes)."""
    import hashlib

    lines, size = [], 0
    for p in sorted(paths):
        rec = manifest.file(p)
        local = safe_join(files_dir, p)
        if rec is None or not local.is_file():
            raise IntegrityError(
                f"{p} is missing from the snapshot of {manifest.repo_id}@{manifest.commit[:12]}",
                "pull it again",
            )
        digest = file_sha256(local)
        if digest != rec.sha256:
            raise IntegrityError(
                f"{p} in the snapshot of {manifest.repo_id} changed after it was pulled "
                f"(recorded {rec.sha256}, found {digest})",
                "pull it again into a clean cache",
            )
        lines.append(f"{digest}  {p}\n")
        size += rec.size
    if len(paths) == 1:
        return lines[0].split()[0], size
    return hashlib.sha256("".join(lines).encode()).hexdigest(), size


def load(files_dir: Path, manifest: Manifest, info: VersionInfo) -> LoadedModel:
    s = pick(files_dir, manifest)
    if s.config:
        verify(files_dir, manifest, s.config)
    digest, size = verify(files_dir, manifest, s.files)
    if info.sha256 and info.sha256 != digest:
        raise IntegrityError(
            f"{info.name} resolved to {info.sha256} but the files hash to {digest}", "pull it again"
        )
    impl: Any
    features: list[Feature] = []
    if s.kind == "onnx":
        from mlgate.adapters.onnx import OnnxModel

        impl = OnnxModel.from_file(safe_join(files_dir, s.main), s.meta)
        interfaces = impl.interfaces
        n = _onnx_width(impl)
        feats = s.meta.get("features") or [{"name": f"f{i}", "type": "double"} for i in range(n)]
        features = [Feature(**f) for f in feats]
    elif s.kind == "skops":
        from mlgate.adapters.sklearn import SklearnModel, features_of, interfaces_of, load_estimator

        est = load_estimator(files_dir, {"pickled_model": s.main, "serialization_format": "skops"})
        impl, interfaces = SklearnModel(est), interfaces_of(est)
        features = [Feature(**f) for f in s.meta["features"]] if s.meta.get("features") else features_of(est)
    else:
        from mlgate.supply.textmodel import TextClassifier

        impl, interfaces = TextClassifier.from_dir(files_dir), ("analyzer",)
    info = replace(  # a copy: the version record is immutable
        info, sha256=digest, features=features or info.features, interfaces=tuple(interfaces), flavor=s.kind
    )
    lineage = {"repo": manifest.repo_id, "commit": manifest.commit, "manifest_sha256": manifest.sha256}
    return LoadedModel(
        info=info,
        impl=impl,
        size_bytes=max(size, 1),
        local_path=str(files_dir),
        extra={"lineage": lineage, "sample": None, "example": None},
    )


def _onnx_width(impl: Any) -> int:
    shape = impl.session.get_inputs()[0].shape
    last = shape[-1] if shape else None
    return int(last) if isinstance(last, int) else 0


def register(
    settings: Settings, name: str, files_dir: Path, manifest: Manifest, revision: str
) -> VersionInfo:
    """Register the snapshot's model file as a new version of ``name`` (or find the one already registered)."""
    from mlgate.models.registrar import Registrar

    s = pick(files_dir, manifest)
    if s.kind == "transformers":
        raise InvalidInput(
            "transformers snapshots are served directly, not registered",
            f"call ml_analyze with 'hf:{manifest.repo_id}@{manifest.commit}'",
        )
    if s.config:
        verify(files_dir, manifest, s.config)
    file_sha256, _ = verify(files_dir, manifest, s.files)
    reg = Registrar(settings)
    tags = {
        "hf.repo": manifest.repo_id,
        "hf.commit": manifest.commit,
        "hf.revision": revision,
        "hf.file": s.main,
        "hf.file_sha256": file_sha256,
        "hf.manifest_sha256": manifest.sha256,
        "mlgate.lineage.source": "huggingface",
    }
    existing = _already(reg, name, tags)
    if existing is not None:
        return existing
    with staging(settings) as tmp:  # under MLGATE_HOME/staging: gc finds it if this process is killed
        folder = _mlflow_folder(tmp / "model", files_dir, s, tags)
        desc = f"Pulled from the Hugging Face Hub: {manifest.repo_id}@{manifest.commit} ({s.main})"
        return reg.register_dir(name, folder, description=desc, extra_tags=tags)


async def register_pulled(settings: Settings, result: PullResult, name: str) -> None:
    """``register_as`` of ml_pull: registers the pulled snapshot and notes the new version on ``result``."""
    import anyio

    from mlgate.models.ref import check_name
    from mlgate.supply.pull import store_for

    check_name(name)
    store = store_for(settings)
    manifest = store.manifest(result.repo_id, result.commit)
    if manifest is None:  # pragma: no cover - pull() just wrote it
        raise NotFound(f"{result.ref} vanished from the pull cache", "pull it again")
    files = store.files_dir(result.repo_id, result.commit)
    info = await anyio.to_thread.run_sync(lambda: register(settings, name, files, manifest, result.revision))
    result.registered = f"{info.name}@{info.version}"
    result.serves_as = list(info.interfaces)


def _already(reg: Any, name: str, tags: dict[str, str]) -> VersionInfo | None:
    found: VersionInfo | None = reg.registry.find_version(
        name, {k: tags[k] for k in ("hf.repo", "hf.commit", "hf.file", "hf.file_sha256")}
    )
    return found


def _mlflow_folder(folder: Path, files_dir: Path, s: Servable, tags: dict[str, str]) -> Path:
    import shutil

    import yaml

    folder.mkdir(parents=True)
    lineage = {k.removeprefix("hf."): v for k, v in tags.items() if k.startswith("hf.")}
    meta: dict[str, Any] = {**s.meta, "lineage": lineage}

    def copy(src: str, dst: str) -> None:
        shutil.copyfile(safe_join(files_dir, src), folder / dst)

    if s.kind == "onnx":
        copy(s.main, "model.onnx")
        flavors: dict[str, Any] = {"onnx": {"data": "model.onnx"}}
        if not meta.get("features"):
            from mlgate.adapters.onnx import OnnxModel

            n = _onnx_width(OnnxModel.from_file(folder / "model.onnx"))
            meta["features"] = [{"name": f"f{i}", "type": "double"} for i in range(n)]
    else:
        copy(s.main, "model.skops")
        flavors = {"sklearn": {"pickled_model": "model.skops", "serialization_format": "skops"}}
    mlmodel = {"artifact_path": "model", "flavors": flavors, "metadata": {"mlgate": meta}}
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
    return folder
