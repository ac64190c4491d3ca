"""The ``mlgate_torch`` flavor: a torch Sequential rebuilt from data, weights from a verified safetensors file.

Nothing in the folder runs code when loaded (see ``mlgate.interfaces.torch_weights``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlgate.interfaces.base import Feature


class TorchSequential:
    interfaces: tuple[str, ...] = ("predictor",)

    def __init__(self, module: Any, features: Sequence[Feature]) -> None:
        self.module = module
        self.features = list(features)

    def predict(self, rows: Any) -> list[Any]:
        import torch

        with torch.no_grad():
            out = self.module(torch.from_numpy(np.asarray(rows, dtype=np.float32))).numpy()
        arr = np.asarray(out, dtype=np.float64).reshape(len(rows), -1)
        return arr[:, 0].tolist() if arr.shape[1] == 1 else arr.tolist()


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
) -> TorchSequential:
    from mlgate.interfaces.torch_weights import load as load_module

    return TorchSequential(load_module(model_dir), features)
