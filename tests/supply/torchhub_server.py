"""A TorchHub-style archive endpoint on 127.0.0.1: tiny repositories as .tar.gz, GitHub's layout."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HUBCONF = b'''
import os

import torch
from safetensors.torch import load_file

dependencies = ["torch", "safetensors"]


def _net():
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))


def tiny():
    """A 3-input regressor whose weights ship in the repository."""
    net = _net()
    net.load_state_dict(load_file(os.path.join(os.path.dirname(__file__), "weights.safetensors")))
    return net


def downloads():
    """Fetches its weights at load, as many hubconf.py files do."""
    net = _net()
    net.load_state_dict(torch.hub.load_state_dict_from_url("http://127.0.0.1:9/weights.pth"))
    return net


def quietly():
    """Tries the network itself, swallows the failure and falls back to the weights it ships."""
    import urllib.request

    try:
        urllib.request.urlopen("http://127.0.0.1:9/telemetry", timeout=1)
    except Exception:
        pass
    return tiny()
'''


def weights() -> bytes:
    import torch
    from safetensors.torch import save

    torch.manual_seed(7)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    return save({k: v.contiguous() for k, v in net.state_dict().items()})


def tarball(files: dict[str, bytes], top: str = "tinyhub-main", links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name if name.startswith(("/", "..")) else f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Archives:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []


@contextmanager
def serve(archives: Archives) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            archives.requests.append(self.path)
            body = archives.files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
