"""What a long tool's result looks like while its job runs: the *handle* shapes' building blocks.

Each long tool's result (``PullResult``, ``CompileResult``, ``RetrainResult``, ``RunSkillResult``)
derives from a ``*Shape`` model declaring every field as a job handle carries it: the fields that
only exist on completion are nullable but still required (always sent, null in a handle). The result
narrows them to their completed types; the ``*Reply`` models of ``schemas/jobs.py`` add the ``job``
field. Narrowing is a subtype's right: neither side overrides a field with a wider type.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, WithJsonSchema

from mlgate.schemas.stamp import ModelStamp


def nullable(kind: str, model: type[BaseModel] | None = None) -> Any:
    """``{"type": [kind, "null"]}`` (and an object's required fields): the same promise as
    ``anyOf [<object>, null]``, in the few bytes a tools/list can afford."""
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if model is not None:
        schema["required"] = [name for name, f in model.model_fields.items() if f.is_required()]
    return WithJsonSchema(schema)


NullableStamp = Annotated[ModelStamp | None, nullable("object", ModelStamp)]
