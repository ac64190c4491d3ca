"""Over stdio, `initialize` is answered by the front before the server is imported and built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.server.front import INIT
from mlgate.serving.runtime import Runtime

HEAVY = ("sqlalchemy", "numpy", "mlflow", "sklearn", "pandas")
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def test_the_front_answers_what_the_built_server_would(tmp_path: Path) -> None:
    built = build_server(Runtime(Settings(home=tmp_path)))
    assert INIT.model_dump() == built._lowlevel_server.create_initialization_options().model_dump()


def _serve(
    tmp_path: Path, messages: list[dict[str, object]]
) -> tuple[dict[object, dict[str, object]], set[str]]:
    """Spawn `mlgate serve` under -X importtime, send ``messages``, wait for the answer to each request,
    close stdin: the answers by id and the top-level packages the process imported."""
    env = dict(os.environ, MLGATE_HOME=str(tmp_path), MLGATE_WARM_ALIASES="")
    # a file, not a pipe: -X importtime writes more than a pipe holds (the child has its own descriptor)
    with (tmp_path / "stderr.txt").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "mlgate", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    assert proc.stdin is not None and proc.stdout is not None
    answers: dict[object, dict[str, object]] = {}
    for message in messages:
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()
        while "id" in message and message["id"] not in answers:
            line = proc.stdout.readline()
            assert line, "the server closed stdout"
            answer = json.loads(line)
            answers[answer.get("id")] = answer
    proc.communicate(timeout=120)
    err = (tmp_path / "stderr.txt").read_text()
    names = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in err.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return answers, names


@pytest.mark.parametrize("heavy", [HEAVY])
def test_initialize_is_answered_before_anything_heavy_is_imported(
    tmp_path: Path, heavy: tuple[str, ...]
) -> None:
    answers, imported = _serve(tmp_path, [INITIALIZE])
    result = answers[1]["result"]
    assert isinstance(result, dict) and result["serverInfo"]["name"] == "mlgate"
    assert not imported & set(heavy), f"answering initialize imported {sorted(imported & set(heavy))}"


def test_the_first_request_after_initialize_is_served_by_the_built_server(tmp_path: Path) -> None:
    answers, imported = _serve(
        tmp_path,
        [
            INITIALIZE,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "ml_list_models", "arguments": {}},
            },
        ],
    )
    by_id = answers
    names = {t["name"] for t in by_id[2]["result"]["tools"]}  # type: ignore[index]
    assert {"ml_predict", "ml_list_models", "ml_halt"} <= names
    assert by_id[3]["result"]["isError"] is False, by_id[3]  # type: ignore[index]
    assert "sqlalchemy" in imported  # built once asked
