"""A transformers text-classification model from a pulled snapshot, as an Analyzer.

``transformers`` (and torch) are an optional extra: ``pip install 'mlgate[transformers]'``.
Only safetensors weights are loaded (``use_safetensors=True``), never pickles, and no
code from the repository runs (``trust_remote_code=False``); the folder is local, so
nothing is downloaded at load time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.errors import BackendError


class TextClassifier:
    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe

    @classmethod
    def from_dir(cls, folder: Path) -> TextClassifier:
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
        except ImportError:
            raise BackendError(
                "this snapshot is a transformers model, and transformers is not installed on the server",
                "ask the operator to install mlgate[transformers] (and torch==2.13.0)",
            ) from None
        model = AutoModelForSequenceClassification.from_pretrained(
            str(folder), use_safetensors=True, trust_remote_code=False, local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False, local_files_only=True)
        return cls(pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu"))

    def analyze(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        out = self.pipe(list(texts), truncation=True)
        return [(str(r["label"]), float(r["score"])) for r in out]
