"""The layering of docs/architecture.md, kept by a test: imports point down the house, never up.

cli, commands                      operator commands (argparse, printing)
server                             the tool list, transports, HTTP app, auth middleware
tools                              thin typed tool functions
compose                            the composition root: build_runtime, the one object graph per process
jobs                               long tools as jobs: the job service, its workers
lifecycle, skills, supply, demo    use cases
serving                            runtime, executor, kill switch, guards, ledger hand-off
models                             references, the artifact plan, the model store, registry client
adapters                           one adapter per flavor (interfaces: a shim older artifacts name)
records                            the typed record checks (records and columnar batches)
state, auth                        state database; token verification, scopes, Caller
schemas, errors, config, artifacts what the wire carries; the error tree; settings; digests and files;
  domain, numbers, clock           the domain types; what counts as a number; the clock
  telemetry, process               OpenTelemetry spans and trace ids; the process-wide patches (one lock each)
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mlgate"
LAYERS: list[set[str]] = [
    {
        "schemas",
        "errors",
        "config",
        "artifacts",
        "clock",
        "domain",
        "numbers",
        "telemetry",
        "process",
        "__init__",
    },
    {"state", "auth"},
    {"records"},
    {"adapters", "interfaces"},  # interfaces: only the loader module older artifacts name (a shim)
    {"models"},
    {"serving"},
    {"lifecycle", "skills", "supply", "demo"},
    {"jobs"},
    {"compose"},  # the composition root: above every service it wires, below whoever asks for a graph
    {"tools"},
    {"server"},
    {"cli", "commands", "__main__"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _package(module: str) -> str:
    """``mlgate.serving.runtime`` → ``serving``; ``mlgate.__version__`` (an attribute) → ``__init__``."""
    name = module.split(".")[1] if module.count(".") else "__init__"
    return name if name in LEVEL else "__init__"


def _imports(path: Path) -> list[str]:
    """The mlgate modules ``path`` imports, anywhere in it (also inside functions), except under
    ``if TYPE_CHECKING:`` (annotations only: nothing is imported at run time)."""
    found = []
    tree = ast.parse(path.read_text())
    typing_only = {
        id(x)
        for n in ast.walk(tree)
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
        for b in n.body
        for x in ast.walk(b)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mlgate"):
            if node.module == "mlgate":
                found += [f"mlgate.{a.name}" for a in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("mlgate.")]
    return found


def test_every_package_has_a_layer() -> None:
    tops = {
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert tops <= set(LEVEL), f"place these in LAYERS: {sorted(tops - set(LEVEL))}"


def test_imports_point_down() -> None:
    upward = []
    for path in SRC.rglob("*.py"):
        here = path.relative_to(SRC).parts[0].removesuffix(".py")
        for module in _imports(path):
            there = _package(module)
            if LEVEL[there] > LEVEL[here]:
                upward.append(f"{path.relative_to(SRC)} imports {module} ({there} is above {here})")
    assert not upward, "\n".join(upward)


def test_schemas_import_nothing_of_mlgate_but_the_error_tree() -> None:
    for path in (SRC / "schemas").glob("*.py"):
        others = [m for m in _imports(path) if not m.startswith(("mlgate.schemas", "mlgate.errors"))]
        assert not others, f"{path.name}: {others}"


def test_domain_never_imports_tools_or_server() -> None:
    for pkg in ("models", "serving", "skills", "supply", "adapters", "records", "state", "lifecycle"):
        for path in (SRC / pkg).rglob("*.py"):
            bad = [m for m in _imports(path) if _package(m) in ("tools", "server", "commands", "cli")]
            assert not bad, f"{path.relative_to(SRC)}: {bad}"


def _module_of(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components over the module graph: every one has one module."""
    modules = {_module_of(p): p for p in SRC.rglob("*.py")}

    def known(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {m: {known(t) for t in _imports(p)} - {m, "mlgate", ""} for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" ⇄ ".join(c) for c in cycles)


def test_tests_import_no_conftest_and_no_test_module() -> None:
    """Fixtures live in conftest files, tests in test modules; what a test module imports (helpers, constants,
    the classes fixtures yield) lives in ``tests/_support``. A test module imported by another runs its import-time
    code twice under two names, and a conftest imported by name is a second module beside pytest's own."""
    repo = SRC.parents[1]
    found = []
    for path in sorted([*(repo / "tests").rglob("*.py"), *(repo / "bench").rglob("*.py")]):
        package = path.relative_to(repo).parts[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
                modules = [base, *(f"{base}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            for module in modules:
                last = module.rpartition(".")[2]
                if module.startswith("tests.") and (last == "conftest" or last.startswith("test_")):
                    found.append(f"{path.relative_to(repo)}:{node.lineno} imports {module}")
    assert not found, "\n".join(found)
