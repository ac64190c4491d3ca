"""Typed results of ml_pull and ml_compile (their output schemas). Fields may be added, never renamed."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from mlgate.schemas.handles import NullableStamp, nullable
from mlgate.schemas.stamp import ModelStamp


class PulledFile(BaseModel):
    path: str
    size: int
    sha256: str = Field(description="computed locally and checked against the digest the Hub reports")


class PullShape(BaseModel):
    """ml_pull's result as its job handle carries it (``schemas/handles.py``)."""

    repo_id: str
    revision: str = Field(description="the revision as asked for")
    revision_kind: str | None
    commit: str | None
    ref: str | None
    files: Annotated[list[PulledFile] | None, nullable("array")]
    manifest_sha256: str | None
    downloaded: int | None
    offline: bool = False
    registered: str | None = Field(default=None, description="'name@N' when register_as was given")
    serves_as: list[str] = Field(
        default_factory=list, description="with register_as: the interfaces the new version offers"
    )
    admission: str | None = Field(
        default=None, description="TorchHub: whether the version serves now or awaits an operator's admission"
    )


class PullResult(PullShape):
    revision_kind: str = Field(description="commit, tag or branch")
    commit: str = Field(description="the 40-character commit the snapshot holds")
    ref: str = Field(description="use this with the inference tools: 'hf:org/repo@<commit>'")
    files: list[PulledFile]
    manifest_sha256: str = Field(description="digest of (repo, commit, every file's path, size and sha256)")
    downloaded: int = Field(description="files fetched now; 0 when the cache already held everything")


class ParityReport(BaseModel):
    rows: int
    sample: str = Field(
        description="where the rows came from: caller data, training sample or training statistics"
    )
    max_abs_diff: float
    max_rel_diff: float
    label_agreement: float | None = Field(default=None, description="classifiers: share of equal labels")
    atol: float
    rtol: float
    min_label_agreement: float | None = None
    passed: bool


class CompiledArtifact(BaseModel):
    format: str = Field(description="onnx, onnx-int8, onnx-fp16 or torchscript")
    sha256: str = Field(description="digest of the compiled file")
    size: int
    source: str = Field(description="the version it was compiled from, 'name@N'")
    options: dict[str, Any]


class CompileShape(BaseModel):
    """ml_compile's result as its job handle carries it (``schemas/handles.py``)."""

    source: NullableStamp
    artifact: Annotated[CompiledArtifact | None, nullable("object", CompiledArtifact)]
    parity: Annotated[ParityReport | None, nullable("object", ParityReport)]
    registered: str | None
    model: NullableStamp
    reused: bool = Field(default=False, description="an identical compiled artifact was already registered")
    forced: bool = False


class CompileResult(CompileShape):
    source: ModelStamp
    artifact: CompiledArtifact
    parity: ParityReport
    registered: str = Field(description="the new version, 'name@N': pass it to ml_predict / ml_classify")
    model: ModelStamp = Field(description="the stamp inference results on the new version will carry")
