"""Which of the flavors an MLmodel file lists mlgate loads: one order, used everywhere.

An MLmodel file may list several flavors (``prophet`` and ``statsmodels``, say, over one payload).
Admission, description and the loader once each picked a flavor by an order of their own, so the
check and the load could disagree; they all take the choice from here now (through the artifact
plan, ``models/plan.py``).
"""

from __future__ import annotations

from typing import Any

# The flavors mlgate loads, in the order it prefers them when an MLmodel file lists several: the first
# of these the file names is the one loaded. ``models/plan.py`` decides it once from this list, for the
# admission check, the description (``ml_model_info``) and the loader alike.
LOAD_ORDER = (
    "mlgate_remote",
    "mlgate",
    "sklearn",
    "xgboost",
    "lightgbm",
    "catboost",
    "onnx",
    "mlgate_torch",
    "mlgate_torchhub",
    "pytorch",
    "transformers",
    "statsmodels",
    "prophet",
    "python_function",
)


def loaded_flavor(flavors: dict[str, Any]) -> str:
    """The flavor of an MLmodel file's ``flavors`` that mlgate loads ("" when it can load none)."""
    return next((f for f in LOAD_ORDER if f in flavors), "")
