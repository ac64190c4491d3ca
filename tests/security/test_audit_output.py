"""`mlgate audit tail` stays one line per row whatever a caller puts in a model argument."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from mlgate.commands.audit import tail_command
from mlgate.config import Settings
from mlgate.server.app import build_server
from mlgate.serving.runtime import Runtime
from mlgate.state.db import LedgerRow, StateDB, printable
from tests._support import tool_payload

EVIL = "demo-regressor@1\x1b[2J\x1b[H\n2026-01-01T00:00:00 admin http ml_halt forged ok\u202e"


def test_printable_escapes_controls_and_is_idempotent() -> None:
    out = printable(EVIL)
    assert "\x1b" not in out and "\n" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out and "\\n" in out and "\\u202e" in out
    assert printable(out) == out and printable("plain ü text") == "plain ü text"


def test_rows_are_stored_escaped_and_printed_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    db = StateDB(url)
    db.append(
        LedgerRow(
            tool="ml_predict",
            outcome="error",
            subject="eve\r\nroot",
            model_ref=EVIL,
            error_class="InvalidReference",
            error_message=f"bad {EVIL}",
        )
    )
    db.append(LedgerRow(tool="ml_list_models", outcome="ok"))
    stored = db.tail(2)[0]
    db.close()
    assert stored.model_ref is not None and "\x1b" not in stored.model_ref and "\n" not in stored.model_ref
    assert stored.subject == "eve\\r\\nroot"

    settings = Settings(home=tmp_path, state_url=url)
    assert tail_command(settings, n=10) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    lines = out.rstrip("\n").split("\n")
    assert (
        sum("ml_predict" in line for line in lines) == 1
        and sum("ml_list_models" in line for line in lines) == 1
    )
    assert not any("forged" in line and "ml_predict" not in line for line in lines), out

    assert tail_command(settings, n=10, as_json=True) == 0
    lines = capsys.readouterr().out.rstrip("\n").split("\n")
    assert len(lines) == 2 and all("\x1b" not in line for line in lines)
    assert json.loads(lines[0])["model_ref"] == printable(EVIL)


def test_rows_written_unescaped_by_another_writer_are_escaped_when_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'state.db'}"
    StateDB(url).close()
    with sqlite3.connect(tmp_path / "state.db") as conn:  # an older mlgate stored text as it came
        conn.execute(
            "INSERT INTO ledger (at, subject, transport, tool, model_ref, duration_ms, outcome) "
            "VALUES ('2026-01-01T00:00:00', 'local', 'stdio', 'ml_predict', ?, 1.0, 'ok')",
            (EVIL,),
        )
    assert tail_command(Settings(home=tmp_path, state_url=url), n=10) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and sum(1 for line in out.splitlines() if "forged" in line) == 1


@pytest.mark.anyio
async def test_a_tool_call_with_escapes_in_its_model_argument_leaves_an_escaped_row(
    demo_home: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    rt = Runtime(Settings(home=demo_home, state_url=url))
    async with Client(build_server(rt)) as c:
        err, _ = tool_payload(await c.call_tool("ml_predict", {"model": EVIL, "features": [{"age": 1.0}]}))
        assert err
    await rt.aclose()
    db = StateDB(url)
    rows = [r for r in db.tail(10) if r.tool == "ml_predict"]
    db.close()
    assert len(rows) == 1 and rows[0].model_ref is not None
    assert (
        "\x1b" not in rows[0].model_ref and "\n" not in rows[0].model_ref and "\\x1b[2J" in rows[0].model_ref
    )
    assert rows[0].error_message is not None and "\n" not in rows[0].error_message
