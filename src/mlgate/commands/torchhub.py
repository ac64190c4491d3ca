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
    from mlgate.errors import InvalidInput
    from mlgate.state.admissions import AdmissionBook
    from mlgate.state.db import StateDB
    from mlgate.supply import torchhub as th

    if args.action == "admit":
        repo_id, _, commit = str(args.repo_at_commit).partition("@")
        ref = th.parse(f"torchhub:{repo_id}:hubconf@{commit}")
        th.check_allowed(settings, ref)
        pin = th.pinned(settings, ref)
        who = f"{getpass.getuser()} (mlgate torchhub)"
        AdmissionBook(StateDB(settings.state)).admit(ref.admission_name, 0, pin, who, args.note)
        print(f"admitted the hubconf.py of {ref.pin_key} (archive sha256 {pin}) by {who}")
        return 0
    from mlgate.supply.torchhub_load import pull_torchhub

    features = [f.strip() for f in str(args.features).split(",") if f.strip()]
    if not features:
        raise InvalidInput("--features is empty", "pass the model's input names, e.g. --features a,b,c")
    info, ref, digest = pull_torchhub(settings, args.ref, register_as=args.register_as, features=features)
    out = {"ref": str(ref), "archive_sha256": digest, "registered": f"{info.name}@{info.version}"}
    print(json.dumps(out))
    return 0
