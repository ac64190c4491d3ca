"""The official MCP conformance suite (``@modelcontextprotocol/conformance``) against mlgate's own
HTTP stack, auth off, on 127.0.0.1 (issue 3's acceptance item).

The suite needs Node >= 22; Node 22 and the suite come from the npm registry into ``.conformance/``
at the repository root (git-ignored) on first use and are reused afterwards. ``harness.py`` serves
mlgate's server plus the suite's fixtures; ``baseline.yml`` lists the scenarios expected to fail,
each with its reason. The suite exits 0 only if every other scenario passes and every baseline
entry still fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests._support import free_port, mlgate_env, wait_http
from tests._support.node import ensure_suite, node_bin

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.yml"


def _scenario(result_dir: Path) -> str:
    """``server-tools-list-2026-01-01T00-00-00-000Z`` -> ``tools-list``."""
    return re.sub(r"-\d{4}-\d{2}-\d{2}T[\d-]+Z$", "", result_dir.name.removeprefix("server-"))


def _check_failures(results: Path, skip: set[str]) -> str:
    """FAILURE/WARNING checks of the scenarios outside the baseline, one line each."""
    lines = []
    for checks_file in sorted(results.glob("*/checks.json")):
        scenario = _scenario(checks_file.parent)
        if scenario in skip:
            continue
        for check in json.loads(checks_file.read_text()):
            if check.get("status") in ("FAILURE", "WARNING"):
                lines.append(
                    f"{scenario}: {check['status']} {check.get('id')}: {check.get('errorMessage', '')}"
                )
    return "\n".join(lines)


def test_mcp_conformance_suite(tmp_path: Path) -> None:
    cli = ensure_suite()
    baseline = set((yaml.safe_load(BASELINE.read_text()) or {}).get("server") or [])

    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = mlgate_env(home, PYTHONPATH=str(REPO))
    harness_log = tmp_path / "harness.log"
    with harness_log.open("wb") as log:
        # cwd outside the repository: no stray .env reaches Settings
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.conformance.harness", "--home", str(home), "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    proc.log_path = str(harness_log)  # type: ignore[attr-defined]  # read by wait_http on an early exit
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc)
        results = tmp_path / "results"
        suite_env = {
            **os.environ,
            "PATH": f"{node_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
            "NO_COLOR": "1",
            "FORCE_COLOR": "0",
        }
        done = subprocess.run(
            [
                str(node_bin() / "node"),
                str(cli),
                "server",
                "--url",
                f"http://127.0.0.1:{port}/mcp/ml",
                "--suite",
                "all",
                "--expected-failures",
                str(BASELINE),
                "-o",
                str(results),
            ],
            cwd=tmp_path,
            env=suite_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    output = done.stdout + done.stderr
    summary = output[output.find("=== SUMMARY ===") :] if "=== SUMMARY ===" in output else output
    ran = {_scenario(p) for p in results.glob("server-*")}
    if done.returncode != 0:
        pytest.fail(
            f"conformance suite exited {done.returncode}\n{summary}\n\nfailing checks (outside the baseline):\n"
            f"{_check_failures(results, baseline)}\n\nharness log (tail):\n{harness_log.read_text()[-3000:]}",
            pytrace=False,
        )
    assert len(ran) >= 30, f"the suite ran only {len(ran)} server scenarios:\n{output}"
    assert baseline <= ran, f"baseline names scenarios the suite does not run: {sorted(baseline - ran)}"
