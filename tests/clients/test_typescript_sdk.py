"""The official MCP TypeScript SDK client (pinned, on Node 22) calls every tool of ``mlgate serve`` over stdio.

``sdk_client.mjs`` lists the tools and calls each with a valid example; the SDK validates every
``structuredContent`` against the tool's ``outputSchema`` and throws on a mismatch. State changes act on a
throwaway model registered here, never on the demo models.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mlgate.config import Settings
from tests._support.clients import SERVE, server_env
from tests._support.lifecycle import make_data, new_name, records, register_ridge
from tests._support.node import node, node_env

SCRIPT = Path(__file__).with_name("sdk_client.mjs")


def test_every_tool_through_the_typescript_sdk(node_modules: Path, demo_home: Path, tmp_path: Path) -> None:
    model = new_name("ts-sdk")
    x, y = make_data(300, seed=14)
    register_ridge(Settings(home=demo_home), model, x, y, alias="production")
    drift_x, _ = make_data(40, seed=15)
    train_x, train_y = make_data(200, seed=16)
    config = {
        "node_modules": str(node_modules),
        "command": SERVE[0],
        "args": SERVE[1:],
        # its predictions get ids; demo-regressor is also a typed model tool
        "env": {
            **server_env(demo_home),
            "MLGATE_CAPTURE": model,
            "MLGATE_MODEL_TOOLS": "demo-regressor@production",
        },
        "typed": {"tool": "predict_demo-regressor", "model": "demo-regressor@production"},
        "model": model,
        "rows": records(drift_x),
        "actuals": [float(v) for v in y[:5]],
        "train": records(train_x, train_y),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))

    done = subprocess.run(
        [node(), str(SCRIPT), str(tmp_path / "config.json")],
        cwd=tmp_path,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError(
            f"no report (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        ) from None
    assert report["failures"] == [], (
        "\n".join(report["failures"]) + "\n\nserver log:\n" + report.get("serverLog", "")
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert report["server"]["name"] == "mlgate"
    assert report["withoutOutputSchema"] == [], "the SDK validates nothing for these tools"
    called = {c["tool"] for c in report["calls"]}
    assert "predict_demo-regressor" in report["listed"] and "predict_demo-regressor" in called
    assert set(report["listed"]) <= called | set(report["skipped"])
    validated = [c for c in report["calls"] if c["structured"] and not c["isError"]]
    assert len(validated) >= len(report["listed"]) - 1, report["calls"]  # all but the refused ml_pull
