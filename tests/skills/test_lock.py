"""skills.lock: the shipped lock holds; edits are refused until re-locked as a new version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.cli import main
from mlgate.skills.catalog import BUILTIN_DIR, LOCK_FILE, read_lock, sha256_hex
from mlgate.skills.demo_models import BULL_MARKET, STOCKS
from tests._support import call, mlgate_env
from tests._support.skills import builtin_text, write_skill
from tests.skills.scenarios import run_skill

pytestmark = pytest.mark.anyio
INPUTS = {"market": [BULL_MARKET], "stocks": STOCKS}


@pytest.fixture(autouse=True)
def _own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlgate skills lock` leaves a ledger row: in this test's own home, not the user's."""
    monkeypatch.setenv("MLGATE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLGATE_STATE_URL", raising=False)


def test_locking_leaves_an_operator_row(skills_dir: Path, tmp_path: Path) -> None:
    from mlgate.config import Settings
    from mlgate.state.db import StateDB

    write_skill(skills_dir, desk_alpha(), lock=False)
    assert cli("lock", "--dir", str(skills_dir)) == 0
    rows = StateDB(Settings(home=tmp_path / "home").state).tail(5)
    assert [(r.tool, r.outcome, r.transport) for r in rows] == [("skills.lock", "ok", "cli")]


def cli(*args: str) -> int:
    return main(["skills", *args])


def desk_alpha() -> str:
    """An organisation's own copy of the built-in, under its own name."""
    return builtin_text("regime_aware_alpha").replace("name: regime_aware_alpha", "name: desk_alpha")


async def listed(client: Any, ref: str) -> dict[str, Any]:
    err, listing = await call(client, "ml_list_skills", {})
    assert not err, listing
    return next(s for s in listing["skills"] if f"{s['name']}@{s['version']}" == ref)


def test_the_shipped_lock_verifies(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "skills", "verify"],
        env=mlgate_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "regime_aware_alpha@1" in done.stdout and "multi_horizon_forecast@1" in done.stdout
    lock = read_lock(BUILTIN_DIR)
    for path in BUILTIN_DIR.glob("*.yaml"):
        assert lock[f"{path.stem}@1"] == sha256_hex(path.read_bytes())


async def test_one_byte_edit_is_refused_until_relocked_as_a_new_version(
    client: Any, skills_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_skill(skills_dir, desk_alpha(), "desk_alpha.yaml", lock=False)
    original = sha256_hex(path.read_bytes())

    # unlocked: listed as such, refused with the digests
    entry = await listed(client, "desk_alpha@1")
    assert (entry["locked"], entry["runnable"], entry["digest"], entry["locked_digest"]) == (
        False,
        False,
        original,
        None,
    )
    err, msg = await run_skill(client, "desk_alpha@1", INPUTS)
    assert (
        err
        and f"is not locked: custom {LOCK_FILE} has no entry for it (expected sha256: none; actual sha256: "
        f"{original})"
        in msg
    ), msg
    assert cli("verify", "--dir", str(skills_dir)) == 1

    # the operator locks it: it runs
    assert cli("lock", "--dir", str(skills_dir)) == 0
    assert f"added     desk_alpha@1  sha256 {original}" in capsys.readouterr().out
    err, run = await run_skill(client, "desk_alpha@1", INPUTS)
    assert not err and run["digest"] == original and run["outputs"]["regime"] == "bull", run

    # one byte changes (a comment, even): refused with the expected and the actual digest
    data = bytearray(path.read_bytes())
    data[data.index(b"#") + 2] ^= 0x20  # "A reviewed" → "a reviewed"
    path.write_bytes(bytes(data))
    edited = sha256_hex(bytes(data))
    err, msg = await run_skill(client, "desk_alpha@1", INPUTS)
    assert err and f"does not match its lock: expected sha256 {original}, actual sha256 {edited}" in msg, msg
    entry = await listed(client, "desk_alpha@1")
    assert (entry["locked"], entry["runnable"], entry["locked_digest"]) == (False, False, original)
    assert cli("verify", "--dir", str(skills_dir)) == 1

    # `lock` will not rewrite the entry; nothing is written
    before = (skills_dir / LOCK_FILE).read_bytes()
    capsys.readouterr()
    assert cli("lock", "--dir", str(skills_dir)) == 2
    assert "a locked name@version never changes" in capsys.readouterr().out
    assert (skills_dir / LOCK_FILE).read_bytes() == before

    # the change as a new version: locked beside the old entry, which stays
    path.write_bytes(bytes(data).replace(b"version: 1", b"version: 2"))
    assert cli("lock", "--dir", str(skills_dir)) == 0
    lock = read_lock(skills_dir)
    assert lock["desk_alpha@1"] == original and lock["desk_alpha@2"] == sha256_hex(path.read_bytes())
    err, run = await run_skill(client, "desk_alpha@2", INPUTS)
    assert not err and run["skill"] == "desk_alpha@2", run
    err, msg = await run_skill(client, "desk_alpha@1", INPUTS)
    assert err and "no skill desk_alpha@1" in msg
    capsys.readouterr()
    assert cli("verify", "--dir", str(skills_dir)) == 0
    assert "desk_alpha@1 has no spec file" in capsys.readouterr().out

    # a retired name@version cannot come back with other content
    (skills_dir / "again.yaml").write_bytes(bytes(data))
    err, msg = await run_skill(client, "desk_alpha@1", INPUTS)
    assert err and f"expected sha256 {original}, actual sha256 {edited}" in msg


async def test_force_rewrites_an_entry(client: Any, skills_dir: Path) -> None:
    path = write_skill(skills_dir, desk_alpha(), "desk_alpha.yaml")
    path.write_text(desk_alpha().replace("predictor trained", "model trained"))
    assert cli("lock", "--dir", str(skills_dir)) == 2
    assert cli("lock", "--force", "--dir", str(skills_dir)) == 0
    assert read_lock(skills_dir)["desk_alpha@1"] == sha256_hex(path.read_bytes())
    err, run = await run_skill(client, "desk_alpha@1", INPUTS)
    assert not err, run


async def test_lock_refuses_invalid_specs_and_writes_nothing(
    client: Any, skills_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_skill(
        skills_dir,
        desk_alpha().replace("demo-alpha-bear@1", "demo-alpha-bear@production"),
        "desk_alpha.yaml",
        lock=False,
    )
    assert cli("lock", "--dir", str(skills_dir)) == 2
    out = capsys.readouterr().out
    assert "model 'demo-alpha-bear@production' is the alias 'production'" in out and "nothing written" in out
    assert not (skills_dir / LOCK_FILE).exists()
    entry = await listed(client, "desk_alpha@1")
    assert not entry["runnable"] and "is not locked" in entry["error"]


async def test_an_invalid_spec_is_refused_even_if_locked(client: Any, skills_dir: Path) -> None:
    path = write_skill(skills_dir, desk_alpha(), "desk_alpha.yaml")
    path.write_text(desk_alpha().replace("demo-alpha-bear@1", "demo-alpha-bear@latest"))
    lock = read_lock(skills_dir)
    lock["desk_alpha@1"] = sha256_hex(path.read_bytes())  # a hand-edited lock vouching for a bad spec
    (skills_dir / LOCK_FILE).write_text(json.dumps({"format": 1, "skills": lock}))
    err, msg = await run_skill(client, "desk_alpha@1", INPUTS)
    assert err and "model 'demo-alpha-bear@latest' is 'latest', which floats" in msg, msg


async def test_builtin_names_duplicates_and_malformed_locks(
    client: Any, skills_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_skill(skills_dir, builtin_text("regime_aware_alpha"), "mine.yaml", lock=False)
    assert cli("lock", "--dir", str(skills_dir)) == 2
    assert "is the name@version of a built-in skill" in capsys.readouterr().out
    err, run = await run_skill(client, "regime_aware_alpha@1", INPUTS)  # the built-in still runs
    assert not err and run["digest"] == sha256_hex((BUILTIN_DIR / "regime_aware_alpha.yaml").read_bytes())
    (skills_dir / "mine.yaml").unlink()

    write_skill(skills_dir, desk_alpha(), "a.yaml", lock=False)
    write_skill(skills_dir, desk_alpha() + "\n", "b.yaml", lock=False)
    assert cli("lock", "--dir", str(skills_dir)) == 2
    assert "desk_alpha@1 is declared by more than one file" in capsys.readouterr().out
    (skills_dir / "b.yaml").unlink()
    assert cli("lock", "--dir", str(skills_dir)) == 0

    (skills_dir / LOCK_FILE).write_text('{"format": 1, "skills": {"desk_alpha@1": "not-a-digest"}}')
    err, msg = await run_skill(client, "desk_alpha@1", INPUTS)
    assert err and "is not 'name@version': '<sha256 hex>'" in msg, msg
    assert cli("lock", "--dir", str(skills_dir)) == 2  # never silently replaced
    assert "not-a-digest" in (skills_dir / LOCK_FILE).read_text()


def test_lock_needs_a_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLGATE_SKILLS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert cli("lock") == 2
    assert "MLGATE_SKILLS_DIR is not set" in capsys.readouterr().err
    monkeypatch.setenv("MLGATE_SKILLS_DIR", str(tmp_path / "missing"))
    assert cli("lock") == 2
    assert "no skills folder" in capsys.readouterr().err


def test_verify_fails_when_the_configured_folder_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLGATE_SKILLS_DIR", str(tmp_path / "missing"))
    assert cli("verify") == 1
    assert "is not a folder" in capsys.readouterr().out
    (tmp_path / "missing").mkdir()
    assert cli("verify") == 0
