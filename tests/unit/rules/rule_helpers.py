"""Shared builders for the rule-language tests: a clock, customer views and one-line evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from segmentation.features.compute import CustomerView, EventFact
from segmentation.rules import Rule, parse_rule

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def view(attributes: dict[str, Any] | None = None, events: dict[str, list[EventFact]] | None = None) -> CustomerView:
    return CustomerView("c1", dict(attributes or {}), dict(events or {}))


def holds(
    tree: dict[str, Any],
    attributes: dict[str, Any] | None = None,
    events: dict[str, list[EventFact]] | None = None,
    *,
    now: datetime = NOW,
    tz: tzinfo = LONDON,
    **parse_options: Any,
) -> bool:
    """Parse ``tree`` and evaluate it for one customer."""
    return parse_rule(tree, **parse_options).evaluate(view(attributes, events), now, tz)


def leaf(attr: str, op: str, value: Any = None, *, no_value: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"attr": attr, "op": op}
    if not no_value and op not in ("exists", "not_exists"):
        node["value"] = value
    return node


def orders(*facts: tuple[datetime, dict[str, Any]]) -> dict[str, list[EventFact]]:
    return {"order_completed": [EventFact(at, props) for at, props in facts]}


def segments(**trees: dict[str, Any]) -> Any:
    """A segment lookup over in-memory trees, keyed by id."""
    return trees.get


def parse(tree: dict[str, Any], **options: Any) -> Rule:
    return parse_rule(tree, **options)
