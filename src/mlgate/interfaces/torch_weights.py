"""torch weights as ``model.safetensors`` with a ``model.safetensors.sha256`` sidecar.

The weights file holds tensors only (no pickle, no code). The architecture is not code
either: ``architecture.json`` lists the layers of a ``torch.nn.Sequential`` (Linear and
parameter-free activations), which mlgate rebuilds itself before loading the weights with
``safetensors.torch.load_file`` and ``load_state_dict(strict=True)``. Models that are not
such a Sequential are refused with what to do instead (``onnx`` serves any traceable
model). Loading verifies the sidecar first: a changed weight file is an IntegrityError.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlgate.errors import IntegrityError, InvalidInput

WEIGHTS = "model.safetensors"
SIDECAR = WEIGHTS + ".sha256"
ARCHITECTURE = "architecture.json"
ACTIVATIONS = ("ReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "Identity", "Dropout", "Flatten", "Softmax")


def architecture(module: Any) -> list[dict[str, Any]]:
    """The layers of a Sequential as data; refuses anything mlgate could not rebuild without code."""
    import torch

    if not isinstance(module, torch.nn.Sequential):
        raise _unsupported(type(module).__name__)
    layers: list[dict[str, Any]] = []
    for layer in module:
        kind = type(layer).__name__
        if isinstance(layer, torch.nn.Linear):
            layers.append(
                {
                    "type": "Linear",
                    "in": layer.in_features,
                    "out": layer.out_features,
                    "bias": layer.bias is not None,
                }
            )
        elif isinstance(layer, torch.nn.LeakyReLU):
            layers.append({"type": "LeakyReLU", "slope": float(layer.negative_slope)})
        elif isinstance(layer, torch.nn.Softmax):
            layers.append({"type": "Softmax", "dim": layer.dim})
        elif kind in ACTIVATIONS and type(layer).__module__.startswith("torch.nn"):
            layers.append({"type": kind})
        else:
            raise _unsupported(f"Sequential with a {kind} layer")
    return layers


def _unsupported(what: str) -> InvalidInput:
    return InvalidInput(
        f"cannot save {what} as safetensors: mlgate rebuilds only torch.nn.Sequential models of Linear layers "
        f"and activations ({', '.join(ACTIVATIONS)}, LeakyReLU) without running code",
        "compile it to 'onnx' (any traceable model) or 'torchscript'",
    )


def build(layers: list[dict[str, Any]]) -> Any:
    import torch

    made: list[Any] = []
    for spec in layers:
        kind = spec.get("type")
        if kind == "Linear":
            made.append(torch.nn.Linear(int(spec["in"]), int(spec["out"]), bias=bool(spec["bias"])))
        elif kind == "LeakyReLU":
            made.append(torch.nn.LeakyReLU(float(spec["slope"])))
        elif kind == "Softmax":
            made.append(torch.nn.Softmax(dim=spec.get("dim")))
        elif kind in ACTIVATIONS:
            made.append(getattr(torch.nn, str(kind))())
        else:
            raise IntegrityError(
                f"{ARCHITECTURE} names a layer mlgate does not build: {kind!r}", "re-export it"
            )
    return torch.nn.Sequential(*made)


def save(module: Any, folder: Path) -> bytes:
    """Writes the weights, their sidecar and the architecture into ``folder``; returns the weights file."""
    from safetensors.torch import save

    layers = architecture(module)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    data: bytes = save(state, metadata={"format": "pt"})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEIGHTS).write_bytes(data)
    (folder / SIDECAR).write_text(f"{hashlib.sha256(data).hexdigest()}  {WEIGHTS}\n")
    (folder / ARCHITECTURE).write_text(json.dumps({"sequential": layers}, indent=1))
    return data


def verify(folder: Path) -> str:
    """The weights' digest, after checking it against the sidecar."""
    weights, sidecar = folder / WEIGHTS, folder / SIDECAR
    if not weights.is_file() or not sidecar.is_file():
        raise IntegrityError(f"{WEIGHTS} or its sidecar {SIDECAR} is missing", "re-export the version")
    pinned = sidecar.read_text().split()[0].lower() if sidecar.read_text().split() else ""
    found = hashlib.sha256(weights.read_bytes()).hexdigest()
    if found != pinned:
        raise IntegrityError(
            f"{WEIGHTS} does not match its sidecar: sidecar {pinned[:64]}, file {found}",
            "the weights changed after export; restore them or compile the source again",
        )
    return found


def load(folder: Path) -> Any:
    """The module, rebuilt from ``architecture.json`` with the verified weights (never ``torch.load``)."""
    from safetensors.torch import load_file

    verify(folder)
    try:
        layers = json.loads((folder / ARCHITECTURE).read_text())["sequential"]
    except (OSError, ValueError, KeyError, TypeError):
        raise IntegrityError(f"{ARCHITECTURE} is missing or unreadable", "re-export the version") from None
    module = build(layers)
    module.load_state_dict(load_file(str(folder / WEIGHTS), device="cpu"), strict=True)
    return module.eval()
