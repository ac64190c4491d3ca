"""``mlgate models register`` and ``mlgate models admit``: versions in, and the code they carry admitted."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlgate.commands.operator import audited, in_thread, operator
from mlgate.errors import InvalidInput
from mlgate.serving.runtime import Runtime


def register(rt: Runtime, args: argparse.Namespace) -> int:
    from mlgate.models.registrar import Registrar

    reg = Registrar(rt.settings, admit_by=operator() if getattr(args, "admit", False) else None)
    src = args.source
    if getattr(args, "remote", None):
        feats = [f for f in (args.features or "").replace(",", " ").split() if f]
        ifaces = [i for i in (args.interfaces or "").replace(",", " ").split() if i] or None
        reg_v = reg.register_remote(args.name, args.remote, feats, interfaces=ifaces, alias=args.alias)
    elif src is None:
        raise InvalidInput("give a source (file, folder or runs:/ URI), or --remote JSON with --features")
    elif src.startswith(("runs:/", "models:/")):
        reg_v = reg.register_run(args.name, src, alias=args.alias)
    elif Path(src).is_dir():
        reg_v = reg.register_dir(args.name, Path(src), alias=args.alias)
    else:
        reg_v = reg.register_file(args.name, Path(src), alias=args.alias)
    if args.alias:  # serving replicas sharing the state database follow it with their next halt poll
        rt.generations.bump(reg_v.name, operator())
    print(f"registered {reg_v.name}@{reg_v.version} ({','.join(reg_v.interfaces)}) sha256 {reg_v.sha256}")
    return 0


def admit(rt: Runtime, args: argparse.Namespace) -> int:
    """Admit (or ``--revoke``) the code in one version's artifact, at the digest it has now: the artifact
    plan's (``models/plan.py``), which refuses an artifact that names files outside itself."""
    from mlgate.lifecycle.stages import model_name
    from mlgate.models.plan import plan_artifact

    name = model_name(args.model)
    resolver = rt.models.mlflow
    info = resolver.registry.version(name, args.version)
    if args.revoke:
        done = rt.admissions.revoke(name, args.version)
        print(f"{name}@{args.version}: admission {'revoked' if done else 'was not recorded'}")
        return 0
    plan = plan_artifact(resolver.local_path(info))
    digest, code = plan.digest, list(plan.code)
    print(f"{name}@{args.version} loads the {plan.flavor or 'no'} flavor, reading (all inside the artifact):")
    for shown, rel in zip(plan.shown(), plan.files, strict=True):
        print(f"  {shown}{'  (runs code)' if rel in plan.code_files else ''}")
    if not code:
        print(
            f"{name}@{args.version} holds no code that runs when loaded: nothing to admit (sha256 {digest})"
        )
        return 0
    by = operator()
    args_row = {"model": f"{name}@{args.version}", "digest": digest}
    row = audited(
        rt,
        "admit",
        args_row,
        lambda: in_thread(rt.admissions.admit, name, args.version, digest, by, "; ".join(code)),
    )
    print(f"admitted {name}@{args.version} at sha256 {row.digest} by {row.by}: it contains {'; '.join(code)}")
    return 0
