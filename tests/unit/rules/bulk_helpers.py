"""The bulk evaluator (it lives with its function, as Lambda packages it) and a per-customer oracle to check it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from segmentation.features.compute import CustomerView, EventFact
from segmentation.rules import Rule

_MODULE = Path(__file__).resolve().parents[3] / "functions" / "segment_refresh" / "bulk_evaluator.py"


def _load() -> ModuleType:
    found = sys.modules.get("bulk_evaluator")
    if found is not None:
        return found
    spec = importlib.util.spec_from_file_location("bulk_evaluator", _MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bulk_evaluator"] = module
    spec.loader.exec_module(module)
    return module


bulk = _load()
BulkEvaluator = bulk.BulkEvaluator


def views_of(people: Sequence[tuple[dict[str, Any], dict[str, list[EventFact]]]]) -> list[CustomerView]:
    return [CustomerView(f"c{n}", dict(attributes), dict(events)) for n, (attributes, events) in enumerate(people)]


def per_customer(rules: Mapping[str, Rule], views: Sequence[CustomerView], now: datetime, tz: tzinfo) -> Any:
    """What ``Rule.evaluate`` says for every (segment, customer): the members, or the exception it raises."""
    try:
        return {
            segment_id: {view.customer_id for view in views if rule.evaluate(view, now, tz)}
            for segment_id, rule in rules.items()
        }
    except Exception as exc:
        return exc


def assert_agrees(rules: Mapping[str, Rule], views: Sequence[CustomerView], now: datetime, tz: Any) -> None:
    """The bulk evaluator finds exactly the members ``Rule.evaluate`` finds (or raises what it raises)."""
    expected = per_customer(rules, views, now, tz)
    evaluator = BulkEvaluator(rules, now, tz)
    if isinstance(expected, Exception):
        with pytest.raises(type(expected)):
            evaluator.evaluate(views)
        return
    got = evaluator.evaluate(views)
    assert got == expected, _explain(rules, views, got, expected)


def _explain(rules: Mapping[str, Rule], views: Sequence[CustomerView], got: Any, expected: Any) -> str:
    lines = []
    for segment_id, rule in rules.items():
        if got[segment_id] != expected[segment_id]:
            lines.append(
                f"{segment_id} {rule.tree}: bulk {sorted(got[segment_id])} per customer {sorted(expected[segment_id])}"
            )
    lines += [f"{view.customer_id}: {view.attributes} {view.events}" for view in views]
    return "\n".join(lines)
