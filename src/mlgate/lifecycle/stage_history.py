"""The stage history of a version: a bounded JSON list in its ``mlgate.stage_history`` tag.

Each event: the stage, when (ISO 8601 UTC), who, the stage before, and why. A version
with no recorded events reports one: its registration, with the stage it was given.
The list keeps the newest ``MAX_HISTORY`` events and stays under ``MAX_HISTORY_CHARS``
(tag values have a length limit on some registry back ends).
"""

from __future__ import annotations

import json
from typing import Any

from mlgate.clock import iso_ms, now_iso
from mlgate.models.mlflow_registry import MlflowRegistry
from mlgate.models.tags import TAG_STAGE
from mlgate.schemas.catalog import StageEvent

TAG_HISTORY = "mlgate.stage_history"
MAX_HISTORY = 25
MAX_HISTORY_CHARS = 4000


def history(tags: dict[str, str], created_at: int | None = None) -> list[StageEvent]:
    """The version's stage history, oldest first (a registration event when nothing was recorded)."""
    raw = tags.get(TAG_HISTORY)
    events: list[dict[str, Any]] = []
    if raw:
        try:
            loaded = json.loads(raw)
            events = [e for e in loaded if isinstance(e, dict)] if isinstance(loaded, list) else []
        except json.JSONDecodeError:
            events = []
    if not events:
        events = [_registered(tags, created_at)]
    return [
        StageEvent(
            stage=str(e.get("stage", "?")),
            at=str(e.get("at", "")),
            by=str(e.get("by", "")),
            previous=e.get("previous"),
            note=str(e.get("note", "")),
        )
        for e in events
    ]


def _registered(tags: dict[str, str], created_at: int | None) -> dict[str, Any]:
    at = iso_ms(created_at / 1000) if created_at else ""
    return {
        "stage": tags.get(TAG_STAGE, "development"),
        "at": at,
        "by": "",
        "previous": None,
        "note": "registered",
    }


def write_stage(reg: MlflowRegistry, name: str, version: int, stage: str, by: str, note: str) -> str | None:
    """Set the stage tag and append to the history (bounded); returns the stage before."""
    info = reg.version(name, version)
    tags = info.tags
    before = tags.get(TAG_STAGE)
    events = [e.model_dump() for e in history(tags, info.created_at)]
    events.append({"stage": stage, "at": now_iso(), "by": by, "previous": before, "note": note[:300]})
    events = events[-MAX_HISTORY:]
    while len(json.dumps(events)) > MAX_HISTORY_CHARS and len(events) > 1:
        events.pop(0)
    reg.set_tag(name, version, TAG_STAGE, stage)
    reg.set_tag(name, version, TAG_HISTORY, json.dumps(events))
    return before


def served_production(tags: dict[str, str]) -> bool:
    return tags.get(TAG_STAGE) == "production" or any(e.stage == "production" for e in history(tags))
