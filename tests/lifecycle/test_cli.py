"""`mlgate models …` as an operator runs it (a subprocess on a registry set up here), and a running
server following the alias changes it makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from mlgate.config import Settings
from mlgate.domain import VersionInfo
from mlgate.state.db import StateDB
from tests._support import await_until, call, mlgate_env
from tests._support.lifecycle import FEATURES, aliases

Two = tuple[str, VersionInfo, VersionInfo]


def models(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlgate", "models", *args],
        env=mlgate_env(home),
        capture_output=True,
        text=True,
        timeout=180,
    )


def lines_with(text: str, *needles: str) -> list[str]:
    return [ln for ln in text.splitlines() if all(n in ln.split() for n in needles)]


def test_operator_cli_prints_tables_and_changes_stages(
    demo_home: Path, settings: Settings, two_versions: Two
) -> None:
    name, v1, v2 = two_versions

    done = models(demo_home, "list")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header[:6] == ["model", "version", "stage", "aliases", "interfaces", "registered"]
    (row1,) = lines_with(done.stdout, name, "1")
    assert row1.split()[2:5] == ["production", "production", "predictor"] and "r2=" in row1
    assert lines_with(done.stdout, name, "2", "development")
    assert lines_with(done.stdout, "demo-regressor", "1", "production")

    done = models(demo_home, "promote", name, "2", "--gate", "min_r2=0.9999", "--gate", "max_mae=5")
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[0].split()[:4] == ["gate", "threshold", "actual", "result"]
    (failed,) = lines_with(done.stdout, "min_r2", "FAIL")
    assert "0.9999" in failed and f"{v2.metrics['r2']:.4g}" in failed
    assert lines_with(done.stdout, "max_mae", "pass") and "not promoted: 1 gate(s) failed" in done.stdout
    assert aliases(settings, name) == {"production": 1}

    done = models(demo_home, "promote", name, "2", "--gate", "min_r2=0.9")
    assert done.returncode == 0, done.stderr
    assert f"{name}@2 is now production; version 1 moved to archived" in done.stdout

    done = models(demo_home, "info", f"{name}@production")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{name} version 2   stage production   aliases production")
    history = done.stdout.split("when")[1]
    assert "development" in history and "production" in history and "promoted by local" in history
    assert lines_with(done.stdout, "r2", f"{v2.metrics['r2']:.4g}")

    done = models(demo_home, "compare", name, "1", "2")
    assert done.returncode == 0, done.stderr
    assert "v2 (base)" in done.stdout and "Δ v1" in done.stdout
    (r2,) = lines_with(done.stdout, "r2")
    assert r2.split()[1:3] == [f"{v1.metrics['r2']:.4g}", f"{v2.metrics['r2']:.4g}"] and "v2 (higher)" in r2

    done = models(demo_home, "rollback", name)
    assert done.returncode == 0 and f"{name}@production is version 1 again; version 2 archived" in done.stdout
    assert aliases(settings, name) == {"production": 1}


def mlgate_main(monkeypatch: pytest.MonkeyPatch, home: Path, *args: str) -> int:
    """The same command line, in this process (each subprocess costs seconds of imports)."""
    from mlgate.cli import main

    for key in [k for k in os.environ if k.startswith("MLGATE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MLGATE_HOME", str(home))
    return main(["models", *args])


def test_operator_cli_demote_archive_gates_and_ledger(
    demo_home: Path,
    settings: Settings,
    two_versions: Two,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, _, _ = two_versions
    assert mlgate_main(monkeypatch, demo_home, "promote", name, "2", "--to", "staging") == 0
    assert mlgate_main(monkeypatch, demo_home, "demote", name, "2") == 0
    assert f"{name}@2 is now development (removed alias staging)" in capsys.readouterr().out
    assert mlgate_main(monkeypatch, demo_home, "archive", name, "2") == 0
    assert f"{name}@2 is now archived" in capsys.readouterr().out
    assert mlgate_main(monkeypatch, demo_home, "archive", name, "1") == 2
    assert "serves production" in capsys.readouterr().err
    assert aliases(settings, name) == {"production": 1}

    assert mlgate_main(monkeypatch, demo_home, "gates", name, "min_r2=0.5", "require_drift_check=true") == 0
    out = capsys.readouterr().out
    assert lines_with(out, "production", "min_r2", "0.5")
    assert lines_with(out, "production", "require_drift_check", "yes")
    assert mlgate_main(monkeypatch, demo_home, "promote", name, "2") == 3  # the stored gates now apply
    assert "require_drift_check: no drift check is recorded" in capsys.readouterr().out

    assert mlgate_main(monkeypatch, demo_home, "info", f"{name}@2", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert [e["stage"] for e in info["stage_history"]] == [
        "development",
        "staging",
        "development",
        "archived",
    ]

    rows = [r for r in StateDB(settings.state).tail(500) if (r.model_ref or "").startswith(name)]
    tools = [(r.tool, r.outcome, r.transport) for r in rows]
    for action in ("promote", "demote", "archive", "gates"):
        assert (f"models.{action}", "ok", "cli") in tools, tools
    assert ("models.archive", "error", "cli") in tools


@pytest.mark.anyio
async def test_a_running_server_follows_promotions_made_elsewhere(demo_home: Path, two_versions: Two) -> None:
    name, _, _ = two_versions
    row = dict.fromkeys(FEATURES, 0.0)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mlgate", "serve"], env=mlgate_env(demo_home)
    )

    async def production_version(c: Any) -> int:
        err, out = await call(c, "ml_predict", {"model": f"{name}@production", "features": [row]})
        assert not err, out
        return int(out["model"]["version"])

    async def serves(c: Any, want: int) -> None:
        """The server keeps its alias answer until its halt poll reads the CLI's generation bump (0.5 s)."""

        async def serves_it() -> bool:
            return await production_version(c) == want

        await await_until(serves_it, 1.0, what=f"version {want} served within 1 s of the change")

    async with Client(params) as c:
        assert await production_version(c) == 1
        done = await anyio.to_thread.run_sync(lambda: models(demo_home, "promote", name, "2"))
        assert done.returncode == 0, done.stderr
        await serves(c, 2)
        done = await anyio.to_thread.run_sync(lambda: models(demo_home, "rollback", name))
        assert done.returncode == 0, done.stderr
        await serves(c, 1)
