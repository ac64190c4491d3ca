"""``mlgate models …``: the registry and its lifecycle for operators at a shell, as readable tables.

The lifecycle actions run the same code as the tools (``models/lifecycle.py``), as the
local user with the scopes of ``MLGATE_STDIO_SCOPES``, and each leaves a ledger row
(tool ``models.<action>``, transport ``cli``). Exit status: 0 done, 3 refused by a gate.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import anyio

from mlgate.commands.operator import audited
from mlgate.commands.registration import admit, register
from mlgate.config import Settings
from mlgate.errors import InvalidInput
from mlgate.serving.runtime import Runtime

GATE_REFUSED = 3


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _metrics(m: dict[str, float], n: int = 3) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(m.items())[:n])


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:+.4g}" if isinstance(v, float) and v != 0 and abs(v) < 1e-3 else f"{v:.4g}"


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime((ms or 0) / 1000))


def parse_gate_args(items: list[str]) -> dict[str, float | bool]:
    """``["min_r2=0.4", "require_drift_check=true"]`` → gates."""
    out: dict[str, float | bool] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(
                f"gate {item!r} is not KEY=VALUE", "e.g. min_r2=0.4 max_mae=50 require_drift_check=true"
            )
        low = value.strip().lower()
        if low in ("true", "yes", "1") and key == "require_drift_check":
            out[key] = True
        elif low in ("false", "no", "0") and key == "require_drift_check":
            out[key] = False
        else:
            try:
                out[key] = float(value)
            except ValueError:
                raise InvalidInput(f"gate {key}: {value!r} is not a number") from None
    return out


def run_models_command(settings: Settings, args: argparse.Namespace) -> int:
    from mlgate.compose import build_runtime

    rt = build_runtime(settings, transport="cli").runtime
    handler = ACTIONS.get(args.action)
    if handler is None:
        raise SystemExit(f"unknown action {args.action}")
    try:
        return handler(rt, args)
    finally:
        anyio.run(rt.aclose)


# -- read ----------------------------------------------------------------------------------
def _list(rt: Runtime, args: argparse.Namespace) -> int:
    from mlgate.lifecycle import catalog

    result = anyio.run(catalog.list_models, rt)
    rows = [
        [
            m.name,
            str(v.version),
            v.stage or "-",
            ",".join(v.aliases) or "-",
            ",".join(v.interfaces) or "?",
            _when(v.created_at),
            _metrics(v.metrics),
        ]
        for m in result.models
        for v in m.versions
    ]
    print(table(["model", "version", "stage", "aliases", "interfaces", "registered", "key metrics"], rows))
    return 0


def _info(rt: Runtime, args: argparse.Namespace) -> int:
    from mlgate.lifecycle import catalog

    info = anyio.run(catalog.model_info, rt, args.model)
    if args.json:
        print(json.dumps(info.model_dump(mode="json"), indent=2))
        return 0
    m = info.model
    print(
        f"{m.name} version {m.version}   stage {info.stage or '-'}   aliases {', '.join(info.aliases) or '-'}"
    )
    print(f"interfaces {', '.join(info.interfaces)} ({info.flavor})   sha256 {m.sha256}")
    print()
    print(table(["metric", "value"], [[k, _num(v)] for k, v in sorted(info.metrics.items())]))
    print()
    print(
        table(
            ["when", "stage", "from", "by", "note"],
            [[e.at, e.stage, e.previous or "-", e.by or "-", e.note] for e in info.stage_history],
        )
    )
    if info.lineage:
        print()
        print(table(["lineage", "value"], [[k, v[:80]] for k, v in sorted(info.lineage.items())]))
    return 0


def _compare(rt: Runtime, args: argparse.Namespace) -> int:
    from mlgate.lifecycle.comparison import compare

    result = anyio.run(compare, rt, args.model, args.versions or None)
    versions = [str(v.version) for v in result.versions]
    others = [v for v in versions if v != str(result.baseline)]
    headers = [
        "metric",
        *[f"v{v}" + (" (base)" if v == str(result.baseline) else "") for v in versions],
        *[f"Δ v{v}" for v in others],
        "best",
    ]
    rows = []
    for metric, values in sorted(result.metrics.items()):
        best = result.best.get(metric)
        rows.append(
            [
                metric,
                *[_num(values[v]) for v in versions],
                *[_num(result.deltas[metric][v]) for v in others],
                f"v{best} ({result.better[metric]})" if best is not None else "-",
            ]
        )
    print(
        table(
            ["version", "stage", "aliases", "registered"],
            [
                [str(v.version), v.stage or "-", ",".join(v.aliases) or "-", _when(v.created_at)]
                for v in result.versions
            ],
        )
    )
    print()
    print(table(headers, rows))
    return 0


# -- change ----------------------------------------------------------------------------------
def _promote(rt: Runtime, args: argparse.Namespace) -> int:
    from mlgate.lifecycle.stages import promote

    gates = parse_gate_args(args.gate or [])
    call = {"model": args.model, "version": args.version, "to": args.to, "gates": gates, "force": args.force}
    result = audited(
        rt,
        "promote",
        call,
        lambda: promote(rt, args.model, args.version, args.to, gates, args.force, caller=rt.local_caller()),
    )
    if result.gates:
        print(
            table(
                ["gate", "threshold", "actual", "result", "from", "reason"],
                [
                    [
                        g.gate,
                        _num(g.threshold),
                        _num(g.actual),
                        "pass" if g.passed else "FAIL",
                        g.source,
                        g.reason,
                    ]
                    for g in result.gates
                ],
            )
        )
        print()
    print(result.message)
    return 0 if result.promoted else GATE_REFUSED


def _rollback(rt: Runtime, args: argparse.Namespace) -> int:
    from mlgate.lifecycle.stages import rollback

    result = audited(
        rt,
        "rollback",
        {"model": args.model, "version": args.version},
        lambda: rollback(rt, args.model, args.version, caller=rt.local_caller()),
    )
    print(result.message)
    return 0


def _stage(stage: str) -> Callable[[Runtime, argparse.Namespace], int]:
    def run(rt: Runtime, args: argparse.Namespace) -> int:
        from mlgate.lifecycle.stages import set_stage

        action = "archive" if stage == "archived" else "demote"
        result = audited(
            rt,
            action,
            {"model": args.model, "version": args.version},
            lambda: set_stage(rt, args.model, args.version, stage, caller=rt.local_caller()),
        )
        print(result.message)
        return 0

    return run


def _gates(rt: Runtime, args: argparse.Namespace) -> int:
    from mlgate.lifecycle import gates as gating
    from mlgate.lifecycle.stages import model_name, set_gates

    if args.gate or args.clear:
        gates = {} if args.clear else parse_gate_args(args.gate)
        audited(
            rt,
            "gates",
            {"model": args.model, "stage": args.stage, "gates": gates},
            lambda: set_gates(rt, args.model, args.stage, gates),
        )
    tags = rt.models.registry.model_tags(model_name(args.model))
    rows = [
        [stage, key, _num(value)]
        for stage in gating.GATED_STAGES
        for key, value in sorted(gating.stored_gates(tags, stage).items())
    ]
    print(table(["stage", "gate", "threshold"], rows) if rows else f"{args.model}: no stored gates")
    return 0


ACTIONS: dict[str, Callable[[Runtime, argparse.Namespace], int]] = {
    "admit": admit,
    "list": _list,
    "info": _info,
    "register": register,
    "compare": _compare,
    "promote": _promote,
    "rollback": _rollback,
    "demote": _stage("development"),
    "archive": _stage("archived"),
    "gates": _gates,
}
