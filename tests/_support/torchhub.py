"""The tiny TorchHub repository the supply tests pull from the local archive endpoint (tests/supply/torchhub_server.py):
its commits (a good one; one with a path out of the archive, a link out of it, an absolute path), its features, and
what its own weights answer."""

from __future__ import annotations

from pathlib import Path

GOOD, EVIL, LINK, ABSOLUTE = "1" * 40, "2" * 40, "3" * 40, "4" * 40
FEATURES = ["a", "b", "c"]


def own_answer(snap: Path, row: list[float]) -> float:
    """What the repository's own weights answer, computed here without mlgate."""
    import torch
    from safetensors.torch import load as load_weights

    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    net.load_state_dict(load_weights((snap / "weights.safetensors").read_bytes()))
    return float(net(torch.tensor([row])).item())
