"""transformers adapter: the ``transformers`` MLflow flavor's text-classification pipelines as an Analyzer.

``mlflow.transformers.load_model`` rebuilds the pipeline from the version's folder (model weights,
tokenizer, config): nothing is downloaded. A transformers folder can name repository code in its
configuration, so the resolver loads it only after an operator admitted it
(``models/admission.py``). Each text gets the pipeline's top label and its score, as the pipeline
itself answers; other tasks (generation, token classification, …) are refused with their name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.domain import Feature
from mlgate.errors import BackendError, Refused

TASKS = ("text-classification", "sentiment-analysis")


def task_of(flavor_conf: dict[str, Any]) -> str:
    return str(flavor_conf.get("task") or "")


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # runs code: the loader calls this only for an admitted plan
) -> TextClassification:
    task = task_of(flavor_conf)
    if task not in TASKS:
        raise Refused(
            f"this transformers version is a {task or 'task-less'} pipeline; mlgate serves "
            "text-classification pipelines (as an analyzer) only",
            "log a text-classification pipeline, or export the model to ONNX",
        )
    try:
        import mlflow.transformers
    except ImportError:  # pragma: no cover - mlflow is a dependency
        raise BackendError("mlflow.transformers is missing", "reinstall mlgate") from None
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise BackendError(
            "this version is a transformers model, and transformers is not installed on the server",
            "ask the operator to install mlgate[transformers] (and torch==2.13.0)",
        ) from None
    pipe = mlflow.transformers.load_model(str(model_dir), return_type="pipeline")
    return TextClassification(pipe)


class TextClassification:
    interfaces: tuple[str, ...] = ("analyzer",)

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.features: list[Feature] = []  # texts, not records

    def analyze(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        out = self.pipe(list(texts), truncation=True)
        results = []
        for i, r in enumerate(out):
            top = r[0] if isinstance(r, list) else r  # top_k set on the pipeline: a list per text
            score = float(top["score"])
            if not math.isfinite(score):
                raise BackendError(
                    f"the model's score for text {i} is {score} (not a finite number): JSON cannot carry it",
                    "check the text and the model",
                )
            results.append((str(top["label"]), score))
        return results
