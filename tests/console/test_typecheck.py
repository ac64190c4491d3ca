"""The console's and the MCP Apps views' JavaScript under the TypeScript compiler.

Every module opts in with ``// @ts-check``; ``tests/console/tsconfig.json`` (strict, ``checkJs``,
``noEmit``) takes them all, and ``tsc`` (pinned in ``tests/_support/node.py``, run by the Node 22 of
the same npm cache) must report nothing. The config lives here, not beside the modules, so the wheel
ships only what the browser loads.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests._support.node import TYPESCRIPT_PACKAGE, TYPESCRIPT_VERSION, ensure_clients, node, node_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TSCONFIG = HERE / "tsconfig.json"
SERVER = ROOT / "src" / "mlgate" / "server"
MODULES = sorted([*(SERVER / "console" / "js").glob("*.js"), *(SERVER / "views").glob("*.js")])


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    compiler = ensure_clients() / TYPESCRIPT_PACKAGE / "bin" / "tsc"
    return subprocess.run(
        [node(), str(compiler), "--project", str(project), "--pretty", "false"],
        cwd=ROOT,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_module_is_checked() -> None:
    assert len(MODULES) >= 17
    unchecked = [
        p.relative_to(ROOT).as_posix() for p in MODULES if not p.read_text().startswith("// @ts-check\n")
    ]
    assert not unchecked, f"start these with `// @ts-check`: {unchecked}"
    config = json.loads(TSCONFIG.read_text())
    included = {p.resolve() for pattern in config["include"] for p in HERE.glob(pattern)}
    assert included == {p.resolve() for p in MODULES}, "tsconfig.json's include must take every module"
    assert config["compilerOptions"]["strict"] and config["compilerOptions"]["checkJs"]


def test_tsc_reports_nothing() -> None:
    done = tsc(TSCONFIG)
    assert done.returncode == 0, (
        f"tsc {TYPESCRIPT_VERSION} found type errors in the console's or the views' JavaScript:\n"
        f"{done.stdout}{done.stderr}"
    )


def test_tsc_here_does_report_an_error(tmp_path: Path) -> None:
    """The same options on one module with a type error: tsc names it (the check above can fail)."""
    bad = tmp_path / "bad.js"
    bad.write_text(
        "// @ts-check\n/** @param {number} n */\nexport function f(n) {\n  return n.toUpperCase();\n}\n"
    )
    project = tmp_path / "tsconfig.json"
    config = json.loads(TSCONFIG.read_text())
    config["include"] = [str(bad)]
    project.write_text(json.dumps(config))
    done = tsc(project)
    assert done.returncode != 0 and "bad.js(4," in done.stdout and "TS2339" in done.stdout, done.stdout
