"""docs/rule-language.md stays true: its catalogue table is the catalogue, and its examples are valid rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from segmentation.features.catalogue import ATTRIBUTES, EVENT_PROPERTIES
from segmentation.rules import OPERATORS, validate_rule

DOC = Path(__file__).resolve().parents[3] / "docs" / "rule-language.md"
RULE_KEYS = {"all", "any", "not", "attr", "event", "in_segment"}


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def test_catalogue_table_matches_the_catalogue() -> None:
    rows = _table_rows(_section("The attribute catalogue"))
    documented = [(name.strip("`"), kind, group, changes == "yes", text) for name, kind, group, changes, text in rows]
    expected = [(a.name, a.type.value, a.group, a.time_relative, a.description) for a in ATTRIBUTES]
    assert documented == expected


def test_event_properties_table_matches_the_catalogue() -> None:
    words = {"string": "text", "number": "number", "string_list": "text list", "boolean": "true/false"}
    rows = _table_rows(_section("Behaviour conditions").split("### Event properties")[1])
    documented = {event.strip("`"): props for event, props in rows}
    expected = {
        event: ", ".join(f"`{name}` ({words[kind.value]})" for name, kind in props.items())
        for event, props in EVENT_PROPERTIES.items()
    }
    assert documented == expected


def test_every_operator_is_documented_with_an_example() -> None:
    operators = _section("Attribute conditions")
    for op in OPERATORS:
        assert re.search(rf"\| [^|]*`{op}`", operators), f"{op} missing from the operator table"
        assert f'"op": "{op}"' in operators, f"{op} has no example"


def _json_values(block: str) -> list[Any]:
    decoder = json.JSONDecoder()
    values, index = [], 0
    while index < len(block):
        if block[index].isspace():
            index += 1
            continue
        value, index = decoder.raw_decode(block, index)
        values.append(value)
    return values


def test_documented_examples_are_valid_rules() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    rules = [value for block in blocks for value in _json_values(block) if set(value) & RULE_KEYS]
    assert len(rules) > 30

    def any_segment(segment_id: str) -> dict[str, Any]:
        return {"attr": "total_spent", "op": "gte", "value": 500}

    for rule in rules:
        assert validate_rule(rule, segment_lookup=any_segment) == [], rule
