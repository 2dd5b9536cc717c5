"""What a rule depends on (so only affected segments are re-evaluated), and its normalised, immutable form."""

from __future__ import annotations

import pytest
from rule_helpers import leaf, parse, segments

from segmentation.rules import Rule

LOOKUP = segments(
    vip=leaf("total_spent", "gte", 500),
    active={"any": [{"in_segment": "vip"}, {"event": "email_opened", "within_last_days": 30}]},
)


def test_rule_lists_attributes_events_and_segments_transitively() -> None:
    rule = parse(
        {
            "all": [
                leaf("country", "eq", "GB"),
                leaf("custom.tier", "eq", "gold"),
                {"event": "order_completed", "where": leaf("total", "gt", 5)},
                {"in_segment": "active"},
            ]
        },
        segment_lookup=LOOKUP,
    )
    assert rule.attributes == frozenset({"country", "custom.tier", "total_spent"})  # not the event property
    assert rule.events == frozenset({"order_completed", "email_opened"})
    assert rule.segments == frozenset({"active", "vip"})


@pytest.mark.parametrize(
    ("tree", "time_relative"),
    [
        (leaf("country", "eq", "GB"), False),
        (leaf("days_since_last_order", "gt", 90), True),  # a time-relative attribute
        (leaf("age", "gte", 18), True),
        (leaf("last_order_at", "within_last_days", 30), True),  # a relative operator
        (leaf("last_order_at", "more_than_days_ago", 30), True),
        (leaf("last_order_at", "before", "2026-01-01"), False),  # a fixed date does not move
        ({"event": "order_completed"}, False),
        ({"event": "order_completed", "within_last_days": 30}, True),  # a window
        ({"not": {"in_segment": "active"}}, True),  # through a reference
        ({"in_segment": "vip"}, False),
    ],
)
def test_time_relative(tree: dict[str, object], time_relative: bool) -> None:
    assert parse(tree, segment_lookup=LOOKUP).time_relative is time_relative


def test_depends_on_changed_attributes_and_events() -> None:
    rule = parse(
        {"all": [leaf("country", "eq", "GB"), leaf("custom.tier", "eq", "gold"), {"in_segment": "active"}]},
        segment_lookup=LOOKUP,
    )
    assert rule.depends_on({"country"}, set()) is True
    assert rule.depends_on({"total_spent"}, set()) is True  # through vip
    assert rule.depends_on(set(), {"email_opened"}) is True
    assert rule.depends_on({"custom.*"}, set()) is True  # any custom attribute changed
    assert rule.depends_on({"custom.colour", "city"}, {"order_completed"}) is False
    assert rule.depends_on(set(), set()) is False


def test_tree_is_normalised_and_defaults_are_explicit() -> None:
    rule = parse(
        {"all": [{"within_last_days": 30, "event": "order_completed"}, {"value": 1, "op": "gt", "attr": "age"}]}
    )
    assert rule.tree == {
        "all": [
            {"event": "order_completed", "within_last_days": 30, "count": {"op": "gte", "value": 1}},
            {"attr": "age", "op": "gt", "value": 1},
        ]
    }


def test_normalised_tree_parses_to_the_same_tree() -> None:
    rule = parse(
        {"event": "order_completed", "where": {"not": leaf("total", "gt", 5)}, "avg": "total", "op": "gt", "value": 1}
    )
    assert parse(rule.tree).tree == rule.tree


def test_rule_is_immutable() -> None:
    rule = parse(leaf("tags", "in", ["vip"]))
    with pytest.raises(AttributeError):
        rule.attributes = frozenset()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rule._tree = {}  # type: ignore[misc]
    rule.tree["attr"] = "changed"
    rule.tree["value"].append("x")
    assert rule.tree == {"attr": "tags", "op": "in", "value": ["vip"]}
    assert isinstance(rule, Rule)
    assert "tags" in repr(rule)
