"""What the jobs tests ask of a job and of the registry: a job followed to its end, a model's version numbers."""

from __future__ import annotations

import time
from typing import Any

from mlgate.config import Settings
from tests._support import call


async def wait_job(
    client: Any,
    job_id: str,
    until: tuple[str, ...] = ("succeeded", "failed", "cancelled", "interrupted"),
    timeout: float = 60,
) -> Any:
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        err, out = await call(client, "ml_job", {"job_id": job_id})
        assert not err, out
        if out["job"]["status"] in until or time.monotonic() > deadline:
            return out["job"]
        await anyio.sleep(0.1)


def versions(settings: Settings, name: str) -> list[int]:
    from mlflow import MlflowClient

    client = MlflowClient(settings.tracking)
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
