"""Static API keys: hashed at rest, constant-time compared, reloaded on change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlgate.auth.apikeys import ApiKeyVerifier, generate_api_key, hash_api_key, load_api_keys
from mlgate.errors import ConfigError
from tests._support.auth import RESOURCE

pytestmark = pytest.mark.anyio


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_good_and_bad_keys(tmp_path: Path) -> None:
    key, line = generate_api_key("ci-bot", ["ml:read", "ml:infer"], name="nightly CI")
    assert key.startswith("mlgk_") and key not in line
    assert json.loads(line)["sha256"] == hash_api_key(key)
    path = write(tmp_path / "keys.jsonl", "# comment", "", line)
    verifier = ApiKeyVerifier(path, audience=RESOURCE)
    access = await verifier.verify_token(key)
    assert access is not None
    assert access.client_id == "ci-bot"
    assert access.subject == "apikey:ci-bot"
    assert access.scopes == ["ml:read", "ml:infer"]
    assert access.resource == RESOURCE
    assert access.claims is not None and access.claims["key_name"] == "nightly CI"
    assert await verifier.verify_token(key + "x") is None
    assert await verifier.verify_token(hash_api_key(key)) is None, "the stored hash is not a key"
    assert await verifier.verify_token("") is None


async def test_scopes_as_a_string_and_several_keys(tmp_path: Path) -> None:
    one, line_one = generate_api_key("one", ["ml:read"])
    two = "a-key-someone-chose"
    line_two = json.dumps({"id": "two", "sha256": hash_api_key(two), "scopes": "ml:halt ml:read"})
    verifier = ApiKeyVerifier(write(tmp_path / "k", line_one, line_two), audience=RESOURCE)
    first, second = await verifier.verify_token(one), await verifier.verify_token(two)
    assert first is not None and first.client_id == "one"
    assert second is not None and second.scopes == ["ml:halt", "ml:read"]


async def test_removing_a_line_revokes_without_restart(tmp_path: Path) -> None:
    key, line = generate_api_key("ci", ["ml:read"])
    other, other_line = generate_api_key("other", ["ml:read"])
    path = write(tmp_path / "k", line, other_line)
    verifier = ApiKeyVerifier(path, audience=RESOURCE)
    assert await verifier.verify_token(key) is not None
    write(path, other_line, "# ci revoked")
    os.utime(path, ns=(1, 1))  # make sure the stamp changes even on coarse clocks
    assert await verifier.verify_token(key) is None
    assert await verifier.verify_token(other) is not None


async def test_file_broken_after_start_refuses_every_key(tmp_path: Path) -> None:
    key, line = generate_api_key("ci", ["ml:read"])
    path = write(tmp_path / "k", line)
    verifier = ApiKeyVerifier(path, audience=RESOURCE)
    write(path, line, "{oops")
    assert await verifier.verify_token(key) is None
    path.unlink()
    assert await verifier.verify_token(key) is None


@pytest.mark.parametrize(
    "line",
    [
        "{oops",
        "[]",
        '{"sha256": "' + "0" * 64 + '", "scopes": ["ml:read"]}',
        '{"id": "x", "sha256": "abc", "scopes": ["ml:read"]}',
        '{"id": "x", "key": "plaintext", "scopes": ["ml:read"]}',
        '{"id": "x", "sha256": "' + "0" * 64 + '", "scopes": []}',
        '{"id": "x", "sha256": "' + "0" * 64 + '", "scopes": ["ml:everything"]}',
        '{"id": "x", "sha256": "' + "0" * 64 + '", "scopes": ["ml:read"], "name": 3}',
    ],
)
def test_bad_files_refuse_to_start(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError):
        ApiKeyVerifier(write(tmp_path / "k", line), audience=RESOURCE)


def test_duplicate_ids_refused(tmp_path: Path) -> None:
    _, line = generate_api_key("same", ["ml:read"])
    _, again = generate_api_key("same", ["ml:infer"])
    with pytest.raises(ConfigError, match="duplicate"):
        load_api_keys(write(tmp_path / "k", line, again))
