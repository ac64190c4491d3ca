"""The one table of the five inference interfaces.

The tool list, the scope map, the skill call table and the adapter dispatch all derive
from it; adding an interface means adding a row here and its adapter method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Interface = Literal["predictor", "classifier", "forecaster", "segmenter", "analyzer"]


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    name: Interface
    verb: str  # the adapter's method and the skill step's `call`
    tool: str  # the MCP tool that serves it
    title: str
    scope: str = "ml:infer"  # what calling it (as a tool or a skill step) needs


INTERFACE_TABLE: tuple[InterfaceSpec, ...] = (
    InterfaceSpec("predictor", "predict", "ml_predict", "Predict"),
    InterfaceSpec("classifier", "classify", "ml_classify", "Classify"),
    InterfaceSpec("forecaster", "forecast", "ml_forecast", "Forecast with intervals"),
    InterfaceSpec("segmenter", "segment", "ml_segment", "Find change points"),
    InterfaceSpec("analyzer", "analyze", "ml_analyze", "Analyze texts"),
)
INTERFACES: tuple[Interface, ...] = tuple(i.name for i in INTERFACE_TABLE)
TOOL_OF: dict[str, str] = {i.name: i.tool for i in INTERFACE_TABLE}
BY_VERB: dict[str, InterfaceSpec] = {i.verb: i for i in INTERFACE_TABLE}
