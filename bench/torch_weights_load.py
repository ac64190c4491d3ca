"""Load time and size: torch weights kept as safetensors + sidecar vs the TorchScript folder mlgate wrote before.

    PYTHONPATH=src .venv/bin/python bench/torch_weights_load.py [--repeat 15]

For three MLPs (the TorchHub test model 3→8→1, 16→256→256→1, 64→1024×3→1) it writes, in one temporary
folder, the same weights three ways and times the serving adapter's load (what the model cache calls on a
miss), median of ``--repeat`` loads, ratios against TorchScript in the same run:

- ``torchscript``: ``mlflow.pytorch.save_model`` of the traced module (what a TorchHub pull registered before);
  loaded by ``adapters/pytorch.py`` (``mlflow.pytorch.load_model``).
- ``mlgate_torch``: ``architecture.json`` + ``model.safetensors`` + sidecar (``ml_compile target=safetensors``);
  loaded by ``adapters/torch_safetensors.py`` (sidecar check, safetensors, Sequential rebuilt from data).
- ``mlgate_torchhub``: ``model.safetensors`` + sidecar + the repository archive (which ships its own copy of
  the weights, as the test repository does); loaded by ``adapters/torch_hubconf.py`` (sidecar, archive
  hash, unpack, ``torch.hub.load(source="local")`` with downloads refused, weights put in).

Also the weights alone: ``torch.jit.load`` of the TorchScript file vs sidecar check + ``safetensors.torch.load``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import statistics
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HUBCONF = """
import os

import torch
from safetensors.torch import load_file

dependencies = ["torch", "safetensors"]
SIZES = {sizes!r}


def net():
    layers = []
    for a, b in zip(SIZES, SIZES[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    module = torch.nn.Sequential(*layers[:-1])
    module.load_state_dict(load_file(os.path.join(os.path.dirname(__file__), "weights.safetensors")))
    return module
"""


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm imports
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(sizes: list[int]) -> Any:
    import torch

    torch.manual_seed(0)
    layers: list[Any] = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1]).eval()


def write_all(root: Path, sizes: list[int]) -> dict[str, Path]:
    import mlflow.pytorch
    import torch
    import yaml
    from safetensors.torch import save

    from mlgate.adapters import torch_safetensors, torch_weights

    net = build(sizes)
    x = torch.zeros(2, sizes[0])
    ts = root / "torchscript"
    mlflow.pytorch.save_model(
        torch.jit.trace(net, x),  # type: ignore[no-untyped-call]
        str(ts),
        serialization_format="pickle",
        pip_requirements=["torch"],
    )
    st = root / "mlgate_torch"
    torch_safetensors.save(net, st)
    hub = root / "mlgate_torchhub"
    torch_weights.write(torch_weights.state_of(net), hub)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in {
            "hubconf.py": HUBCONF.format(sizes=sizes).encode(),
            "weights.safetensors": save(torch_weights.state_of(net)),
        }.items():
            info = tarfile.TarInfo(f"repo-main/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (hub / "hub").mkdir()
    (hub / "hub/archive.tar.gz").write_bytes(buf.getvalue())
    conf = {
        "data": "model.safetensors",
        "archive": "hub/archive.tar.gz",
        "entrypoint": "net",
        "ref": "torchhub:bench/mlp:net@" + "0" * 40,
        "archive_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
    }
    (hub / "MLmodel").write_text(yaml.safe_dump({"flavors": {"mlgate_torchhub": conf}}))
    return {"torchscript": ts, "mlgate_torch": st, "mlgate_torchhub": hub}


def bench_one(sizes: list[int], repeat: int) -> None:
    import torch
    import yaml
    from safetensors.torch import load

    from mlgate.adapters import pytorch, torch_hubconf, torch_safetensors, torch_weights

    with tempfile.TemporaryDirectory() as tmp:
        folders = write_all(Path(tmp), sizes)
        ts, st, hub = folders["torchscript"], folders["mlgate_torch"], folders["mlgate_torchhub"]
        ts_conf = yaml.safe_load((ts / "MLmodel").read_text())["flavors"]["pytorch"]
        hub_conf = yaml.safe_load((hub / "MLmodel").read_text())["flavors"]["mlgate_torchhub"]
        script_file = next(ts.rglob("model.pth"))
        loaders: dict[str, Callable[[], Any]] = {
            "torchscript": lambda: pytorch.load(ts, ts_conf, []),
            "mlgate_torch": lambda: torch_safetensors.load(st, {}, []),
            "mlgate_torchhub": lambda: torch_hubconf.load(hub, hub_conf, [], admitted=True),
            "weights only: torch.jit.load": lambda: torch.jit.load(str(script_file)),  # type: ignore[no-untyped-call]
            "weights only: sidecar + safetensors": lambda: load(torch_weights.verified_bytes(st)),
        }
        base = 0.0
        n = sum(p.numel() for p in build(sizes).parameters())
        label = "→".join(map(str, sizes))
        for fmt, fn in loaders.items():
            ms = median_ms(fn, repeat)
            base = base or ms
            folder = folders.get(fmt)
            fbytes = f"{size_of(folder):,}" if folder else ""
            wfile = (
                script_file if fmt.endswith("jit.load") or fmt == "torchscript" else st / "model.safetensors"
            )
            ratio = f"{base / ms:.2f}×" if fmt in folders else ""
            print(
                f"| {label} | {n:,} | {fmt} | {fbytes} | {wfile.stat().st_size:,} | {ms:.2f} ms | {ratio} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    print("| model | params | format | folder bytes | weights file bytes | load (median) | vs TorchScript |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for sizes in ([3, 8, 1], [16, 256, 256, 1], [64, 1024, 1024, 1024, 1]):
        bench_one(sizes, args.repeat)


if __name__ == "__main__":
    main()
