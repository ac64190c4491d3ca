"""The ``mlgate`` command line. Imports stay light: each command imports what it needs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

EPILOG = "Settings come from MLGATE_* environment variables or a .env file (see README)."


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlgate", description="MCP server for audited, pinned access to ML models.", epilog=EPILOG
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve MCP over stdio (default) or streamable HTTP")
    s.add_argument("--http", action="store_true", help="streamable HTTP at /mcp/ml instead of stdio")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument(
        "--stateless", action="store_true", help="no MCP sessions: JSON responses, any replica answers"
    )
    s.add_argument("--no-auth", action="store_true", help="no bearer tokens (loopback only)")
    s.add_argument("--demo", action="store_true", help="seed the demo models first")

    sub.add_parser("demo", help="train and register the demo models (idempotent)")

    t = sub.add_parser("token", help="mint a development token (MLGATE_DEV_AUTH=1)")
    t.add_argument("--scope", default="ml:read ml:infer")
    t.add_argument("--audience", default=None)
    t.add_argument("--ttl", type=int, default=3600)
    t.add_argument("--subject", default="dev")

    c = sub.add_parser("call", help="call one tool and print its JSON result")
    c.add_argument("tool")
    c.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    c.add_argument("--url", help="an HTTP MCP endpoint instead of a spawned stdio server")
    c.add_argument("--token", help="bearer token for --url")

    m = sub.add_parser("models", help="the model lifecycle, for operators")
    _models_actions(m.add_subparsers(dest="action", required=True))

    k = sub.add_parser("skills", help="lock and verify the skill specs (see docs/skills.md)")
    ksub = k.add_subparsers(dest="action", required=True)
    kl = ksub.add_parser("lock", help="add new specs of MLGATE_SKILLS_DIR (or --dir) to its skills.lock")
    kl.add_argument(
        "--force", action="store_true", help="rewrite entries whose spec changed (an operator's act)"
    )
    kl.add_argument("--dir", default=None, help="the folder to lock (default: MLGATE_SKILLS_DIR)")
    kv = ksub.add_parser("verify", help="check every spec against its lock; exit 1 on any mismatch")
    kv.add_argument("--dir", default=None, help="only this folder (default: built-in and MLGATE_SKILLS_DIR)")

    w = sub.add_parser("worker", help="run jobs from MLGATE_JOBS_BROKER (Celery; see docs/jobs.md)")
    w.add_argument("--concurrency", type=int, default=None, help="jobs at once (default: MLGATE_JOB_WORKERS)")
    w.add_argument("--loglevel", default="INFO")

    j = sub.add_parser("jobs", help="jobs, for operators (see docs/jobs.md)")
    jsub = j.add_subparsers(dest="action", required=True)
    jg = jsub.add_parser("gc", help="remove versions, artifact and staging folders of killed registrations")
    jg.add_argument(
        "--older-than", type=float, default=3600.0, help="seconds: without a job, on another host (3600)"
    )
    jg.add_argument("--json", action="store_true")

    a = sub.add_parser("audit", help="the audit ledger")
    asub = a.add_subparsers(dest="action", required=True)
    at = asub.add_parser("tail")
    at.add_argument("-n", type=int, default=20)
    at.add_argument("--json", action="store_true")

    from mlgate.commands.actuals import add_parser as add_actuals
    from mlgate.commands.torchhub import add_parser

    add_parser(sub)
    add_actuals(sub)
    return p


def _models_actions(msub: Any) -> None:
    msub.add_parser("list", help="every version: stage, aliases, registered, key metrics")
    mi = msub.add_parser("info", help="one version: metrics, stage history, lineage")
    mi.add_argument("model", help="name@3 or name@production")
    mi.add_argument("--json", action="store_true")
    mr = msub.add_parser(
        "register",
        help="register a .skops/.onnx file, an MLflow model folder or runs:/ URI, "
        "or (--remote) an endpoint that serves the model",
    )
    mr.add_argument("name")
    mr.add_argument("source", nargs="?", default=None, help="omit with --remote")
    mr.add_argument("--alias", default=None)
    mr.add_argument(
        "--remote",
        default=None,
        metavar="JSON",
        help='served elsewhere: {"protocol": "v2"|"mlflow", "url": …, "model": …, "timeout_s": 5}',
    )
    mr.add_argument(
        "--features", default=None, help="with --remote: feature names in the engine's column order"
    )
    mr.add_argument("--interfaces", default=None, help="with --remote: e.g. predictor,classifier")
    mr.add_argument(
        "--admit",
        action="store_true",
        help="the artifact runs code when loaded (a pickle): you reviewed it; admit it at its digest",
    )
    ma = msub.add_parser(
        "admit",
        help="admit the code in a version's artifact (pickle, TorchScript) at its "
        "current digest, after reviewing it; recorded with who and when",
    )
    ma.add_argument("model")
    ma.add_argument("version", type=int)
    ma.add_argument("--revoke", action="store_true", help="withdraw the admission")
    mp = msub.add_parser("promote", help="promote a version to production (default) or staging, gated")
    mp.add_argument("model")
    mp.add_argument("version", type=int)
    mp.add_argument("--to", default="production", choices=["staging", "production"])
    mp.add_argument("--gate", action="append", metavar="KEY=VALUE", help="e.g. min_r2=0.4 (repeatable)")
    mp.add_argument("--force", action="store_true", help="skip failing gates (needs ml:admin; recorded)")
    for name, text in (("demote", "move a version back to development"), ("archive", "archive a version")):
        ms = msub.add_parser(name, help=f"{text} (not the one serving production)")
        ms.add_argument("model")
        ms.add_argument("version", type=int)
    mb = msub.add_parser("rollback", help="restore a version that served production before")
    mb.add_argument("model")
    mb.add_argument("version", type=int, nargs="?", default=None, help="default: the previous production one")
    mc = msub.add_parser("compare", help="metrics of versions side by side, with deltas")
    mc.add_argument("model")
    mc.add_argument("versions", type=int, nargs="*", help="default: every version")
    mg = msub.add_parser("gates", help="show or set the promotion gates stored on a model")
    mg.add_argument("model")
    mg.add_argument("gate", nargs="*", metavar="KEY=VALUE", help="e.g. min_r2=0.4 require_drift_check=true")
    mg.add_argument("--stage", default="production", choices=["staging", "production"])
    mg.add_argument("--clear", action="store_true", help="remove the stage's stored gates")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from mlgate.config import Settings
    from mlgate.errors import ConfigError, MlgateError

    try:
        settings = Settings()
        handler = COMMANDS[args.command]
        return int(handler(settings, args) or 0)
    except (MlgateError, ConfigError) as exc:
        print(f"mlgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _serve(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.server.run import serve_http, serve_stdio

    if args.demo:
        _demo(settings, args, quiet=args.http is False)
    if args.http:
        return serve_http(
            settings, host=args.host, port=args.port, stateless=args.stateless, no_auth=args.no_auth
        )
    return serve_stdio(settings)


def _demo(settings: Any, args: argparse.Namespace, quiet: bool = False) -> int:
    from mlgate.demo import seed_demo

    def echo(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr)

    settings.ensure_home()
    echo(f"demo registry in {settings.tracking}")
    seed_demo(settings, echo=echo)
    return 0


def _token(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.auth.devkeys import for_running_server, mint_token

    # MLGATE_RESOURCE_URL unset: the URL (and so the issuer) of the dev server running under MLGATE_HOME
    settings = for_running_server(settings)
    print(
        mint_token(settings, args.scope.split(), audience=args.audience, ttl=args.ttl, subject=args.subject)
    )
    return 0


def _call(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.server.client import call_tool

    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as exc:
        print(f"mlgate: arguments are not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(arguments, dict):
        print("mlgate: arguments must be a JSON object", file=sys.stderr)
        return 2
    ok, payload = call_tool(args.tool, arguments, url=args.url, token=args.token)
    print(json.dumps(payload, indent=2) if not isinstance(payload, str) else payload)
    return 0 if ok else 1


def _models(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.commands.models import run_models_command

    return run_models_command(settings, args)


def _skills(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.commands.skills import skills_command

    return skills_command(settings, args)


def _audit(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.commands.audit import tail_command

    return int(tail_command(settings, n=args.n, as_json=args.json))


def _torchhub(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.commands.torchhub import torchhub_command

    return torchhub_command(settings, args)


def _actuals(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.commands.actuals import actuals_command

    return actuals_command(settings, args)


def _worker(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.commands.worker import worker_command

    return worker_command(settings, concurrency=args.concurrency, loglevel=args.loglevel)


def _jobs(settings: Any, args: argparse.Namespace) -> int:
    from mlgate.commands.worker import jobs_gc_command

    return jobs_gc_command(settings, older_than=args.older_than, as_json=args.json)


COMMANDS = {
    "serve": _serve,
    "demo": _demo,
    "token": _token,
    "call": _call,
    "models": _models,
    "torchhub": _torchhub,
    "audit": _audit,
    "skills": _skills,
    "worker": _worker,
    "jobs": _jobs,
    "actuals": _actuals,
}
