"""Supply-chain tools: ml_pull (Hub → verified snapshot) and ml_compile (version → faster, verified artifact)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.schemas.jobs import CompileReply, PullReply
from mlgate.tools.context import ModelArg, OptionalBatch
from mlgate.tools.jobs import as_job


async def pull(
    repo_id: Annotated[
        str,
        Field(
            description="Hub repository id 'org/repo', or a TorchHub ref 'torchhub:owner/repo:entry@<40-hex>'.",
            examples=["acme/iris-onnx"],
            max_length=200,
        ),
    ],
    revision: Annotated[
        str,
        Field(
            description="A 40-character commit hash (best) or a tag; branches (they move) are refused.",
            max_length=128,
        ),
    ],
    ctx: Context[Any, Any],
    patterns: Annotated[
        list[str] | None,
        Field(description="Globs of the files to fetch, e.g. ['*.onnx']; default: all.", max_length=50),
    ] = None,
    register_as: Annotated[
        str | None,
        Field(
            description="Also register its model file as a new version of this model name.", max_length=128
        ),
    ] = None,
    allow_floating: Annotated[
        bool, Field(description="Admin only: allow a branch name as revision.")
    ] = False,
    allow_pickle: Annotated[
        bool, Field(description="Admin only: allow pickle-based files (code when loaded).")
    ] = False,
    features: Annotated[
        list[str] | None,
        Field(description="TorchHub: the model's input names, in order (required there).", max_length=4096),
    ] = None,
) -> PullReply:
    """Bring a model in from the Hugging Face Hub or TorchHub at an exact revision, digests verified.

    Only allow-listed repositories; pickle-based files are refused. Serve the result as
    'hf:org/repo@<commit>' or, with register_as, 'name@<N>'. A TorchHub pull (pinned archive) needs
    register_as and features, and serves once an operator admits its hubconf.py.
    Example: {"repo_id": "acme/iris-onnx", "revision": "<40-hex commit>", "register_as": "iris-onnx"}.
    """
    args = {
        "repo_id": repo_id,
        "revision": revision,
        "patterns": patterns,
        "register_as": register_as,
        "allow_floating": allow_floating,
        "allow_pickle": allow_pickle,
        "features": features,
    }
    return await as_job(
        ctx, "ml_pull", args, PullReply, {"repo_id": repo_id.strip(), "revision": revision.strip()}
    )


Target = Literal["onnx", "int8", "fp16", "torchscript", "safetensors", "tensorrt"]


async def compile(
    model: ModelArg,
    target: Annotated[
        Target,
        Field(description="onnx/int8/fp16: ONNX Runtime; torchscript/safetensors: PyTorch; tensorrt: GPU."),
    ],
    ctx: Context[Any, Any],
    data: Annotated[
        OptionalBatch,
        Field(description="Rows for the parity check; default: the training sample."),
    ] = None,
    tolerance: Annotated[
        float | None,
        Field(description="Absolute parity tolerance; looser than the default needs ml:admin.", gt=0, le=1.0),
    ] = None,
    force: Annotated[bool, Field(description="Admin only: register even when parity fails.")] = False,
) -> CompileReply:
    """Compile a version into a faster artifact, check parity against the source, register it.

    Both run on the same rows (training sample or `data`); beyond tolerance it is refused. The result is
    a new version with lineage and its own sha256. Example: {"model": "demo-classifier@1", "target": "onnx"}.
    """
    args = {"model": model, "target": target, "data": data, "tolerance": tolerance, "force": force}
    return await as_job(ctx, "ml_compile", args, CompileReply)
