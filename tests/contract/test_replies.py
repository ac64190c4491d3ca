"""The long tools' replies: each is its result's shape plus ``job`` — the same fields in the same order,
the completion-only ones nullable but required — so a finished result and a job handle both validate."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from mlgate.schemas.jobs import REPLIES, CompileReply, PullReply, RetrainReply, RunSkillReply
from mlgate.schemas.lifecycle import RetrainResult
from mlgate.schemas.skills import RunSkillResult
from mlgate.schemas.supply import CompileResult, PullResult

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (PullResult, PullReply),
    (CompileResult, CompileReply),
    (RetrainResult, RetrainReply),
    (RunSkillResult, RunSkillReply),
]


def test_every_long_tool_has_a_reply() -> None:
    assert set(REPLIES.values()) == {reply for _, reply in PAIRS}


@pytest.mark.parametrize(("result", "reply"), PAIRS, ids=lambda m: m.__name__)
def test_a_reply_is_its_result_plus_job(result: type[BaseModel], reply: type[BaseModel]) -> None:
    assert list(reply.model_fields) == [*result.model_fields, "job"]
    assert not reply.model_fields["job"].is_required()
    for name, field in result.model_fields.items():
        theirs = reply.model_fields[name]
        assert theirs.is_required() == field.is_required(), name  # a handle still sends every field
    handle = reply.model_validate(
        {n: None for n, f in reply.model_fields.items() if f.is_required() and _nullable(reply, n)}
        | _always(result)
    )
    assert handle.model_dump()["job"] is None


def _nullable(model: type[BaseModel], name: str) -> bool:
    schema: dict[str, Any] = model.model_json_schema()["properties"][name]
    kinds = schema.get("type", [])
    return "null" in kinds or {"type": "null"} in schema.get("anyOf", [])


def _always(result: type[BaseModel]) -> dict[str, Any]:
    """Values of the fields a handle knows from the call (they stay non-null in the reply)."""
    known: dict[str, Any] = {"repo_id": "org/repo", "revision": "main", "skill": "s@1", "status": "running"}
    return {n: known[n] for n, f in result.model_fields.items() if f.is_required() and n in known}
