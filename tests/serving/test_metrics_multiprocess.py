"""Multiprocess mode: two processes write their counters into MLGATE_METRICS_MULTIPROC_DIR, and the
`/metrics` of a real `mlgate serve --http` on the same folder shows both, summed, beside its own calls.
(Every process here is a subprocess: the switch to memory-mapped values is process-wide.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests._support import DIABETES_ROW, free_port, mlgate_env, spawn_server, wait_http

WRITER = """
import sys
from mlgate.config import Settings
from mlgate.schemas.stamp import ModelStamp
from mlgate.serving.runtime import Runtime

folder, calls, tool, quality = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
rt = Runtime(Settings(home=folder + "/home", metrics_multiproc_dir=folder + "/metrics"))
stamp = ModelStamp(name="demo-regressor", version=1, ref="demo-regressor@1", sha256=None)
for _ in range(calls):
    rt.metrics.call("ml_predict", None, 2.0, stamp, "demo-regressor@1")
rt.metrics.call(tool, None, 30.0, None, None)
rt.metrics.set_quality("demo-regressor", "1", "mae", quality)
rt.metrics.count_degradation("demo-regressor", "mae_ratio")
print(rt.metrics.traffic()["demo-regressor"]["calls"])
"""


def write(tmp_path: Path, calls: int, tool: str, quality: float) -> int:
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path), str(calls), tool, str(quality)],
        env=mlgate_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip())


def test_two_writers_and_the_server_in_one_exposition(tmp_path: Path, demo_home: Path) -> None:
    assert write(tmp_path, 3, "job.end:ml_retrain", 1.0) == 3  # each process reads its own counts
    assert write(tmp_path, 4, "job.end:ml_compile", 2.0) == 4
    port = free_port()
    env = mlgate_env(demo_home, MLGATE_METRICS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    proc = spawn_server(["--http", "--no-auth", "--host", "127.0.0.1", "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz", proc)
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "ml_predict",
                "arguments": {"model": "demo-regressor@1", "features": [DIABETES_ROW]},
            },
        }
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        with httpx.Client(timeout=60) as c:
            r = c.post(base + "/mcp/ml", json=init, headers=headers)
            headers["Mcp-Session-Id"] = r.headers["mcp-session-id"]
            c.post(
                base + "/mcp/ml",
                json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers=headers,
            )
            r = c.post(base + "/mcp/ml", json=body, headers=headers)
            assert r.status_code == 200 and '"isError":false' in r.text.replace(" ", ""), r.text[:500]
            text = c.get(base + "/metrics").text
    finally:
        proc.terminate()
        proc.wait(10)
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            values[(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "pid")))] = s.value
    ok = (("model", "demo-regressor"), ("outcome", "ok"), ("tool", "ml_predict"))
    assert values[("mlgate_tool_calls_total", ok)] == 3 + 4 + 1, text  # two writers and the server's own call
    for tool in ("job.end:ml_retrain", "job.end:ml_compile"):
        assert values[("mlgate_tool_calls_total", (("model", ""), ("outcome", "ok"), ("tool", tool)))] == 1
    hist = (("model", "demo-regressor"), ("tool", "ml_predict"))
    assert values[("mlgate_tool_latency_seconds_count", hist)] == 8
    assert (
        values[("mlgate_live_quality", (("metric", "mae"), ("model", "demo-regressor"), ("version", "1")))]
        == 2.0
    )
    assert values[("mlgate_degradations_total", (("model", "demo-regressor"), ("rule", "mae_ratio")))] == 2
    assert ("mlgate_cache_models", ()) in values  # the answering process's scrape-time gauges
