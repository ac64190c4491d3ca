"""What a model file says about itself, read without loading it.

A skops file is a zip whose ``schema.json`` names every object's class: the estimator at the
end of a pipeline, whether it was fitted with classes, and what it was fitted on
(``feature_names_in_``, or ``n_features_in_`` named ``f0`` … as scikit-learn names them). An ONNX file is a protobuf whose
graph declares its inputs and outputs. Both are parsed as data; nothing is unpickled, no
module named inside the file is imported, no session is created.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlgate.adapters.onnx import graph_classes_of, onnx_proba_output
from mlgate.domain import Feature

log = logging.getLogger(__name__)

MAX_ONNX_BYTES = 64 << 20  # larger graphs are described by their MLmodel signature alone
MAX_SCHEMA_BYTES = 16 << 20
MAX_HEADER_FEATURES = 100_000  # more columns than this are not listed from a header
MAX_ENUM = 20  # more distinct values than this are not a category set (no enum in a typed tool)
ENCODERS = frozenset({"OneHotEncoder", "OrdinalEncoder"})
TEXT_STEPS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")
# scikit-learn classifiers that have classes_ but no predict_proba (the adapter needs probabilities)
NO_PROBA = frozenset(
    {
        "LinearSVC",
        "RidgeClassifier",
        "RidgeClassifierCV",
        "Perceptron",
        "NearestCentroid",
        "PassiveAggressiveClassifier",
    }
)
ORT_TENSOR = {"float32": "float", "float64": "double", "object": "string"}
TYPE_OF_ORT = {
    "float": "float",
    "double": "double",
    "int64": "long",
    "int32": "integer",
    "bool": "boolean",
    "string": "string",
}


@dataclass(frozen=True, slots=True)
class Header:
    model_class: str | None = None
    interfaces: tuple[str, ...] = ()
    features: tuple[Feature, ...] = field(default_factory=tuple)
    outputs: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()  # a classifier's labels, as its predictions name them
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a string feature's training set


def skops_header(path: Path) -> Header | None:
    try:
        with zipfile.ZipFile(path) as z:
            if z.getinfo("schema.json").file_size > MAX_SCHEMA_BYTES:
                return None
            schema = json.loads(z.read("schema.json"))
            header = skops_schema_header(schema)
            if "classifier" in header.interfaces:
                header = replace(header, classes=_skops_classes(z, schema))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return header


def _skops_classes(z: zipfile.ZipFile, schema: dict[str, Any]) -> tuple[str, ...]:
    """The final estimator's ``classes_``: JSON cells (an object array), or a ``.npy`` file read as plain
    numbers or strings (``allow_pickle=False``: nothing in it runs)."""
    import numpy as np

    steps = _pipeline_steps(schema)
    node = _state(steps[-1] if steps else schema).get("classes_")
    if not isinstance(node, dict):
        return ()
    cells = _json_cells(node)
    if cells is not None:
        return tuple(str(c) for c in cells) if len(cells) <= MAX_ENUM else ()
    name = node.get("file")
    if not isinstance(name, str) or z.getinfo(name).file_size > MAX_SCHEMA_BYTES:
        return ()
    try:
        arr = np.load(io.BytesIO(z.read(name)), allow_pickle=False)
    except ValueError:
        return ()
    values = arr.ravel().tolist()
    return tuple(str(v) for v in values) if arr.ndim == 1 and len(values) <= MAX_ENUM else ()


def _skops_categories(schema: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """A fitted ``OneHotEncoder`` / ``OrdinalEncoder`` on named string columns: each column's training
    categories (at most ``MAX_ENUM``), as the schema's JSON cells hold them."""
    out: dict[str, tuple[str, ...]] = {}
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("__class__") in ENCODERS:
            state = _state(node)
            names = _json_cells(state.get("feature_names_in_") or {})
            cats = (state.get("categories_") or {}).get("content")
            if names and isinstance(cats, list) and len(cats) == len(names):
                for name, arr in zip(names, cats, strict=True):
                    cells = _json_cells(arr) if isinstance(arr, dict) else None
                    if cells and len(cells) <= MAX_ENUM and all(isinstance(c, str) for c in cells):
                        out[str(name)] = tuple(cells)
            continue
        stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return out


def _json_cells(node: dict[str, Any]) -> list[Any] | None:
    """An array stored as JSON cells (strings, an object array) → its values; None when stored otherwise."""
    cells = node.get("content")
    if not isinstance(cells, list) or not all(isinstance(c, dict) and c.get("is_json") for c in cells):
        return None
    return [_json_value(c) for c in cells]


def skops_schema_header(schema: dict[str, Any]) -> Header:
    top = f"{schema.get('__module__')}.{schema.get('__class__')}"
    steps = _pipeline_steps(schema)
    if steps and steps[0].get("__class__") in TEXT_STEPS:
        return Header(model_class=top, interfaces=("analyzer",))
    final = steps[-1] if steps else schema
    state = _state(final)
    name = str(final.get("__class__"))
    proba = "classes_" in state and name not in NO_PROBA
    if name in ("SVC", "NuSVC"):
        proba = proba and _json_value(state.get("probability")) is True
    return Header(
        model_class=top,
        interfaces=("classifier",) if proba else ("predictor",),
        features=_fitted_features(_state(steps[0]) if steps else _state(schema)),
        categories=_skops_categories(schema),
    )


def _fitted_features(state: dict[str, Any]) -> tuple[Feature, ...]:
    """What the estimator says it was fitted on: ``feature_names_in_`` (a DataFrame's columns), else
    ``n_features_in_`` as ``f0`` … (a NumPy array), as scikit-learn itself names them; read as JSON."""
    names = state.get("feature_names_in_")
    cells = names.get("content") if isinstance(names, dict) else None
    if isinstance(cells, list) and cells:
        values = [_json_value(c) for c in cells]
        if all(isinstance(v, str) for v in values):
            return tuple(Feature(str(v)) for v in values)
    n = _json_value(state.get("n_features_in_"))
    if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= MAX_HEADER_FEATURES:
        return tuple(Feature(f"f{i}") for i in range(n))
    return ()


def _state(node: dict[str, Any]) -> dict[str, Any]:
    content = node.get("content")
    inner = content.get("content") if isinstance(content, dict) else None
    return inner if isinstance(inner, dict) else {}


def _pipeline_steps(node: dict[str, Any]) -> list[dict[str, Any]]:
    if node.get("__class__") != "Pipeline":
        return []
    steps = (_state(node).get("steps") or {}).get("content") or []
    out: list[dict[str, Any]] = []
    for pair in steps:
        items = pair.get("content") if isinstance(pair, dict) else None
        if isinstance(items, list) and len(items) == 2 and isinstance(items[1], dict):
            out.append(items[1])
    if out and out[-1].get("__class__") == "Pipeline":
        return out[:-1] + _pipeline_steps(out[-1])
    return out


def _json_value(node: Any) -> Any:
    if isinstance(node, dict) and node.get("is_json"):
        try:
            return json.loads(node.get("content", "null"))
        except ValueError:
            return None
    return None


def onnx_header(path: Path) -> Header | None:
    if not path.is_file() or path.stat().st_size > MAX_ONNX_BYTES:
        return None
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # protobuf's DecodeError, a truncated file: no header, the loader says why
        log.debug("%s has no readable ONNX graph", path, exc_info=True)
        return None
    initialized = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialized]
    outputs = tuple(ort_type(o.type) for o in graph.output)
    return Header(
        model_class="onnx",
        interfaces=("classifier",) if onnx_is_classifier(list(outputs)) else ("predictor",),
        features=tuple(_onnx_features(inputs)),
        outputs=outputs,
        classes=tuple(graph_classes_of(graph) or ()),
    )


def onnx_is_classifier(output_types: list[str]) -> bool:
    return onnx_proba_output(output_types) is not None


def _onnx_features(inputs: list[Any]) -> list[Feature]:
    def dims(i: Any) -> list[int | None]:
        return [d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim]

    def ftype(i: Any) -> str:
        return TYPE_OF_ORT.get(ort_type(i.type)[len("tensor(") : -1], "double")

    if len(inputs) == 1:
        shape = dims(inputs[0])
        if len(shape) == 2 and shape[1]:
            return [Feature(f"f{k}", ftype(inputs[0])) for k in range(int(shape[1]))]
        return []
    if all(dims(i)[1:] in ([], [1]) for i in inputs):
        return [Feature(i.name, ftype(i)) for i in inputs]
    return []


def ort_type(t: Any) -> str:
    """The type name ONNX Runtime reports for an ONNX TypeProto: ``tensor(float)``, ``seq(map(int64,tensor(float)))``."""
    import onnx

    def elem(code: int) -> str:
        name = onnx.helper.tensor_dtype_to_np_dtype(code).name
        return ORT_TENSOR.get(name, name)

    which = t.WhichOneof("value")
    if which == "tensor_type":
        return f"tensor({elem(t.tensor_type.elem_type)})"
    if which == "sequence_type":
        return f"seq({ort_type(t.sequence_type.elem_type)})"
    if which == "map_type":
        return f"map({elem(t.map_type.key_type)},{ort_type(t.map_type.value_type)})"
    return which or "unknown"


MAX_XGB_HEADER_BYTES = 1 << 20  # feature names sit near the top of the file; read no more than this


def xgboost_header(path: Path) -> Header | None:
    """The booster's own feature names (``learner.feature_names``) of an XGBoost ``ubj`` or ``json`` model file.

    Only the first bytes are read and parsed as data (UBJSON or JSON); a legacy binary file, or a
    booster fitted without names, yields None.
    """
    try:
        with path.open("rb") as f:
            head = f.read(MAX_XGB_HEADER_BYTES)
    except OSError:
        return None
    names: Any = None
    if path.suffix == ".json":
        try:
            names = json.loads(head).get("learner", {}).get("feature_names")
        except (ValueError, AttributeError):
            return None
    elif head[:1] == b"{":
        names = _ubj_feature_names(head)
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return None
    return Header(features=tuple(Feature(n) for n in names))


def _ubj_feature_names(buf: bytes) -> Any:
    """``learner.feature_names`` from the UBJSON XGBoost writes (objects, counted arrays, strings, numbers)."""
    import struct

    sizes = {b"i": 1, b"U": 1, b"I": 2, b"l": 4, b"L": 8, b"d": 4, b"D": 8, b"T": 0, b"F": 0, b"Z": 0}
    ints = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q"}
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(buf):
            raise ValueError("truncated")
        pos += n
        return buf[pos - n : pos]

    def integer(marker: bytes) -> int:
        return int(struct.unpack(ints[marker], take(sizes[marker]))[0])

    def value(marker: bytes) -> Any:
        if marker in ints:
            return integer(marker)
        if marker in (b"d", b"D"):
            return struct.unpack(">f" if marker == b"d" else ">d", take(sizes[marker]))[0]
        if marker in (b"T", b"F", b"Z"):
            return {b"T": True, b"F": False, b"Z": None}[marker]
        if marker == b"S":
            return take(integer(take(1))).decode()
        if marker == b"[":
            typ, count = None, None
            if buf[pos : pos + 1] == b"$":
                take(1)
                typ = take(1)
            if buf[pos : pos + 1] == b"#":
                take(1)
                count = integer(take(1))
            if count is None:
                items = []
                while buf[pos : pos + 1] != b"]":
                    items.append(value(take(1)))
                take(1)
                return items
            if typ is not None and typ in sizes:  # a typed numeric array: skip it whole
                take(sizes[typ] * count)
                return None
            return [value(typ or take(1)) for _ in range(count)]
        raise ValueError(f"unsupported UBJSON marker {marker!r}")

    def find(path: list[str]) -> Any:
        """Walk the object at ``pos`` to ``path``; returns the value there (or None)."""
        while True:
            marker = take(1)
            if marker == b"}":
                return None
            key = take(integer(marker)).decode()
            vmark = take(1)
            if key == path[0]:
                if len(path) == 1:
                    return value(vmark)
                return find(path[1:]) if vmark == b"{" else None
            if vmark == b"{":
                skip_object()
            else:
                value(vmark)

    def skip_object() -> None:
        while (marker := take(1)) != b"}":
            take(integer(marker))
            vmark = take(1)
            if vmark == b"{":
                skip_object()
            else:
                value(vmark)

    try:
        take(1)  # the opening "{"
        return find(["learner", "feature_names"])
    except (ValueError, KeyError, UnicodeDecodeError, struct.error):
        return None
