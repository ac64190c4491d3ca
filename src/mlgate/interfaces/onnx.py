"""ONNX Runtime adapter: a Predictor or Classifier over one inference session.

A session call costs microseconds, so these models bypass the batcher. Classifiers
are graphs with two outputs (label, probabilities as a tensor — convert with
``zipmap=False``); everything else is a Predictor over the first output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlgate.interfaces.base import Matrix


class OnnxModel:
    def __init__(self, session: Any, classes: list[str] | None) -> None:
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        self.dtype = np.float32 if "float)" in inp.type or inp.type == "tensor(float)" else np.float64
        self.outputs = [o.name for o in session.get_outputs()]
        self.classes = classes or []
        self.interfaces: tuple[str, ...] = ("classifier",) if len(self.outputs) >= 2 else ("predictor",)

    @classmethod
    def from_file(cls, path: Path, meta: dict[str, Any] | None = None) -> OnnxModel:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        classes = (meta or {}).get("classes")
        return cls(session, [str(c) for c in classes] if classes else None)

    def _run(self, rows: Matrix) -> list[Any]:
        out: list[Any] = self.session.run(None, {self.input_name: rows.astype(self.dtype, copy=False)})
        return out

    def predict(self, rows: Matrix) -> list[Any]:
        arr = np.asarray(self._run(rows)[0], dtype=np.float64).reshape(len(rows), -1)
        return arr[:, 0].tolist() if arr.shape[1] == 1 else arr.tolist()

    def classify(self, rows: Matrix) -> tuple[list[str], list[dict[str, float]]]:
        labels_raw, proba = self._run(rows)[:2]
        proba = np.asarray(proba, dtype=np.float64)
        classes = self.classes or [str(i) for i in range(proba.shape[1])]
        labels = [str(x) for x in np.asarray(labels_raw).ravel().tolist()]
        if self.classes and labels and labels[0] not in classes:
            labels = [classes[int(i)] for i in proba.argmax(axis=1)]
        return labels, [dict(zip(classes, row, strict=True)) for row in proba.tolist()]
