"""docs/settings.md is generated from the Settings field descriptions: the two never disagree."""

from __future__ import annotations

from pathlib import Path

from mlgate.config import Settings, settings_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_described() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert not missing, f"give these settings a description in config.py: {missing}"


def test_the_settings_page_is_generated_from_the_descriptions() -> None:
    assert DOC.read_text(encoding="utf-8") == settings_table(), (
        "run `make settings-doc` and commit docs/settings.md"
    )
    for name in Settings.model_fields:
        assert f"`MLGATE_{name.upper()}`" in DOC.read_text(encoding="utf-8")
