from __future__ import annotations

import pytest

from mlgate.errors import InvalidReference
from mlgate.models.ref import ModelRef, parse_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("demo@3", ModelRef("demo", version=3)),
        ("models:/demo/3", ModelRef("demo", version=3)),
        ("demo@production", ModelRef("demo", alias="production")),
        ("team.model-v2_x@12", ModelRef("team.model-v2_x", version=12)),
        (
            "hf:org/repo@0123456789abcdef0123456789abcdef01234567",
            ModelRef("org/repo", alias="0123456789abcdef0123456789abcdef01234567", source="hf"),
        ),
    ],
)
def test_parses(text: str, expected: ModelRef) -> None:
    ref = parse_ref(text)
    assert ref == expected
    assert hash(ref) == hash(expected)
    assert parse_ref(str(ref)) == ref


def test_frozen() -> None:
    ref = parse_ref("demo@3")
    with pytest.raises(AttributeError):
        ref.version = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("demo", "does not pin a version"),
        ("demo@latest", "does not pin a version"),
        ("demo@LATEST", "does not pin a version"),
        ("models:/demo", "not of the form"),
        ("models:/a/b/3", "not of the form"),
        ("a/b@3", "path separator"),
        ("a\\b@3", "path separator"),
        ("..@3", "path separator"),
        ("demo\n@3", "control characters"),
        ("d" * 129 + "@3", "at most 128"),
        ("demo@0", "out of range"),
        ("demo@in valid", "neither a version number nor a valid alias"),
        ("@3", "empty model name"),
        ("hf:org/repo", "has no revision"),
        ("hf:../../etc@abc", "not a Hub repository id"),
    ],
)
def test_refuses(text: str, needle: str) -> None:
    with pytest.raises(InvalidReference, match=needle.replace("(", r"\(")):
        parse_ref(text)


def test_latest_when_allowed() -> None:
    assert parse_ref("demo", allow_latest=True) == ModelRef("demo", alias="latest")
    assert parse_ref("demo@latest", allow_latest=True) == ModelRef("demo", alias="latest")
