"""torch weights as ``model.safetensors`` with a ``model.safetensors.sha256`` sidecar; never a pickle.

The weights file holds tensors only (no pickle, no code); the sidecar is ``<hex>  model.safetensors``,
the ``sha256sum`` format. Reading takes the file's bytes once, checks them against the sidecar and
only then parses those same bytes with ``safetensors.torch.load``: a changed weight file is an
IntegrityError before any tensor is read, and there is no window between the check and the read.
``torch.load`` is never called. Putting the tensors into a module (``load_into``) is strict: a missing,
extra or mis-shaped tensor is refused too. The architecture the weights go into is someone else's
business: ``torch_safetensors`` (a Sequential described as data) or ``torch_hubconf`` (an admitted
TorchHub entrypoint).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mlgate.errors import IntegrityError

WEIGHTS = "model.safetensors"
SIDECAR = WEIGHTS + ".sha256"


def state_of(module: Any) -> dict[str, Any]:
    """The module's state_dict as contiguous CPU tensors; a tensor sharing storage with an earlier one (tied
    weights) is copied, since safetensors refuses shared storage and ``load_state_dict`` fills both anyway."""
    seen: set[int] = set()
    state: dict[str, Any] = {}
    for key, tensor in module.state_dict().items():
        t = tensor.detach().cpu()
        ptr = t.untyped_storage().data_ptr()
        state[key] = t.clone().contiguous() if ptr in seen and t.numel() else t.contiguous()
        seen.add(ptr)
    return state


def write(state: dict[str, Any], folder: Path, metadata: dict[str, str] | None = None) -> bytes:
    """Writes ``model.safetensors`` and its sidecar into ``folder``; returns the weights file's bytes."""
    from safetensors.torch import save

    data: bytes = save(state, metadata={"format": "pt", **(metadata or {})})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEIGHTS).write_bytes(data)
    (folder / SIDECAR).write_text(f"{hashlib.sha256(data).hexdigest()}  {WEIGHTS}\n")
    return data


def verified_bytes(folder: Path) -> bytes:
    """The weights file's bytes, after checking them against the sidecar."""
    weights, sidecar = folder / WEIGHTS, folder / SIDECAR
    if not weights.is_file() or not sidecar.is_file():
        raise IntegrityError(
            f"{WEIGHTS} or its sidecar {SIDECAR} is missing", "register or compile the version again"
        )
    words = sidecar.read_text(errors="replace").split()
    pinned = words[0].lower() if words else ""
    data = weights.read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != pinned:
        raise IntegrityError(
            f"{WEIGHTS} does not match its sidecar {SIDECAR}: sidecar says {pinned[:64] or 'nothing'}, "
            f"the file hashes to {found}",
            "the weights changed after they were written; restore them, or register/compile the source again",
        )
    return data


def read(folder: Path) -> dict[str, Any]:
    """The tensors of the verified weights file (CPU)."""
    from safetensors.torch import load

    return dict(load(verified_bytes(folder)))


def put(module: Any, state: dict[str, Any], *, assign: bool = False) -> Any:
    """``module`` with ``state`` put in (strict: every tensor present, none extra, shapes equal), in eval mode.
    ``assign``: the module was built on the meta device and takes the loaded tensors themselves (no copy)."""
    try:
        module.load_state_dict(state, strict=True, assign=assign)
    except RuntimeError as exc:
        raise IntegrityError(
            f"{WEIGHTS} does not fit the rebuilt architecture: {str(exc).splitlines()[0][:300]}",
            "register or compile the source again",
        ) from None
    if assign and any(t.is_meta for t in (*module.parameters(), *module.buffers())):
        raise IntegrityError(f"{WEIGHTS} leaves part of the module without values", "re-export it")
    return module.eval()


def load_into(module: Any, folder: Path) -> Any:
    """``module`` with the verified weights of ``folder`` put in."""
    return put(module, read(folder))
