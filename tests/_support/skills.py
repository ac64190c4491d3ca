"""Skills for the tests: a built-in spec's text, a spec written (and locked) into an editable folder, and a
three-step chain (segment, predict on the caller's records, analyze) whose runs are named in messages."""

from __future__ import annotations

import re
from pathlib import Path

from mlgate.skills.catalog import BUILTIN_DIR
from mlgate.skills.lock import lock_dir
from tests._support import DIABETES_ROW


def builtin_text(name: str) -> str:
    return (BUILTIN_DIR / f"{name}.yaml").read_text(encoding="utf-8")


def write_skill(folder: Path, text: str, file: str = "skill.yaml", *, lock: bool = True) -> Path:
    """Write a spec into an editable folder and (by default) lock it, as an operator would."""
    path = folder / file
    path.write_text(text, encoding="utf-8")
    if lock:
        assert lock_dir(folder, echo=lambda _m: None) == 0
    return path


# Three steps: segment (works), predict on records the caller sends (fails on bad records), analyze.
CHAIN = """
name: chain
version: 1
description: A segment step, a predict step on the caller's records, then an analyze step.
inputs:
  series: {type: numbers}
  rows: {type: records}
  texts: {type: texts}
steps:
  - {id: split, call: segment, model: demo-segmenter@1, args: {series: $inputs.series}}
  - {id: score, call: predict, model: demo-regressor@1, args: {features: $inputs.rows}}
  - {id: tone, call: analyze, model: demo-sentiment@1, args: {texts: $inputs.texts}}
outputs:
  breakpoints: $split.breakpoints
  scores: $score.predictions
  tone: $tone.results.0.label
"""
CHAIN_INPUTS = {"series": [0.0] * 30 + [5.0] * 30, "rows": [DIABETES_ROW], "texts": ["superb"]}


def run_id_in(message: str) -> str:
    found = re.search(r"\(run ([0-9a-f]{32})\)", message)
    assert found, message
    return found.group(1)
