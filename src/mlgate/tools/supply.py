"""Supply-chain tools: ml_pull (Hub → verified snapshot) and ml_compile (version → faster, verified artifact)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from mlgate.schemas.supply import CompileResult, PullResult
from mlgate.tools.context import ModelArg, caller, runtime


def _progress(ctx: Context[Any, Any]) -> Any:
    async def report(done: float, total: float | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report


async def pull(
    repo_id: Annotated[str, Field(description="Hub repository id 'org/repo'.", examples=["acme/iris-onnx"],
                                  max_length=200)],
    revision: Annotated[str, Field(description="A full 40-character commit hash (best) or a tag. Branch names "
                                   "such as 'main' are refused: they move.", max_length=128)],
    ctx: Context[Any, Any],
    patterns: Annotated[list[str] | None, Field(description="Glob patterns of the files to fetch, e.g. "
                                                "['*.onnx', 'config.json']; default: every file.",
                                                max_length=50)] = None,
    register_as: Annotated[str | None, Field(description="Also register the snapshot's model file as a new "
                                             "version of this registered model name.", max_length=128)] = None,
    allow_floating: Annotated[bool, Field(description="Admin only: allow a branch name as revision.")] = False,
    allow_pickle: Annotated[bool, Field(description="Admin only: allow pickle-based files (code when loaded).")]
    = False,
) -> PullResult:
    """Bring a model in from the Hugging Face Hub at an exact revision, every file's digest verified.

    Only allow-listed repositories; pickle-based files are refused. Serve the result as
    'hf:org/repo@<commit>' or, with register_as, 'name@<N>'.
    Example: {"repo_id": "acme/iris-onnx", "revision": "<40-hex commit>", "register_as": "iris-onnx"}.
    """
    from mlgate.supply.pull import PullRequest
    from mlgate.supply.pull import pull as do_pull

    rt = runtime(ctx)
    req = PullRequest(repo_id.strip(), revision.strip(), tuple(patterns) if patterns else None,
                      allow_floating, allow_pickle)
    result = await do_pull(rt.settings, req, caller=caller(ctx), progress=_progress(ctx))
    if register_as:
        from mlgate.supply.served import register_pulled

        await register_pulled(rt.settings, result, register_as.strip())
    return result


Target = Literal["onnx", "int8", "fp16", "torchscript"]


async def compile(
    model: ModelArg,
    target: Annotated[Target, Field(description="onnx (ONNX Runtime), int8 (dynamic quantization), fp16 "
                                    "(half-precision ONNX) or torchscript (PyTorch models only).")],
    ctx: Context[Any, Any],
    data: Annotated[list[dict[str, Any]] | None, Field(description="Optional records for the parity check; "
                                                      "default: the version's training sample.",
                                                      max_length=10_000)] = None,
    tolerance: Annotated[float | None, Field(description="Absolute tolerance of the parity check; looser than "
                                             "the target's default needs ml:admin.", gt=0, le=1.0)] = None,
    force: Annotated[bool, Field(description="Admin only: register even when parity fails.")] = False,
) -> CompileResult:
    """Compile a version into a faster artifact, check parity against the source, register it.

    Both run on the same rows (training sample or `data`); beyond tolerance it is refused. The result is
    a new version with lineage and its own sha256. Example: {"model": "demo-classifier@1", "target": "onnx"}.
    """
    from mlgate.supply.compile import CompileRequest, compile_version

    rt = runtime(ctx)
    req = CompileRequest(model, target, data, tolerance, force)
    return await compile_version(rt, req, caller=caller(ctx), progress=_progress(ctx))
