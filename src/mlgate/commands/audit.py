"""``mlgate audit tail``: the newest rows of the audit ledger, as a table or JSON lines.

One row is one line, whatever a caller put in a model argument: every printed field
has its control and format characters escaped (``\\x1b``, ``\\n``, ``\\u202e``), in the
table and in JSON (which escapes them itself). Rows are also stored escaped.
"""

from __future__ import annotations

import json

from mlgate.config import Settings
from mlgate.state.db import StateDB, printable


def tail_command(settings: Settings, *, n: int = 20, as_json: bool = False) -> int:
    if settings.state_url is None and not (settings.home / "state.db").exists():
        print("no audit ledger yet: no tool has been called with this MLGATE_HOME")
        return 0
    db = StateDB(settings.state)
    try:
        rows = db.tail(max(1, min(n, 10_000)))
    finally:
        db.close()
    if as_json:
        for row in rows:
            print(json.dumps(row.to_dict(), sort_keys=True, ensure_ascii=True))
        return 0
    from mlgate.commands.models import table

    body = [
        [
            r.at[:23],
            r.subject or "-",
            r.transport or "-",
            r.tool,
            r.model_ref or "-",
            "-" if r.version is None else str(r.version),
            f"{r.duration_ms:.2f}",
            r.outcome,
            _error(r.error_class, r.error_message),
            r.trace_id or "-",
        ]
        for r in rows
    ]
    safe = [[printable(cell) for cell in line] for line in body]
    print(
        table(
            ["at", "subject", "transport", "tool", "model", "version", "ms", "outcome", "error", "trace"],
            safe,
        )
    )
    return 0


def _error(cls: str | None, message: str | None) -> str:
    """A row's error: its message names the class already (``InvalidInput: features[0].bmi``); a row
    written before that gets the class put in front."""
    if not message:
        return cls or ""
    return message[:80] if cls and message.startswith(cls) else f"{cls or ''}: {message[:60]}"
