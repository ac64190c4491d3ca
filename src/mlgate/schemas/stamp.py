"""What every result says about the model that ran."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ModelStamp(BaseModel):
    """Exactly which version ran."""

    name: str
    version: int
    ref: str = Field(description="the reference as the caller wrote it")
    sha256: str | None = Field(description="digest of the version's artifact, verified at load")


WarningsField: Any = Field(default_factory=list, description="guard rules that flagged the input (mode warn)")
