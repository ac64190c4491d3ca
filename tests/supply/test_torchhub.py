"""TorchHub pulls against a local archive endpoint: what is pinned and admitted loads offline, serves and compiles
to ONNX; every refusal leaves nothing behind (no staging folder, no snapshot, no registered version)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlgate.auth.caller import Caller
from mlgate.config import Settings
from mlgate.errors import IntegrityError, InvalidInput, Refused
from mlgate.models.resolvers import MlflowResolver
from mlgate.serving import inference
from mlgate.serving.runtime import Runtime
from mlgate.state.admissions import AdmissionBook
from mlgate.state.db import StateDB
from mlgate.supply.compile import CompileRequest, compile_version
from mlgate.supply.torchhub import parse
from mlgate.supply.torchhub_load import pull_torchhub
from tests._support.torchhub import ABSOLUTE, EVIL, FEATURES, GOOD, LINK, own_answer
from tests.supply.torchhub_server import Archives, sha

torch = pytest.importorskip("torch", reason="torch is an optional extra", exc_type=ImportError)
pytest.importorskip("safetensors", reason="safetensors comes with the torch extra", exc_type=ImportError)


def _settings(home: Path, url: str, *, pins: dict[str, str], allow: str = "acme") -> Settings:
    return Settings(
        home=home,
        torchhub_allowlist=[allow],
        torchhub_endpoint=url + "/{owner}/{repo}/tar.gz/{commit}",
        torchhub_pins=pins,
    )


def _ready(
    home: Path, endpoint: tuple[Archives, str], commit: str, *, admit: bool = True, pin: str | None = None
) -> Settings:
    archives, url = endpoint
    digest = sha(archives.files[f"/acme/tinyhub/tar.gz/{commit}"])
    settings = _settings(home, url, pins={f"acme/tinyhub@{commit}": pin or digest})
    if admit:
        AdmissionBook(StateDB(settings.state)).admit(
            f"torchhub:acme/tinyhub@{commit}", 0, pin or digest, "operator"
        )
    return settings


def _nothing_left(settings: Settings, name: str) -> None:
    root = settings.home / "torchhub"
    assert not list(root.glob(".staging-*")) if root.exists() else True
    assert not (root / "acme").exists()
    assert MlflowResolver(settings).registry.find_version(name, {}) is None


def test_a_pinned_admitted_pull_keeps_safetensors_serves_over_mcp_and_compiles_to_onnx(
    tmp_path: Path, endpoint: tuple[Archives, str]
) -> None:
    import hashlib

    import anyio
    from mcp import Client

    from mlgate.server.app import build_server
    from tests._support import call

    archives, _ = endpoint
    settings = _ready(tmp_path, endpoint, GOOD)
    info, ref, digest = pull_torchhub(
        settings, f"torchhub:acme/tinyhub:tiny@{GOOD}", register_as="tiny", features=FEATURES
    )
    assert info.tags["torchhub.archive_sha256"] == digest and info.tags["torchhub.commit"] == GOOD
    assert info.tags["torchhub.entrypoint"] == "tiny" and info.tags["torchhub.admitted_by"] == "operator"
    snap = tmp_path / "torchhub" / "acme" / "tinyhub" / GOOD
    assert (snap / "hubconf.py").is_file() and (snap / "weights.safetensors").is_file()
    assert not list((tmp_path / "torchhub").glob(".staging-*"))
    again, _, _ = pull_torchhub(settings, str(ref), register_as="tiny", features=FEATURES)
    assert again.version == info.version

    # the version keeps the weights as safetensors + sidecar beside the pinned archive: no pickle, no TorchScript
    folder = MlflowResolver(settings).local_path(info)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["MLmodel", "hub/archive.tar.gz", "model.safetensors", "model.safetensors.sha256"]
    weights = (folder / "model.safetensors").read_bytes()
    assert (folder / "model.safetensors.sha256").read_text().split()[0] == hashlib.sha256(weights).hexdigest()
    assert (folder / "hub/archive.tar.gz").read_bytes() == archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"]
    assert "mlgate_torchhub:" in (folder / "MLmodel").read_text()

    row = {"a": 0.5, "b": -1.0, "c": 2.0}
    expected = own_answer(snap, [0.5, -1.0, 2.0])

    async def serve_and_compile() -> None:
        rt = Runtime(settings)
        async with Client(build_server(rt)) as client:
            err, out = await call(client, "ml_predict", {"model": f"tiny@{info.version}", "features": [row]})
            assert not err, out
            assert abs(out["predictions"][0] - expected) < 1e-6
            assert out["model"]["sha256"] == info.sha256
            err, card = await call(client, "ml_model_info", {"model": f"tiny@{info.version}"})
            assert not err and card["runs_code"] and card["admitted_by"], card
            err, msg = await call(
                client, "ml_compile", {"model": f"tiny@{info.version}", "target": "safetensors"}
            )
            assert err and "already kept as model.safetensors" in msg
        caller = Caller("user", "test", "memory", frozenset({"ml:manage"}))

        async def quiet(done: float, total: float | None, message: str) -> None:
            return None

        out = await compile_version(
            rt, CompileRequest(f"tiny@{info.version}", "onnx"), caller=caller, progress=quiet
        )
        assert out.parity.passed and out.parity.max_abs_diff < 1e-5 and out.artifact.format == "onnx"
        compiled = await inference.predict(rt, out.registered, [row])
        assert abs(compiled.predictions[0] - expected) < 1e-5  # type: ignore[operator]

    anyio.run(serve_and_compile)


def test_serving_a_pulled_version_checks_weights_archive_and_admission(
    tmp_path: Path, endpoint: tuple[Archives, str]
) -> None:
    """The registered folder is verified at every load: a changed weight or archive, or a revoked admission,
    refuses the version; the adapter checks the weights against their sidecar before any hubconf code runs."""
    import shutil

    import anyio

    from mlgate.adapters import torch_hubconf
    from mlgate.models.loader import read_mlmodel

    settings = _ready(tmp_path, endpoint, GOOD)
    info, _, _ = pull_torchhub(
        settings, f"torchhub:acme/tinyhub:tiny@{GOOD}", register_as="tiny", features=FEATURES
    )
    folder = MlflowResolver(settings).local_path(info)
    conf = read_mlmodel(folder)["flavors"]["mlgate_torchhub"]
    row = [[0.5, -1.0, 2.0]]
    model = torch_hubconf.load(folder, conf, [], admitted=True)
    assert (
        abs(model.predict(np.asarray(row))[0] - own_answer(tmp_path / "torchhub/acme/tinyhub" / GOOD, row[0]))
        < 1e-6
    )
    with pytest.raises(Refused, match="not admitted"):
        torch_hubconf.load(folder, conf, [], admitted=False)
    with pytest.raises(Refused, match=r"tried to download http://127\.0\.0\.1:9/weights\.pth"):
        torch_hubconf.load(folder, {**conf, "entrypoint": "downloads"}, [], admitted=True)  # at serving, too

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0x01  # one bit of the last weight
    (copy / "model.safetensors").write_bytes(bytes(data))
    (copy / "hub/archive.tar.gz").write_bytes(
        b"not an archive"
    )  # would fail later: the weights are checked first
    with pytest.raises(IntegrityError, match="does not match its sidecar"):
        torch_hubconf.load(copy, conf, [], admitted=True)
    shutil.copyfile(folder / "model.safetensors", copy / "model.safetensors")
    with pytest.raises(IntegrityError, match="not the admitted"):
        torch_hubconf.load(copy, conf, [], admitted=True)

    async def predict() -> str:
        try:
            await inference.predict(
                Runtime(settings), f"tiny@{info.version}", [dict(zip(FEATURES, row[0], strict=True))]
            )
        except (IntegrityError, Refused) as exc:
            return str(exc)
        return "served"

    book = AdmissionBook(StateDB(settings.state))
    book.revoke("tiny", info.version)
    assert anyio.run(predict) == "served"  # the archive's own admission (`mlgate torchhub admit`) still holds
    book.revoke(f"torchhub:acme/tinyhub@{GOOD}", 0)
    assert "no operator admitted it" in anyio.run(predict)
    AdmissionBook(StateDB(settings.state)).admit("tiny", info.version, str(info.sha256), "operator")
    assert anyio.run(predict) == "served"
    (folder / "model.safetensors").write_bytes(bytes(data))  # tampered in the artifact store
    assert "does not match its recorded digest" in anyio.run(predict)


def test_the_flavor_runs_code_so_registering_it_needs_an_admission(tmp_path: Path) -> None:
    """Without an operator's admission, a folder whose architecture comes from a hubconf.py is refused
    before anything is written (the flavor is code, not data, for the admission gate)."""
    import yaml

    from mlgate.adapters import torch_weights
    from mlgate.models.registrar import Registrar

    folder = tmp_path / "model"
    torch_weights.write({"w": torch.zeros(2)}, folder)
    conf = {"data": "model.safetensors", "archive": "hub/archive.tar.gz", "entrypoint": "tiny"}
    (folder / "MLmodel").write_text(yaml.safe_dump({"flavors": {"mlgate_torchhub": conf}}))
    with pytest.raises(Refused, match=r"hubconf\.py of a TorchHub archive"):
        Registrar(Settings(home=tmp_path / "home")).register_dir("sneaky", folder)
    assert MlflowResolver(Settings(home=tmp_path / "home")).registry.find_version("sneaky", {}) is None


def test_a_digest_mismatch_is_refused_before_unpacking(
    tmp_path: Path, endpoint: tuple[Archives, str]
) -> None:
    archives, _ = endpoint
    settings = _ready(tmp_path, endpoint, GOOD, pin="0" * 64)
    before = len(archives.requests)
    with pytest.raises(IntegrityError, match="not the pinned"):
        pull_torchhub(settings, f"torchhub:acme/tinyhub:tiny@{GOOD}", register_as="tiny", features=FEATURES)
    assert len(archives.requests) == before + 1  # fetched, hashed, never opened
    _nothing_left(settings, "tiny")


@pytest.mark.parametrize("revision", ["main", "v1.0", GOOD[:12]])
def test_branches_and_tags_are_refused_without_a_request(
    tmp_path: Path, endpoint: tuple[Archives, str], revision: str
) -> None:
    archives, _ = endpoint
    settings = _ready(tmp_path, endpoint, GOOD)
    before = len(archives.requests)
    with pytest.raises(InvalidInput, match="not a commit"):
        pull_torchhub(
            settings, f"torchhub:acme/tinyhub:tiny@{revision}", register_as="tiny", features=FEATURES
        )
    assert len(archives.requests) == before
    _nothing_left(settings, "tiny")


def test_an_unlisted_repository_is_refused_without_a_request(
    tmp_path: Path, endpoint: tuple[Archives, str]
) -> None:
    archives, url = endpoint
    digest = sha(archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"])
    settings = _settings(tmp_path, url, pins={f"acme/tinyhub@{GOOD}": digest}, allow="other")
    AdmissionBook(StateDB(settings.state)).admit(f"torchhub:acme/tinyhub@{GOOD}", 0, digest, "operator")
    before = len(archives.requests)
    with pytest.raises(Refused, match="not on the TorchHub allow-list"):
        pull_torchhub(settings, f"torchhub:acme/tinyhub:tiny@{GOOD}", register_as="tiny", features=FEATURES)
    assert len(archives.requests) == before
    _nothing_left(settings, "tiny")


@pytest.mark.parametrize(
    ("commit", "needle"),
    [(EVIL, "escapes the snapshot"), (ABSOLUTE, "escapes the snapshot"), (LINK, "is a link")],
)
def test_traversal_and_links_are_refused(
    tmp_path: Path, endpoint: tuple[Archives, str], commit: str, needle: str
) -> None:
    settings = _ready(tmp_path, endpoint, commit)
    with pytest.raises(Refused, match=needle):
        pull_torchhub(settings, f"torchhub:acme/tinyhub:tiny@{commit}", register_as="tiny", features=FEATURES)
    assert not (tmp_path / "torchhub" / "evil.py").exists() and not (tmp_path / "evil.py").exists()
    assert not Path("/tmp/mlgate-absolute.py").exists()
    _nothing_left(settings, "tiny")


def test_an_unadmitted_hubconf_is_refused(tmp_path: Path, endpoint: tuple[Archives, str]) -> None:
    archives, _ = endpoint
    settings = _ready(tmp_path, endpoint, GOOD, admit=False)
    before = len(archives.requests)
    with pytest.raises(Refused, match="no operator admitted it"):
        pull_torchhub(settings, f"torchhub:acme/tinyhub:tiny@{GOOD}", register_as="tiny", features=FEATURES)
    assert len(archives.requests) == before
    _nothing_left(settings, "tiny")
    AdmissionBook(StateDB(settings.state)).admit(f"torchhub:acme/tinyhub@{GOOD}", 0, "f" * 64, "operator")
    with pytest.raises(IntegrityError, match="admitted by operator"):  # admitted for another archive
        pull_torchhub(settings, f"torchhub:acme/tinyhub:tiny@{GOOD}", register_as="tiny", features=FEATURES)
    _nothing_left(settings, "tiny")


@pytest.mark.parametrize(
    ("entrypoint", "url"),
    [("downloads", r"http://127\.0\.0\.1:9/weights\.pth"), ("quietly", r"http://127\.0\.0\.1:9/telemetry")],
)
def test_a_download_at_load_is_refused_even_when_the_entrypoint_catches_it(
    tmp_path: Path, endpoint: tuple[Archives, str], entrypoint: str, url: str
) -> None:
    import os
    import urllib.request

    settings = _ready(tmp_path, endpoint, GOOD)
    hub_dir, urlopen, torch_home = torch.hub.get_dir(), urllib.request.urlopen, os.environ.get("TORCH_HOME")
    with pytest.raises(Refused, match=f"tried to download {url}"):
        pull_torchhub(
            settings, f"torchhub:acme/tinyhub:{entrypoint}@{GOOD}", register_as="dl", features=FEATURES
        )
    assert torch.hub.get_dir() == hub_dir and urllib.request.urlopen is urlopen  # restored
    assert os.environ.get("TORCH_HOME") == torch_home
    _nothing_left(settings, "dl")


def test_a_commit_without_a_pinned_digest_is_refused_without_a_request(
    tmp_path: Path, endpoint: tuple[Archives, str]
) -> None:
    archives, url = endpoint
    settings = _settings(tmp_path, url, pins={f"acme/tinyhub@{LINK}": "0" * 64})  # a pin for another commit
    before = len(archives.requests)
    with pytest.raises(Refused, match=r"no SHA-256 is pinned for the archive of acme/tinyhub@1{40}"):
        pull_torchhub(settings, f"torchhub:acme/tinyhub:tiny@{GOOD}", register_as="tiny", features=FEATURES)
    assert len(archives.requests) == before
    _nothing_left(settings, "tiny")


def test_refs_parse_strictly() -> None:
    ref = parse(f"torchhub:acme/tinyhub:tiny@{GOOD}")
    assert (ref.repo_id, ref.entrypoint, ref.commit) == ("acme/tinyhub", "tiny", GOOD)
    for bad in [
        "torchhub:acme/tinyhub@" + GOOD,
        f"torchhub:../x:tiny@{GOOD}",
        f"torchhub:acme/t:os.system@{GOOD}",
    ]:
        with pytest.raises(InvalidInput):
            parse(bad)


def test_the_operator_admits_and_pulls_at_a_shell(
    tmp_path: Path,
    endpoint: tuple[Archives, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from mlgate.cli import main

    archives, url = endpoint
    digest = sha(archives.files[f"/acme/tinyhub/tar.gz/{GOOD}"])
    monkeypatch.setenv("MLGATE_HOME", str(tmp_path))
    monkeypatch.setenv("MLGATE_TORCHHUB_ALLOWLIST", "acme/tinyhub")
    monkeypatch.setenv("MLGATE_TORCHHUB_ENDPOINT", url + "/{owner}/{repo}/tar.gz/{commit}")
    monkeypatch.setenv("MLGATE_TORCHHUB_PINS", json.dumps({f"acme/tinyhub@{GOOD}": digest}))
    ref = f"torchhub:acme/tinyhub:tiny@{GOOD}"
    assert main(["torchhub", "pull", ref, "--register-as", "cli-tiny", "--features", "a,b,c"]) == 2
    assert "no operator admitted it" in capsys.readouterr().err
    assert main(["torchhub", "admit", f"acme/tinyhub@{GOOD}"]) == 0
    assert digest in capsys.readouterr().out
    assert main(["torchhub", "pull", ref, "--register-as", "cli-tiny", "--features", "a,b,c"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["registered"] == "cli-tiny@1" and out["archive_sha256"] == digest
    from mlgate.config import Settings
    from mlgate.state.db import StateDB

    rows = StateDB(Settings(home=tmp_path).state).tail(10)  # each operator action left its row
    assert [(r.tool, r.outcome, r.transport) for r in rows] == [
        ("torchhub.pull", "error", "cli"),
        ("torchhub.admit", "ok", "cli"),
        ("torchhub.pull", "ok", "cli"),
    ]
