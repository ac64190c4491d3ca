"""The version tags mlgate reads and writes in the MLflow registry."""

from __future__ import annotations

TAG_SHA = "mlgate.sha256"  # the artifact digest recorded when mlgate registered the version
TAG_INTERFACES = "mlgate.interfaces"
TAG_FEATURES = "mlgate.features"
TAG_METRICS = "mlgate.metrics"
TAG_STAGE = "mlgate.stage"
TAG_PENDING = "mlgate.pending"  # set with the version row, removed last: a pending version is not served
# {feature: unit} (JSON), set by an operator: added to (and over) the units the model file declares
TAG_UNITS = "mlgate.units"
