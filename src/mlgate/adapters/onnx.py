"""ONNX Runtime adapter: a Predictor or Classifier over one inference session.

A session call costs microseconds, so these models bypass the batcher. The outputs are
found by type, whatever their names: a classifier has a label output and a probability
output after it — a float tensor (``zipmap=False``) or skl2onnx's default ZipMap, a
sequence of ``{label: p}`` maps. Class labels come from the graph's own classifier or
ZipMap node (a label map), else from mlgate metadata. Everything else is a Predictor over
the first numeric output. A graph with one input per column is fed column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.domain import Feature, Matrix, Rows
from mlgate.records.frames import labelled, values_of

INPUT_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
    "tensor(float16)": np.float16,
}


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # the loader's seam (FlavorLoader); this format runs no code of its own
) -> OnnxModel:
    """The ``onnx`` flavor of an MLflow model folder (the graph file it names), as an adapter."""
    model = OnnxModel.from_file(model_dir / str(flavor_conf.get("data", "model.onnx")), meta)
    model.features = list(features)
    return model


LABEL_TENSORS = ("tensor(int64)", "tensor(int32)", "tensor(string)", "tensor(bool)")


def onnx_proba_output(output_types: list[str]) -> int | None:
    """Where the probabilities are, when the graph is a classifier: a label output first and a probability
    output after it (a float tensor, or ZipMap's sequence of maps)."""
    if len(output_types) < 2 or output_types[0] not in LABEL_TENSORS:
        return None
    return next(
        (
            k
            for k in range(1, len(output_types))
            if output_types[k].startswith("seq(map(")
            or output_types[k] in ("tensor(float)", "tensor(double)")
        ),
        None,
    )


class OnnxModel:
    def __init__(self, session: Any, classes: list[str] | None) -> None:
        self.session = session
        inputs = session.get_inputs()
        inp = inputs[0]
        self.input_name = inp.name
        self.dtype = INPUT_DTYPES.get(inp.type, np.float32)
        self._columns = (
            [(i.name, INPUT_DTYPES.get(i.type, np.float32)) for i in inputs] if len(inputs) > 1 else None
        )
        outs = session.get_outputs()
        self.outputs = [o.name for o in outs]
        types = [o.type for o in outs]
        self._proba = onnx_proba_output(types)
        self.zipmap = self._proba is not None and types[self._proba].startswith("seq(map(")
        self._value = next((k for k, t in enumerate(types) if t in ("tensor(float)", "tensor(double)")), 0)
        self.classes = classes or []
        self.features: list[Feature] = []
        self.interfaces: tuple[str, ...] = ("classifier",) if self._proba is not None else ("predictor",)
        self._tensor: str | None = None  # ZipMap's input, when the graph was loaded with it as an output

    @classmethod
    def from_file(cls, path: Path, meta: dict[str, Any] | None = None) -> OnnxModel:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        graph, tensor = _unzipped(path)
        source = graph if graph is not None else str(path)
        session = ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
        classes = (meta or {}).get("classes") or graph_classes(path)
        model = cls(session, [str(c) for c in classes] if classes else None)
        if tensor is not None and model.zipmap and model.classes:
            model._tensor = tensor  # run for the probability tensor ZipMap reads, not its maps
        return model

    def _feed(self, rows: Rows) -> dict[str, Any]:
        if self._columns is None:
            return {self.input_name: rows.astype(self.dtype, copy=False)}
        return {name: rows[:, j : j + 1].astype(dt) for j, (name, dt) in enumerate(self._columns)}

    def _run(self, rows: Rows) -> list[Any]:
        out: list[Any] = self.session.run(None, self._feed(rows))
        return out

    def predict(self, rows: Rows) -> list[Any]:
        return values_of(self._run(rows)[self._value], len(rows))

    def classify(self, rows: Rows) -> tuple[list[str], list[dict[str, float]]]:
        if self._tensor is not None:  # ZipMap's input: the same probabilities as a (rows × classes) tensor
            labels_raw, proba_raw = self.session.run([self.outputs[0], self._tensor], self._feed(rows))
            return self._labelled(np.asarray(proba_raw, dtype=np.float64), labels_raw)
        out = self._run(rows)
        k = self._proba if self._proba is not None else 1
        proba_raw, labels_raw = out[k], out[0]
        if self.zipmap:  # a list of {label: p} maps, one per row
            keys = list(proba_raw[0]) if proba_raw else []
            if not self.classes:
                self.classes = [str(c) for c in keys]
            proba: Matrix = np.array([[d[c] for c in keys] for d in proba_raw], dtype=np.float64)
        else:
            proba = np.asarray(proba_raw, dtype=np.float64)
        return self._labelled(proba, labels_raw)

    def _labelled(self, proba: Matrix, labels_raw: Any) -> tuple[list[str], list[dict[str, float]]]:
        classes = self.classes or [str(i) for i in range(proba.shape[1])]
        best, dists = labelled(proba, classes)
        raw = np.asarray(labels_raw).ravel()
        if proba.ndim == 2 and len(raw) == len(best) and _labels_agree(raw, proba.argmax(axis=1), classes):
            return best, dists  # the graph's labels, checked as a whole: the most likely class's on every row
        labels = list(map(str, raw.tolist()))
        if len(labels) != len(best) or not set(labels) <= set(classes):
            labels = best  # a graph whose label output is not one of the class labels: take the most likely
        return labels, dists


def _labels_agree(raw: Any, best: Any, classes: Sequence[str]) -> bool:
    """The label output is, row by row, the class at ``best`` (its ``str`` equals that label): compared
    in NumPy, so the labels need not be turned to strings one by one."""
    if raw.dtype.kind in "iu":
        try:
            ints = [int(c) for c in classes]
        except (TypeError, ValueError):
            return False
        if [str(i) for i in ints] != list(classes):  # "01" is not what str(1) gives
            return False
        try:
            want = np.asarray(ints, dtype=raw.dtype)
        except OverflowError:
            return False
        return bool(np.array_equal(want[best], raw))
    if raw.dtype.kind in "OU":
        got = raw.astype(object)
        if raw.dtype.kind == "O" and not all(type(v) is str for v in set(got.tolist())):
            return False
        return bool(np.array_equal(np.asarray(list(classes), dtype=object)[best], got))
    return False


MAX_UNZIP_BYTES = 64 << 20  # larger graphs are loaded as they are (ZipMap's maps converted per row)


def _unzipped(path: Path) -> tuple[bytes | None, str | None]:
    """The graph with ZipMap's input tensor also an output, serialised, and that tensor's name; (None, None)
    for a graph without a ZipMap output, with external data, or larger than ``MAX_UNZIP_BYTES``. Only the
    outputs change: the nodes, weights and the artifact on disk are as verified."""
    import onnx

    if path.stat().st_size > MAX_UNZIP_BYTES:
        return None, None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:
        return None, None
    graph = model.graph
    outputs = {o.name for o in graph.output}
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in graph.initializer):
        return None, None
    zipmaps = [n for n in graph.node if n.op_type == "ZipMap" and n.output and n.output[0] in outputs]
    if len(zipmaps) != 1 or not zipmaps[0].input:
        return None, None
    tensor = zipmaps[0].input[0]
    if tensor not in outputs:
        graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString(), tensor


def graph_classes(path: Path) -> list[str] | None:
    """The class labels an ONNX-ML classifier or ZipMap node in the graph declares (a label map), or None."""
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return None
    return graph_classes_of(graph)


def graph_classes_of(graph: Any) -> list[str] | None:
    """``graph_classes`` over a parsed graph (the header reader has one already)."""
    for node in graph.node:
        if node.op_type == "ZipMap" or (node.domain == "ai.onnx.ml" and node.op_type.endswith("Classifier")):
            for attr in node.attribute:
                if attr.name in ("classlabels_int64s", "classlabels_ints") and attr.ints:
                    return [str(int(c)) for c in attr.ints]
                if attr.name == "classlabels_strings" and attr.strings:
                    return [s.decode() for s in attr.strings]
    return None
