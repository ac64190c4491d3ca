"""``mlgate torchhub admit|pull``: TorchHub repositories, for operators at a shell (docs/supply.md).

``admit owner/repo@<commit>`` records, in the state database, that the operator reviewed the
``hubconf.py`` of the archive pinned in ``MLGATE_TORCHHUB_PINS`` for that commit: the digest is the
pin's, the operator's login name and the time are recorded. ``pull torchhub:owner/repo:entrypoint@<commit>
--register-as NAME --features a,b,c`` runs the whole pull (``mlgate.supply.torchhub_load``).
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from mlgate.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    t = sub.add_parser("torchhub", help="admit and pull TorchHub repositories (pinned, allow-listed)")
    tsub = t.add_subparsers(dest="action", required=True)
    ta = tsub.add_parser("admit", help="admit the hubconf.py of the archive pinned for owner/repo@<commit>")
    ta.add_argument("repo_at_commit")
    ta.add_argument("--note", default="")
    tp = tsub.add_parser(
        "pull", help="fetch, verify, load offline and register torchhub:owner/repo:entry@<commit>"
    )
    tp.add_argument("ref")
    tp.add_argument("--register-as", required=True)
    tp.add_argument("--features", required=True, help="input feature names, comma separated")


def torchhub_command(settings: Settings, args: argparse.Namespace) -> int:
    """Each action is an operator change with its ledger row (``torchhub.admit``, ``torchhub.pull``)."""
    import anyio

    from mlgate.commands.operator import audited, in_thread
    from mlgate.compose import build_runtime

    rt = build_runtime(settings, transport="cli").runtime
    try:
        if args.action == "admit":
            print(audited(rt, "admit", {"ref": args.repo_at_commit}, lambda: in_thread(_admit, rt, args),
                          family="torchhub"))  # fmt: skip
        else:
            out = audited(rt, "pull", {"ref": args.ref, "model": args.register_as},
                          lambda: in_thread(_pull, settings, args), family="torchhub")  # fmt: skip
            print(json.dumps(out))
    finally:
        anyio.run(rt.aclose)
    return 0


def _admit(rt: Any, args: argparse.Namespace) -> str:
    from mlgate.supply import torchhub as th

    repo_id, _, commit = str(args.repo_at_commit).partition("@")
    ref = th.parse(f"torchhub:{repo_id}:hubconf@{commit}")
    th.check_allowed(rt.settings, ref)
    pin = th.pinned(rt.settings, ref)
    who = f"{getpass.getuser()} (mlgate torchhub)"
    rt.admissions.admit(ref.admission_name, 0, pin, who, args.note)
    return f"admitted the hubconf.py of {ref.pin_key} (archive sha256 {pin}) by {who}"


def _pull(settings: Settings, args: argparse.Namespace) -> dict[str, str]:
    from mlgate.errors import InvalidInput
    from mlgate.supply.torchhub_load import pull_torchhub

    features = [f.strip() for f in str(args.features).split(",") if f.strip()]
    if not features:
        raise InvalidInput("--features is empty", "pass the model's input names, e.g. --features a,b,c")
    info, ref, digest = pull_torchhub(settings, args.ref, register_as=args.register_as, features=features)
    return {"ref": str(ref), "archive_sha256": digest, "registered": f"{info.name}@{info.version}"}
