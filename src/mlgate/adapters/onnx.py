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

    @classmethod
    def from_file(cls, path: Path, meta: dict[str, Any] | None = None) -> OnnxModel:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        classes = (meta or {}).get("classes") or graph_classes(path)
        return cls(session, [str(c) for c in classes] if classes else None)

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
        classes = self.classes or [str(i) for i in range(proba.shape[1])]
        best, dists = labelled(proba, classes)
        labels = [str(x) for x in np.asarray(labels_raw).ravel().tolist()]
        if len(labels) != len(best) or any(lbl not in classes for lbl in labels):
            labels = best  # a graph whose label output is not one of the class labels: take the most likely
        return labels, dists


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
