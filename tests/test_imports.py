"""`import mlgate.cli` and `mlgate --help` must stay light: no mlflow, sklearn, torch, onnx, pandas."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("mlflow", "sklearn", "torch", "onnx", "onnxruntime", "skl2onnx", "transformers", "pandas", "mcp")


def _imported(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_import_cli_is_light() -> None:
    heavy = _imported("import mlgate, mlgate.cli") & set(HEAVY)
    assert not heavy, f"import mlgate.cli pulled in {sorted(heavy)}"


def test_help_is_light() -> None:
    heavy = _imported(
        "import sys; sys.argv=['mlgate','--help']\nimport mlgate.cli\ntry:\n mlgate.cli.main()\n"
        "except SystemExit: pass"
    ) & set(HEAVY)
    assert not heavy, f"mlgate --help pulled in {sorted(heavy)}"


def test_serving_modules_do_not_import_mlflow_at_module_level() -> None:
    heavy = _imported("import mlgate.server.app, mlgate.serving.inference, mlgate.lifecycle.catalog") & {
        "mlflow",
        "sklearn",
        "torch",
        "onnxruntime",
        "pandas",
    }
    assert not heavy, heavy


def test_the_stdio_front_is_light() -> None:
    """What `mlgate serve` imports before answering `initialize` (the spawned case: tests/server/test_front.py)."""
    heavy = _imported("import mlgate.cli, mlgate.server.run, mlgate.server.front") & (
        set(HEAVY) - {"mcp"} | {"sqlalchemy", "numpy", "yaml", "prometheus_client"}
    )
    assert not heavy, f"the stdio front pulled in {sorted(heavy)}"
