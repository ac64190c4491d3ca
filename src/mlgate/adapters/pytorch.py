"""PyTorch adapter: the ``pytorch`` MLflow flavor loaded with ``mlflow.pytorch`` (no pyfunc wrapper).

The artifact is a pickled (or TorchScript) torch module: it runs code when loaded, so the resolver
loads it only after an operator admitted it (``models/admission.py``). Records arrive checked, in
the signature's feature order, and reach the module as one float32 tensor (rows × features), in
eval mode without gradients (MLflow's default ``pt2`` format is an exported graph, already
captured in the mode it was exported in). A regression head — one output (or a fixed number of outputs) per
row — is a Predictor; classifier heads are not told apart from regression heads by the flavor
(no class labels are stored), so they are served as predictors of their raw outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.domain import Feature, Rows
from mlgate.errors import BackendError
from mlgate.records.frames import numeric_of, values_of


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # runs code: the loader calls this only for an admitted plan
) -> TorchModel:
    import mlflow.pytorch

    module = mlflow.pytorch.load_model(str(model_dir), map_location="cpu")
    if not callable(module):
        raise BackendError(
            f"the pytorch flavor holds a {type(module).__name__}, not a callable torch module",
            "log a torch.nn.Module with mlflow.pytorch.log_model",
        )
    # MLflow's default format, pt2 (torch.export): the graph was captured in the mode it was exported in,
    # and its module refuses eval(); a pickled or TorchScript module is put in eval mode here
    exported = (model_dir / str(flavor_conf.get("model_data", "data")) / "model.pt2").is_file()
    return TorchModel(module, features, exported=exported)


class TorchModel:
    interfaces: tuple[str, ...] = ("predictor",)

    def __init__(self, module: Any, features: Sequence[Feature], *, exported: bool = False) -> None:
        if not exported and hasattr(module, "eval"):
            module.eval()
        self.module = module
        self.features = list(features)

    def predict(self, rows: Rows) -> list[Any]:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(numeric_of(rows, np.float32)))
        with torch.no_grad():
            out = self.module(x)
        if not isinstance(out, torch.Tensor):
            raise BackendError(
                f"the torch module returned a {type(out).__name__}, not one tensor",
                "serve models whose forward returns one tensor of predictions per row",
            )
        return values_of(out.detach().cpu().numpy(), len(rows))
