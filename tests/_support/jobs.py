"""What the jobs tests ask of a job and of the registry: a job followed to its end, a model's version numbers."""

from __future__ import annotations

from typing import Any

from mlgate.config import Settings
from tests._support import await_until, call


async def wait_job(
    client: Any,
    job_id: str,
    until: tuple[str, ...] = ("succeeded", "failed", "cancelled", "interrupted"),
    timeout: float = 60,
) -> Any:
    """The job once its status is one of ``until`` (``ml_job`` every 0.1 s); fails at ``timeout`` naming the
    status it was left in."""
    last: dict[str, Any] = {}

    async def reached() -> Any:
        err, out = await call(client, "ml_job", {"job_id": job_id})
        assert not err, out
        last.update(out["job"])
        return out["job"] if out["job"]["status"] in until else None

    return await await_until(
        reached,
        timeout,
        every=0.1,
        what=lambda: f"job {job_id} to be {'/'.join(until)}: it is {last.get('status')}",
    )


def versions(settings: Settings, name: str) -> list[int]:
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking)
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
