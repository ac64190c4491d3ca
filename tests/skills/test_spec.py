"""Spec checks at load: every refusal names what is wrong. No registry needed."""

from __future__ import annotations

import pytest

from mlgate.errors import Refused
from mlgate.skills.catalog import BUILTIN_DIR
from mlgate.skills.spec import parse_spec

BASE = """
name: s
version: 1
description: test
inputs:
  rows: {type: records}
  texts: {type: texts}
steps:
  - {id: a, call: classify, model: demo-regime@1, args: {features: $inputs.rows}}
  - {id: b, call: predict, model: demo-alpha-bull@1, args: {features: $inputs.rows}}
outputs:
  label: $a.labels.0
  values: $b.predictions
"""


def refused(text: str) -> str:
    with pytest.raises(Refused) as caught:
        parse_spec(text.encode(), "test.yaml")
    return str(caught.value)


def test_the_base_spec_and_the_builtins_load() -> None:
    spec = parse_spec(BASE.encode(), "base.yaml")
    assert spec.ref == "s@1" and [s.id for s in spec.ordered_steps()] == ["a", "b"]
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        assert parse_spec(path.read_bytes(), path.name).description


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            "demo-regime@1",
            "demo-regime@production",
            "step 'a': model 'demo-regime@production' is the alias 'production', which can move",
        ),
        (
            "demo-regime@1",
            "demo-regime@latest",
            "step 'a': model 'demo-regime@latest' is 'latest', which floats",
        ),
        ("demo-regime@1", "demo-regime", "step 'a': model 'demo-regime' is a bare name, which floats"),
        ("demo-regime@1", "models:/demo-regime/latest", "is 'latest', which floats"),
        ("demo-regime@1", "hf:org/repo@main", "names a Hub revision that is not a 40-character commit hash"),
        ("demo-regime@1", "../x@1", "is not a valid reference"),
        (
            "call: predict",
            "call: predikt",
            "step 'b': unknown interface 'predikt' (known: predict, classify, forecast, segment, analyze)",
        ),
        (
            "$inputs.rows}}\noutputs",
            "$inputs.nope}}\noutputs",
            "step 'b' argument 'features': $inputs.nope names no declared input (inputs: rows, texts)",
        ),
        ("$inputs.rows}}\noutputs", "$c.labels}}\noutputs", "$c.labels names no input or step"),
        (
            "$inputs.rows}}\noutputs",
            "$a.label}}\noutputs",
            "$a.label: a classify result has no field 'label' (fields: model, labels, probabilities",
        ),
        (
            "$inputs.rows}}\noutputs",
            "$inputs.texts}}\noutputs",
            "$inputs.texts is of type texts, but the argument takes records",
        ),
        (
            "{features: $inputs.rows}}\noutputs",
            "{features: $inputs.rows, horizon: 3}}\noutputs",
            "step 'b' (predict): unknown argument 'horizon' (takes: features)",
        ),
        (
            "{features: $inputs.rows}}\noutputs",
            "{}}\noutputs",
            "step 'b' (predict): argument 'features' is missing",
        ),
        (
            "values: $b.predictions",
            "values: b.predictions",
            "output 'values': 'b.predictions' must be a binding",
        ),
        ("values: $b.predictions", "values: $b.predictions.x-y", "'x-y' is neither a key nor a list index"),
        ("id: b,", "id: a,", "step id 'a' is used more than once"),
        ("version: 1", "version: '1'", "version: Input should be a valid integer"),
        ("version: 1", "version: 0", "version: Input should be greater than or equal to 1"),
        ("name: s", "name: S/x", "name: String should match pattern"),
        ("description: test", "description: test\ncolour: blue", "colour: Extra inputs are not permitted"),
        ("texts: {type: texts}", "texts: {type: text}", "inputs.texts.type: Input should be 'records'"),
        ("texts: {type: texts}", "texts: {type: texts, default: 3}", "input 'texts': default is not texts"),
    ],
)
def test_refused_at_load_with_a_precise_message(old: str, new: str, needle: str) -> None:
    assert old in BASE
    message = refused(BASE.replace(old, new, 1))
    assert "skill spec test.yaml is invalid" in message and needle in message, message


def test_cycles_are_refused() -> None:
    text = BASE.replace(
        "{features: $inputs.rows}}\n  - {id: b", "{features: $b.predictions}}\n  - {id: b"
    ).replace("{features: $inputs.rows}}\noutputs", "{features: $a.labels}}\noutputs")
    assert "the steps form a cycle: a → b → a" in refused(text)
    self_loop = BASE.replace("{features: $inputs.rows}}\noutputs", "{features: $b.model}}\noutputs")
    assert "the steps form a cycle: b → b" in refused(self_loop)


def test_dependency_order_not_file_order() -> None:
    text = BASE.replace(
        "- {id: a, call: classify, model: demo-regime@1, args: {features: $inputs.rows}}\n  "
        "- {id: b, call: predict, model: demo-alpha-bull@1, args: {features: $inputs.rows}}",
        "- {id: b, call: predict, model: demo-alpha-bull@1, args: {features: [$a.probabilities.0]}}\n"
        "  - {id: a, call: classify, model: demo-regime@1, args: {features: $inputs.rows}}",
    )
    assert [s.id for s in parse_spec(text.encode(), "x").ordered_steps()] == ["a", "b"]


def test_route_maps_must_pin_every_choice_and_route_on_a_binding() -> None:
    route = (
        "model:\n      route: $a.labels.0\n      map: {bull: demo-alpha-bull@1, bear: demo-alpha-bear@%s}\n"
        "      default: %s\n    args: {features: $inputs.rows}"
    )
    text = BASE.replace(
        "- {id: b, call: predict, model: demo-alpha-bull@1, args: {features: $inputs.rows}}",
        "- id: b\n    call: predict\n    " + route,
    )
    assert parse_spec((text % ("1", "demo-alpha-bull@1")).encode(), "x").steps[1].refs() == [
        "demo-alpha-bull@1",
        "demo-alpha-bear@1",
        "demo-alpha-bull@1",
    ]
    assert "model 'demo-alpha-bear@staging' is the alias 'staging'" in refused(
        text % ("staging", "demo-alpha-bull@1")
    )
    assert "model 'demo-alpha-bull@latest' is 'latest'" in refused(text % ("1", "demo-alpha-bull@latest"))
    assert "route 'bull' must be a binding" in refused(
        (text % ("1", "null")).replace("route: $a.labels.0", "route: bull")
    )
    assert "$z.labels.0 names no input or step" in refused(
        (text % ("1", "null")).replace("$a.labels.0", "$z.labels.0")
    )


def test_not_yaml_not_a_mapping_too_big_and_bad_examples() -> None:
    assert "not valid UTF-8 YAML" in refused("name: [unclosed")
    assert "the top level must be a mapping" in refused("- a\n- b\n")
    assert "more than the limit" in refused(BASE + "#" * 70_000)
    assert "example.rows: Field required" in refused(BASE + "example: {texts: [hi]}\n")
    assert "example.rows.0: Input should be a valid dictionary" in refused(
        BASE + "example: {rows: [1], texts: [a]}\n"
    )


def test_the_example_in_the_docs_is_a_valid_spec() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "skills.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert block is not None
    spec = parse_spec(block.group(1).encode(), "docs/skills.md")
    assert spec.ref == "desk_alpha@1" and [s.id for s in spec.ordered_steps()] == ["regime", "alpha"]
