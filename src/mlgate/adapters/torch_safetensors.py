"""The ``mlgate_torch`` flavor: a torch Sequential rebuilt from data, weights from a verified safetensors file.

``architecture.json`` lists the layers of a ``torch.nn.Sequential`` (nested Sequentials allowed), each a
built-in ``torch.nn`` class named in ``LAYERS`` with its constructor arguments as JSON scalars. mlgate
rebuilds it by calling those constructors itself, then puts in the weights (``torch_weights``: sidecar
checked first, ``safetensors``, strict). Nothing in the folder runs code when loaded, so the flavor needs
no admission. Exact classes only: a subclass of ``Linear`` may override ``forward``, so it is refused,
as is any other module, naming what mlgate can rebuild and what to do instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlgate.domain import Feature
from mlgate.errors import IntegrityError, InvalidInput

ARCHITECTURE = "architecture.json"
_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias")
# built-in torch.nn layer → the constructor arguments read back from its attributes (``bias``: present or not)
LAYERS: dict[str, tuple[str, ...]] = {
    "Linear": ("in_features", "out_features", "bias"),
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine", "bias"),
    "BatchNorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "Conv1d": (*_CONV, "padding_mode"),
    "MaxPool1d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "Flatten": ("start_dim", "end_dim"),
    "Unflatten": ("dim", "unflattened_size"),
    "Dropout": ("p",),
    "AlphaDropout": ("p",),
    "PReLU": ("num_parameters",),
    "GELU": ("approximate",),
    "ELU": ("alpha",),
    "CELU": ("alpha",),
    "LeakyReLU": ("negative_slope",),
    "Softplus": ("beta", "threshold"),
    "Hardtanh": ("min_val", "max_val"),
    "Softmax": ("dim",),
    "LogSoftmax": ("dim",),
    **dict.fromkeys(
        (
            "Identity",
            "ReLU",
            "ReLU6",
            "Tanh",
            "Sigmoid",
            "SiLU",
            "Mish",
            "SELU",
            "Softsign",
            "Tanhshrink",
            "Hardswish",
            "Hardsigmoid",
        ),
        (),
    ),
}


def rebuildable() -> str:
    return "torch.nn.Sequential of " + ", ".join(LAYERS)


def _arg(layer: Any, name: str) -> Any:
    value = getattr(layer, name)
    if name == "bias" and not isinstance(value, bool):
        return value is not None
    return list(value) if isinstance(value, tuple) else value


def architecture(module: Any) -> list[dict[str, Any]]:
    """The layers of a Sequential as data; refuses anything mlgate could not rebuild without the model's code."""
    import torch

    if type(module) is not torch.nn.Sequential:
        raise _unsupported(type(module).__name__)
    layers: list[dict[str, Any]] = []
    for layer in module:
        kind = type(layer).__name__
        if type(layer) is torch.nn.Sequential:
            layers.append({"type": "Sequential", "layers": architecture(layer)})
        elif kind in LAYERS and type(layer) is getattr(torch.nn, kind):
            layers.append({"type": kind, "args": {a: _arg(layer, a) for a in LAYERS[kind]}})
        else:
            raise _unsupported(f"Sequential with a {type(layer).__module__}.{kind} layer")
    return layers


def _unsupported(what: str) -> InvalidInput:
    return InvalidInput(
        f"cannot keep a {what} as safetensors: its architecture would have to be rebuilt by running the model's "
        f"own code. mlgate rebuilds a {rebuildable()} from data, and a TorchHub pull from its admitted hubconf.py",
        "compile it to 'onnx' (any traceable model) or 'torchscript'; or publish it as a TorchHub repository and "
        "pull it with `mlgate torchhub pull`, which keeps its weights as safetensors",
    )


def _value(v: Any) -> Any:
    if isinstance(v, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        return tuple(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise IntegrityError(
        f"{ARCHITECTURE} holds an argument that is not a plain value: {v!r}"[:300], "re-export it"
    )


def _first_format(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Arguments as the first release wrote them: Linear {in, out, bias}, LeakyReLU {slope}, Softmax {dim}."""
    if kind == "Linear":
        return {
            "in_features": spec.get("in"),
            "out_features": spec.get("out"),
            "bias": spec.get("bias", True),
        }
    if kind == "LeakyReLU":
        return {"negative_slope": spec.get("slope", 0.01)}
    return {"dim": spec.get("dim")} if kind == "Softmax" else {}


def build(layers: list[dict[str, Any]]) -> Any:
    import torch

    made: list[Any] = []
    for spec in layers:
        kind = str(spec.get("type"))
        if kind == "Sequential":
            made.append(build(list(spec.get("layers") or [])))
        elif kind in LAYERS:
            args = spec.get("args")
            args = _first_format(kind, spec) if args is None else dict(args)
            unknown = set(args) - set(LAYERS[kind])
            if unknown:
                raise IntegrityError(f"{ARCHITECTURE}: {kind} takes no {sorted(unknown)}", "re-export it")
            made.append(getattr(torch.nn, kind)(**{k: _value(v) for k, v in args.items()}))
        else:
            raise IntegrityError(
                f"{ARCHITECTURE} names a layer mlgate does not build: {kind!r}", "re-export it"
            )
    return torch.nn.Sequential(*made)


def save(module: Any, folder: Path) -> bytes:
    """Writes the weights, their sidecar and the architecture into ``folder``; returns the weights file."""
    from mlgate.adapters import torch_weights

    layers = architecture(module)  # refuses before anything is written
    data = torch_weights.write(torch_weights.state_of(module), folder)
    (folder / ARCHITECTURE).write_text(json.dumps({"sequential": layers}, indent=1))
    return data


def load_module(folder: Path) -> Any:
    """The module, rebuilt from ``architecture.json`` with the verified weights (never ``torch.load``)."""
    from mlgate.adapters import torch_weights

    try:
        layers = json.loads((folder / ARCHITECTURE).read_text())["sequential"]
    except (OSError, ValueError, KeyError, TypeError):
        raise IntegrityError(f"{ARCHITECTURE} is missing or unreadable", "re-export the version") from None
    state = torch_weights.read(folder)  # checked against the sidecar before anything is built
    import torch

    with torch.device("meta"):  # no random initialisation of weights that are replaced anyway
        module = build(layers)
    return torch_weights.put(module, state, assign=True)


def load(
    model_dir: Path,
    flavor_conf: dict[str, Any],
    features: Sequence[Feature],
    meta: dict[str, Any] | None = None,
    *,
    admitted: bool = False,  # the loader's seam (FlavorLoader); this format runs no code of its own
) -> Any:
    from mlgate.adapters.pytorch import TorchModel

    return TorchModel(load_module(model_dir), features)
