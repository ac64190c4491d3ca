"""Long tools as jobs, in-process (no broker): progress, the wait budget and the handle, ml_job, cancel,
dedupe, who may see a job, and the ledger rows of a job's start and end."""

from __future__ import annotations

import itertools
import time
from typing import Any

import anyio
import pytest

from mlgate.auth.caller import Caller
from mlgate.errors import NotFound
from tests._support import await_until, call, wait_until
from tests._support.jobs import versions, wait_job

pytestmark = pytest.mark.anyio


async def test_a_compile_within_the_budget_streams_progress_and_returns_its_result(
    make_runtime: Any, open_client: Any
) -> None:
    rt = make_runtime(job_wait_s=120)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with open_client(rt) as c:
        err, out = await call(
            c, "ml_compile", {"model": "demo-classifier@1", "target": "onnx"}, progress_callback=on_progress
        )
    assert not err, out
    assert out["registered"].startswith("demo-classifier@") and out["artifact"]["format"] == "onnx"
    assert out["job"]["status"] == "succeeded"
    assert seen and all(b[0] > a[0] for a, b in itertools.pairwise(seen)), seen  # increasing
    assert len(seen) >= 2 and str(seen[0][2]).startswith("converting"), seen  # polled: fast steps may merge
    rows = rt.state.tail(20)
    tools = [r.tool for r in rows]
    assert "job.start:ml_compile" in tools and "job.end:ml_compile" in tools
    end = [r for r in rows if r.tool == "job.end:ml_compile"][-1]
    assert end.outcome == "ok" and end.version is not None  # the registered version is on the row


async def test_past_the_budget_the_call_returns_a_handle_and_ml_job_returns_the_result(
    make_runtime: Any, open_client: Any, slow_model: Any
) -> None:
    name, batch = slow_model
    rt = make_runtime(job_wait_s=0.2)
    async with open_client(rt) as c:
        args = {"model": f"{name}@production", "data": batch, "target": "y", "promote_if_better": False}
        err, out = await call(c, "ml_retrain", args)
        assert not err, out
        job = out["job"]
        assert job["status"] in ("queued", "running") and "ml_job" in job["next"]
        assert out["retrained"] is None and out["candidate"] is None and out["decisions"] is None
        done = await wait_job(c, job["job_id"])
    assert done["status"] == "succeeded", done
    assert done["result"]["retrained"] is True and done["result"]["candidate"]["name"] == name
    assert done["progress"]["done"] == done["progress"]["total"] == 6
    assert done["worker"].startswith("embedded:")


async def test_cancelling_a_running_retrain_registers_nothing(
    make_runtime: Any, open_client: Any, slow_model: Any
) -> None:
    name, batch = slow_model
    rt = make_runtime(job_wait_s=0.2)
    before = versions(rt.settings, name)
    async with open_client(rt) as c:
        err, out = await call(c, "ml_retrain", {"model": f"{name}@production", "data": batch, "target": "y"})
        assert not err, out
        job_id = out["job"]["job_id"]
        await wait_job(c, job_id, until=("running",))
        # the same work again while it runs: the same job
        err, again = await call(
            c, "ml_retrain", {"model": f"{name}@production", "data": batch, "target": "y"}
        )
        assert not err and again["job"]["job_id"] == job_id
        err, cancelled = await call(c, "ml_job_cancel", {"job_id": job_id})
        assert not err, cancelled
        done = await wait_job(c, job_id)
    assert done["status"] == "cancelled", done
    assert done["progress"]["done"] < 4  # it stopped before registering
    assert versions(rt.settings, name) == before
    end = [r for r in rt.state.tail(30) if r.tool == "job.end:ml_retrain"][-1]
    assert end.outcome == "error" and end.error_class == "JobCancelled"


async def test_a_cancelled_call_cancels_its_job(make_runtime: Any, open_client: Any, slow_model: Any) -> None:
    name, batch = slow_model
    rt = make_runtime(job_wait_s=60)
    before = versions(rt.settings, name)
    args = {"model": f"{name}@production", "data": batch, "target": "y", "holdout": 0.25}
    jobs = rt.jobs
    async with open_client(rt) as c:
        gives_up = anyio.CancelScope()  # the client gives up: notifications/cancelled

        async def call_it() -> None:
            with gives_up:
                await c.call_tool("ml_retrain", args)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call_it)

            async def running() -> bool:
                return any(
                    j.tool == "ml_retrain" for j in await jobs.list(rt.runtime.local_caller(), "running", 5)
                )

            # as soon as the job runs (well before its commit point), not after a guess
            await await_until(running, 30, every=0.02, what="the retrain job runs")
            gives_up.cancel()
        mine = [j for j in await jobs.list(rt.runtime.local_caller(), None, 5) if j.tool == "ml_retrain"]
        done = await wait_job(c, mine[0].id)
    assert done["status"] == "cancelled", done
    assert versions(rt.settings, name) == before


async def test_only_the_jobs_caller_or_an_admin_sees_it(
    make_runtime: Any, open_client: Any, slow_model: tuple[str, Any]
) -> None:
    rt = make_runtime(job_wait_s=120)
    async with open_client(rt) as c:  # a model of this folder's own: the demo models stay at one version each
        err, out = await call(c, "ml_compile", {"model": f"{slow_model[0]}@1", "target": "onnx"})
        assert not err, out
        err, listed = await call(c, "ml_list_jobs", {"limit": 5})
        assert not err and out["job"]["job_id"] in [j["job_id"] for j in listed["jobs"]]
    jobs = rt.jobs
    job_id = out["job"]["job_id"]
    other = Caller("mallory", "c2", "http", frozenset({"ml:read", "ml:manage"}))
    admin = Caller("root", "c3", "http", frozenset({"ml:admin"}))
    with pytest.raises(NotFound):
        await jobs.get(job_id, other)
    with pytest.raises(NotFound):
        await jobs.cancel(job_id, other)
    assert job_id not in [j.id for j in await jobs.list(other, None, 50)]
    assert (await jobs.get(job_id, admin)).subject == "local"
    assert job_id in [j.id for j in await jobs.list(admin, None, 50)]


async def test_a_failed_job_answers_as_the_tool_would_have(make_runtime: Any, open_client: Any) -> None:
    rt = make_runtime(job_wait_s=30)
    async with open_client(rt) as c:
        err, text = await call(c, "ml_compile", {"model": "demo-nope@1", "target": "onnx"})
        assert err and "demo-nope" in text
        err, text = await call(c, "ml_job", {"job_id": "0" * 32})
        assert err and "no job" in text


async def test_a_job_whose_worker_stopped_renewing_its_lease_is_interrupted(make_runtime: Any) -> None:
    rt = make_runtime(job_lease_s=1)
    jobs = rt.jobs
    rec, _ = await anyio.to_thread.run_sync(
        lambda: jobs.store.submit(
            "ml_compile", {"subject": "local"}, {"model": "x@1", "target": "onnx"}, "d" * 64
        )
    )
    # a worker claims it, then dies (never renews)
    assert await anyio.to_thread.run_sync(jobs.store.claim, rec.id, "celery:dead:1", 1.0)
    assert (await jobs.get(rec.id)).status == "running"  # within its lease: not reaped
    now = time.time()
    jobs.store.clock = lambda: now + 1.3  # the lease ran out (no sleep: the store's clock moves)
    got = await jobs.get(rec.id)
    assert got.status == "interrupted" and "lease" in (got.error or "")

    def interrupted_row() -> bool:  # the ledger writes in the background
        rows = rt.state.tail(10)
        return any(r.tool == "job.end:ml_compile" and r.error_class == "JobInterrupted" for r in rows)

    await anyio.to_thread.run_sync(lambda: wait_until(interrupted_row, what="the job.end row"))


async def test_a_halt_stops_a_skill_job_at_its_next_step(
    make_runtime: Any, open_client: Any, tmp_path: Any
) -> None:
    """ml_halt without a model: a multi-step skill submitted as a job stops at its next step with the halt's
    reason, and runs again once resumed (a state database of its own, so the halt touches no other test)."""
    rt = make_runtime(
        job_wait_s=120, state_url=f"sqlite:///{tmp_path / 'state.db'}", trusted_models=["demo-*"]
    )
    async with open_client(rt) as c:
        err, skills = await call(c, "ml_list_skills", {})
        assert not err, skills
        multi = next(s for s in skills["skills"] if s["runnable"] and len(s["steps"]) > 1)
        args = {"skill": f"{multi['name']}@{multi['version']}", "inputs": multi["example"]}
        err, halted = await call(c, "ml_halt", {"reason": "incident 42: stop everything"})
        assert not err, halted
        err, msg = await call(c, "ml_run_skill", args)
        assert err and "incident 42" in msg, msg
        jobs = [
            j for j in (await call(c, "ml_list_jobs", {"limit": 5}))[1]["jobs"] if j["tool"] == "ml_run_skill"
        ]
        assert jobs and jobs[0]["status"] == "failed" and "incident 42" in (jobs[0]["error"] or ""), jobs
        err, _ = await call(c, "ml_resume", {})
        assert not err
        err, ran = await call(c, "ml_run_skill", args)
        assert not err and ran["status"] == "ok" and ran["outputs"], ran
