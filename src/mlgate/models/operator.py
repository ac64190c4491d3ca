"""``mlgate models …``: the registry for operators at a shell, as readable tables."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import anyio

from mlgate.config import Settings
from mlgate.serving.runtime import Runtime


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _metrics(m: dict[str, float], n: int = 3) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(m.items())[:n])


def run_models_command(settings: Settings, args: argparse.Namespace) -> int:
    from mlgate.models import catalog

    rt = Runtime(settings, transport="cli")
    if args.action == "list":
        result = anyio.run(catalog.list_models, rt)
        rows = []
        for m in result.models:
            for v in m.versions:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime((v.created_at or 0) / 1000))
                rows.append([m.name, str(v.version), v.stage or "-", ",".join(v.aliases) or "-",
                             ",".join(v.interfaces) or "?", when, _metrics(v.metrics)])
        print(table(["model", "version", "stage", "aliases", "interfaces", "registered", "key metrics"], rows))
        return 0
    if args.action == "info":
        info = anyio.run(catalog.model_info, rt, args.model)
        print(json.dumps(info.model_dump(mode="json"), indent=2))
        return 0
    if args.action == "register":
        from mlgate.models.registry import Registrar

        reg = Registrar(settings)
        src = args.source
        if src.startswith(("runs:/", "models:/")):
            reg_v = reg.register_run(args.name, src, alias=args.alias)
        elif Path(src).is_dir():
            reg_v = reg.register_dir(args.name, Path(src), alias=args.alias)
        else:
            reg_v = reg.register_file(args.name, Path(src), alias=args.alias)
        print(f"registered {reg_v.name}@{reg_v.version} ({','.join(reg_v.interfaces)}) sha256 {reg_v.sha256}")
        return 0
    raise SystemExit(f"unknown action {args.action}")
