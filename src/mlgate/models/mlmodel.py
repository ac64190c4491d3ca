"""What a model version offers, read from its MLmodel file without loading the model.

``describe_dir(path)`` reads the MLmodel file of a local model folder (flavors, signature,
the saved input example, the pyfunc loader / ``predict_fn``, the flavor's own metadata such
as xgboost's ``model_class``) and, for ONNX graphs, the graph's declared outputs. It never
unpickles or runs anything: YAML, JSON and protobuf are parsed, nothing else. The loaded
adapter stays the authority; a description is what an agent sees before the first load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.adapters.flavors import loaded_flavor
from mlgate.domain import Feature
from mlgate.models.headers import Header, onnx_header, skops_header, xgboost_header

# flavor → (the model classes that are classifiers); the key of the flavor's metadata holding the class
CLASS_KEY = {"xgboost": "model_class", "lightgbm": "model_class", "catboost": "model_type"}
CLASSIFIER_CLASSES = frozenset(
    {
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRFClassifier",
        "lightgbm.sklearn.LGBMClassifier",
        "CatBoostClassifier",
    }
)
TENSOR_TYPES = {
    "float64": "double",
    "float32": "float",
    "float16": "float",
    "int64": "long",
    "int32": "integer",
    "int16": "integer",
    "int8": "integer",
    "uint8": "integer",
    "bool": "boolean",
    "str": "string",
    "object": "string",
}
LABEL_TYPES = frozenset({"long", "integer", "string", "boolean"})


@dataclass(slots=True)
class Description:
    """A version as its MLmodel file describes it: flavor, interfaces, typed features, an example."""

    flavor: str
    interfaces: tuple[str, ...]
    features: list[Feature] = field(default_factory=list)
    example: list[dict[str, Any]] | None = None
    model_class: str | None = None
    tensor_dtype: str | None = None  # set when the signature is one unnamed tensor (rows of f0…fn)
    output_types: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # a classifier's labels, from its model file
    categories: dict[str, list[str]] = field(default_factory=dict)  # a string feature's training categories


def describe_dir(path: Path, mlmodel: dict[str, Any] | None = None) -> Description:
    """Describe the MLflow model folder at ``path`` (its MLmodel file, parsed again unless given, and the
    files it names)."""
    if mlmodel is None:
        import yaml

        parsed = yaml.safe_load((path / "MLmodel").read_text())
        mlmodel = parsed if isinstance(parsed, dict) else {}
    flavors = mlmodel.get("flavors") or {}
    flavor = loaded_flavor(flavors)
    conf = conf_of(mlmodel, flavor)
    header: Header | None = None
    if flavor == "sklearn" and conf.get("serialization_format", "skops") == "skops":
        header = _header(skops_header, path, conf.get("pickled_model", "model.skops"))
    elif flavor == "onnx":
        header = _header(onnx_header, path, conf.get("data", "model.onnx"))
    elif flavor == "xgboost":  # no signature, no example: the booster's own feature names
        header = _header(xgboost_header, path, conf.get("data", "model.xgb"))
    return describe(mlmodel, read_example(path, mlmodel), header)


def _header(read: Callable[[Path], Header | None], root: Path, name: Any) -> Header | None:
    """A model file's header, read only from a plain file inside ``root`` (the artifact plan refuses the
    rest before anything loads; a description never reads outside the artifact either)."""
    if (
        not isinstance(name, str)
        or name.startswith(("/", "\\"))
        or ".." in name.replace("\\", "/").split("/")
    ):
        return None
    file = (root / name).resolve()
    return read(file) if file.is_relative_to(root.resolve()) and file.is_file() else None


def describe(mlmodel: dict[str, Any], example: Any = None, header: Header | None = None) -> Description:
    """The pure part: an MLmodel mapping, its input example (parsed JSON) and what the model file's header
    says (``headers.py``: an ONNX graph's inputs and outputs, a skops file's estimator class) → a Description."""
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    flavor = loaded_flavor(flavors)
    flavor = "pyfunc" if flavor == "python_function" else flavor
    conf: dict[str, Any] = flavors.get(flavor) or {}
    model_class = conf.get(CLASS_KEY[flavor]) if flavor in CLASS_KEY else None
    if model_class is None and header is not None:
        model_class = header.model_class
    features, tensor_dtype = signature_inputs(mlmodel)
    outputs = signature_output_types(mlmodel)
    if flavor == "transformers":  # texts, not records: the catalog's example calls it with texts
        features, tensor_dtype, example = [], None, None
    if not features and header is not None and header.features:
        features = list(header.features)
    records = example_records(example, features)
    if not features and records:
        features = _features_of_records(records)
    return Description(
        flavor=flavor,
        interfaces=_interfaces(flavor, model_class, outputs, header, mlmodel),
        features=features,
        example=records,
        model_class=str(model_class) if model_class else None,
        tensor_dtype=tensor_dtype,
        output_types=outputs,
        classes=list(header.classes) if header is not None else [],
        categories={k: list(v) for k, v in header.categories.items()} if header is not None else {},
    )


def _interfaces(
    flavor: str, model_class: Any, outputs: list[str], header: Header | None, mlmodel: dict[str, Any]
) -> tuple[str, ...]:
    flavors: dict[str, Any] = mlmodel.get("flavors") or {}
    from mlgate.adapters.forecasting.common import forecaster_kind

    if header is not None and header.interfaces:
        return header.interfaces
    if flavor == "transformers":  # text classification is an Analyzer; other tasks are not served
        task = str(conf_of(mlmodel, flavor).get("task") or "")
        return ("analyzer",) if task in ("text-classification", "sentiment-analysis") else ()
    if forecaster_kind(mlmodel):
        return (
            "forecaster",
        )  # statsmodels: a candidate (a regression results object is a Predictor on load)
    if model_class is not None and flavor in CLASS_KEY:
        return ("classifier",) if str(model_class) in CLASSIFIER_CLASSES else ("predictor",)
    predict_fn = (flavors.get("python_function") or {}).get("predict_fn")
    if flavor == "sklearn" and predict_fn == "predict_proba":
        return ("classifier",)
    # scikit-learn stores no class name: a label-typed output (long, string, …) marks a classifier
    if flavor in ("sklearn", "onnx") and len(outputs) == 1 and outputs[0] in LABEL_TYPES:
        return ("classifier",)
    return ("predictor",)


def conf_of(mlmodel: dict[str, Any], flavor: str) -> dict[str, Any]:
    conf = (mlmodel.get("flavors") or {}).get(flavor)
    return conf if isinstance(conf, dict) else {}


def signature_inputs(mlmodel: dict[str, Any]) -> tuple[list[Feature], str | None]:
    """Typed features of the signature's inputs, and the dtype when the input is one unnamed 2-D tensor."""
    cols = _spec(mlmodel, "inputs")
    out: list[Feature] = []
    for c in cols:
        if c.get("type") == "tensor":
            spec = c.get("tensor-spec") or {}
            dtype = str(spec.get("dtype", "float64"))
            ftype = TENSOR_TYPES.get(dtype, "double")
            shape = list(spec.get("shape") or [-1])
            if c.get("name") and len(shape) <= 2 and (len(shape) == 1 or shape[-1] == 1):
                out.append(Feature(str(c["name"]), ftype))
                continue
            if len(cols) == 1 and len(shape) == 2 and isinstance(shape[-1], int) and shape[-1] > 0:
                return [Feature(f"f{i}", ftype) for i in range(shape[-1])], dtype
            return [], None  # images and other n-D tensors do not come as records
        out.append(Feature(str(c.get("name")), str(c.get("type", "double"))))
    return out, None


def signature_output_types(mlmodel: dict[str, Any]) -> list[str]:
    out = []
    for c in _spec(mlmodel, "outputs"):
        if c.get("type") == "tensor":
            out.append(TENSOR_TYPES.get(str((c.get("tensor-spec") or {}).get("dtype")), "double"))
        else:
            out.append(str(c.get("type", "double")))
    return out


def _spec(mlmodel: dict[str, Any], part: str) -> list[dict[str, Any]]:
    raw = (mlmodel.get("signature") or {}).get(part)
    if not raw:
        return []
    cols = json.loads(raw) if isinstance(raw, str) else raw
    return [c for c in cols if isinstance(c, dict)] if isinstance(cols, list) else []


def read_example(path: Path, mlmodel: dict[str, Any]) -> Any:
    """The stored input example as parsed JSON, or None (only a plain file inside the folder is read)."""
    info = mlmodel.get("saved_input_example_info") or {}
    name = info.get("artifact_path")
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        return None
    f = path / name
    if not f.is_file() or f.stat().st_size > 1 << 20:
        return None
    try:
        return json.loads(f.read_text())
    except ValueError:
        return None


def example_records(example: Any, features: list[Feature]) -> list[dict[str, Any]] | None:
    """The stored example as records: a pandas ``split`` frame, a list of rows, or a dict of columns."""
    if isinstance(example, dict) and "inputs" in example and len(example) == 1:
        example = example["inputs"]
    if (
        isinstance(example, dict)
        and isinstance(example.get("columns"), list)
        and isinstance(example.get("data"), list)
    ):
        cols = [str(c) for c in example["columns"]]
        return [
            dict(zip(cols, row, strict=False)) for row in example["data"] if isinstance(row, list)
        ] or None
    if isinstance(example, dict) and example and all(isinstance(v, list) for v in example.values()):
        n = min(len(v) for v in example.values())
        return [{str(k): v[i] for k, v in example.items()} for i in range(n)] or None
    if isinstance(example, list) and example:
        rows = example if isinstance(example[0], list) else [example]
        if not all(isinstance(r, list) for r in rows):
            return None
        names = [f.name for f in features] if features else [f"f{i}" for i in range(len(rows[0]))]
        if any(len(r) != len(names) for r in rows):
            return None
        return [dict(zip(names, r, strict=True)) for r in rows]
    return None


def _features_of_records(records: list[dict[str, Any]]) -> list[Feature]:
    return [Feature(name, type_of_values([r.get(name) for r in records])) for name in records[0]]


def type_of_values(values: list[Any]) -> str:
    """The signature type JSON values of one column suggest (bool before int: bool is an int in Python)."""
    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        return "long"
    if kinds and kinds <= {int, float}:
        return "double"
    if kinds == {str}:
        return "string"
    return "double"
