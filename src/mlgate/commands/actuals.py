"""``mlgate actuals record MODEL FILE``: observed outcomes for captured predictions, from a shell.

FILE is CSV or JSON. CSV: a header with ``prediction_id`` (or ``id`` or ``key``) and ``actual``;
an actual that looks like a number is a number, one that starts with ``[`` is a JSON list (a
forecast's actuals per step), anything else a label. JSON: ``{"<id or key>": actual, …}`` or a list
of ``{"prediction_id"|"id"|"key": …, "actual": …}``. Later rows win over earlier ones. The same use
case as ``ml_record_actuals`` (rules re-checked, a retrain job waited for), with one ledger row. Actuals
join the predictions of the local user, or with ``--subject S`` those of token subject ``S`` and its
``MLGATE_CAPTURE_GROUPS`` group (the operator at a shell records for an agent).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from mlgate.config import Settings
from mlgate.errors import InvalidInput

ID_COLUMNS = ("prediction_id", "id", "key")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    a = sub.add_parser(
        "actuals", help="record observed outcomes of captured predictions (docs/monitoring.md)"
    )
    asub = a.add_subparsers(dest="action", required=True)
    ar = asub.add_parser("record", help="join FILE's actuals (CSV or JSON) to MODEL's captured predictions")
    ar.add_argument("model")
    ar.add_argument("file")
    ar.add_argument(
        "--subject",
        help="join the predictions this token subject (and its MLGATE_CAPTURE_GROUPS group) made; "
        "default: the local user's",
    )


def read_actuals(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if isinstance(data, dict):
            return {str(k): v for k, v in data.items()}
        if isinstance(data, list):
            return {_id_of(row, i): row.get("actual") for i, row in enumerate(data)}
        raise InvalidInput(f"{path.name} is neither an object nor a list", 'send {"<id>": actual, …}')
    out: dict[str, Any] = {}
    for i, row in enumerate(csv.DictReader(text.splitlines())):
        if "actual" not in row:
            raise InvalidInput(f"{path.name} has no 'actual' column", "header: prediction_id,actual")
        out[_id_of(row, i)] = _value(row["actual"])
    return out


def _id_of(row: Any, i: int) -> str:
    if isinstance(row, dict):
        for col in ID_COLUMNS:
            if row.get(col):
                return str(row[col])
    raise InvalidInput(f"row {i} has no {', '.join(ID_COLUMNS)}", "give every row an id or a key")


def _value(raw: str | None) -> Any:
    text = (raw or "").strip()
    if text.startswith("["):
        return json.loads(text)
    try:
        return float(text)
    except ValueError:
        return text


def actuals_command(settings: Settings, args: argparse.Namespace) -> int:
    import anyio

    from mlgate.compose import build_runtime
    from mlgate.jobs.service import retrain_submitter
    from mlgate.lifecycle.degradation import record_actuals
    from mlgate.serving.audited import Call, audited

    actuals = read_actuals(Path(args.file))
    app = build_runtime(settings, transport="cli")
    rt = app.runtime
    caller = rt.local_caller()

    async def body() -> Any:
        result = await record_actuals(
            rt,
            args.model,
            actuals,
            caller=caller,
            subject=args.subject,
            submit_retrain=retrain_submitter(app.jobs),
        )
        if result.retrain_jobs:
            await app.jobs.drain(600)
        return result

    async def run() -> Any:
        call_args = {"model": args.model, "file": str(args.file)}
        if args.subject is not None:
            call_args["subject"] = args.subject
        call = Call("actuals.record", caller, call_args, durable=True)
        try:
            return await audited(rt, call, body)
        finally:
            await app.aclose()

    result = anyio.run(run)
    print(json.dumps(result.model_dump(), indent=2))
    return 0
