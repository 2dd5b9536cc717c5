"""Behaviour conditions (counts and aggregates over events) and segment references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rule_helpers import NEW_YORK, NOW, holds, leaf, orders, segments

from segmentation.features.compute import EventFact


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


HISTORY = orders(
    (days_ago(200), {"total": 40.0, "categories": ["essential_oils"], "refunded": False}),
    (days_ago(60), {"total": 60.0, "categories": ["Candles", "essential_oils"], "refunded": False}),
    (days_ago(10), {"total": 100.0, "categories": ["diffusers"], "refunded": True}),
    (days_ago(-1), {"total": 500.0, "categories": ["candles"], "refunded": False}),  # after now: not seen yet
)


def test_behaviour_without_count_means_at_least_once() -> None:
    assert holds({"event": "order_completed"}, {}, HISTORY) is True
    assert holds({"event": "order_completed"}, {}, {}) is False
    assert holds({"event": "email_opened"}, {}, HISTORY) is False


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        ({"op": "gte", "value": 3}, True),
        ({"op": "gte", "value": 4}, False),  # the future order is ignored
        ({"op": "eq", "value": 3}, True),
        ({"op": "gt", "value": 2}, True),
        ({"op": "gt", "value": 3}, False),
        ({"op": "lt", "value": 3}, False),
        ({"op": "lte", "value": 3}, True),
        ({"op": "neq", "value": 0}, True),
        ({"op": "between", "value": [2, 3]}, True),
    ],
)
def test_behaviour_counts(count: dict[str, Any], expected: bool) -> None:
    assert holds({"event": "order_completed", "count": count}, {}, HISTORY) is expected


def test_never_did_it_is_a_count_of_zero() -> None:
    never = {"event": "order_completed", "within_last_days": 5, "count": {"op": "eq", "value": 0}}
    assert holds(never, {}, HISTORY) is True
    assert holds(never, {}, {}) is True


def test_behaviour_window_is_inclusive_and_ignores_the_future() -> None:
    rule = {"event": "order_completed", "within_last_days": 60}
    assert holds(rule, {}, orders((days_ago(60), {"total": 1.0}))) is True
    assert holds(rule, {}, orders((days_ago(60) - timedelta(seconds=1), {"total": 1.0}))) is False
    assert holds(rule, {}, orders((NOW, {"total": 1.0}))) is True
    assert holds(rule, {}, orders((NOW + timedelta(seconds=1), {"total": 1.0}))) is False


def test_behaviour_window_follows_the_shop_time_zone() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 EDT, two days after the clocks went forward
    rule = {"event": "order_completed", "within_last_days": 7}
    inside = orders((datetime(2026, 3, 3, 13, 0, tzinfo=UTC), {"total": 1.0}))  # 08:00 EST
    outside = orders((datetime(2026, 3, 3, 12, 59, tzinfo=UTC), {"total": 1.0}))
    assert holds(rule, {}, inside, now=now, tz=NEW_YORK) is True
    assert holds(rule, {}, outside, now=now, tz=NEW_YORK) is False


def test_where_filters_events_by_their_properties() -> None:
    candles = {"attr": "categories", "op": "contains", "value": "candles"}
    assert holds({"event": "order_completed", "where": candles}, {}, HISTORY) is True  # "Candles" 60 days ago
    assert holds({"event": "order_completed", "where": candles, "within_last_days": 30}, {}, HISTORY) is False
    big_unrefunded = {
        "all": [{"attr": "total", "op": "gte", "value": 50}, {"attr": "refunded", "op": "eq", "value": False}]
    }
    rule = {"event": "order_completed", "where": big_unrefunded, "count": {"op": "eq", "value": 1}}
    assert holds(rule, {}, HISTORY) is True


@pytest.mark.parametrize(
    ("aggregate", "op", "value", "expected"),
    [
        ("sum", "eq", 200.0, True),
        ("sum", "gt", 200.0, False),
        ("avg", "between", [66.6, 66.7], True),
        ("min", "eq", 40.0, True),
        ("max", "eq", 100.0, True),
        ("max", "lt", 100.0, False),
    ],
)
def test_aggregates_over_the_matched_events(aggregate: str, op: str, value: Any, expected: bool) -> None:
    rule = {"event": "order_completed", aggregate: "total", "op": op, "value": value}
    assert holds(rule, {}, HISTORY) is expected


def test_sum_over_no_events_is_zero() -> None:
    rule = {"event": "order_completed", "within_last_days": 5, "sum": "total", "op": "eq", "value": 0}
    assert holds(rule, {}, HISTORY) is True
    assert holds(rule, {}, {}) is True
    assert holds({**rule, "op": "lt", "value": 10}, {}, {}) is True


@pytest.mark.parametrize("aggregate", ["avg", "min", "max"])
@pytest.mark.parametrize(("op", "value"), [("eq", 0), ("neq", 0), ("lt", 10), ("gte", 0), ("between", [0, 1])])
def test_avg_min_max_over_no_events_are_missing(aggregate: str, op: str, value: Any) -> None:
    rule = {"event": "order_completed", "within_last_days": 5, aggregate: "total", "op": op, "value": value}
    assert holds(rule, {}, HISTORY) is False
    assert holds({"not": rule}, {}, HISTORY) is True


def test_aggregate_skips_events_without_a_numeric_value() -> None:
    history = orders((days_ago(1), {"total": 10.0}), (days_ago(2), {"total": None}), (days_ago(3), {"total": True}))
    assert holds({"event": "order_completed", "avg": "total", "op": "eq", "value": 10.0}, {}, history) is True
    assert holds({"event": "order_completed", "sum": "total", "op": "eq", "value": 10.0}, {}, history) is True


def test_count_and_aggregate_together_must_both_hold() -> None:
    rule = {
        "event": "order_completed",
        "count": {"op": "gte", "value": 3},
        "sum": "total",
        "op": "gte",
        "value": 150,
    }
    assert holds(rule, {}, HISTORY) is True
    assert holds({**rule, "count": {"op": "gte", "value": 4}}, {}, HISTORY) is False


def test_behaviour_and_attributes_in_one_rule() -> None:
    rule = {"all": [leaf("country", "eq", "gb"), {"event": "order_completed", "within_last_days": 30}]}
    assert holds(rule, {"country": "GB"}, HISTORY) is True
    assert holds(rule, {"country": "DE"}, HISTORY) is False


def test_other_event_kinds() -> None:
    opened = {"email_opened": [EventFact(days_ago(1), {"campaign": "Spring-Sale"})]}
    rule = {"event": "email_opened", "where": {"attr": "campaign", "op": "starts_with", "value": "spring"}}
    assert holds(rule, {}, opened) is True


# -- segment references --------------------------------------------------------------------------------------

LOOKUP = segments(
    vip={"attr": "total_spent", "op": "gte", "value": 500},
    uk_vip={"all": [{"in_segment": "vip"}, {"attr": "country", "op": "eq", "value": "GB"}]},
    recent={"event": "order_completed", "within_last_days": 30},
)


def test_in_segment_evaluates_the_referenced_rule_inline() -> None:
    assert holds({"in_segment": "uk_vip"}, {"total_spent": 600, "country": "gb"}, segment_lookup=LOOKUP) is True
    assert holds({"in_segment": "uk_vip"}, {"total_spent": 400, "country": "gb"}, segment_lookup=LOOKUP) is False
    assert holds({"not": {"in_segment": "vip"}}, {}, segment_lookup=LOOKUP) is True


def test_in_segment_uses_the_same_now() -> None:
    rule = {"in_segment": "recent"}
    history = orders((datetime(2020, 1, 1, tzinfo=UTC), {"total": 1.0}))
    assert holds(rule, {}, history, now=datetime(2020, 1, 20, tzinfo=UTC), segment_lookup=LOOKUP) is True
    assert holds(rule, {}, history, now=datetime(2020, 3, 1, tzinfo=UTC), segment_lookup=LOOKUP) is False


def test_a_segment_referenced_twice_is_parsed_once() -> None:
    calls: list[str] = []

    def lookup(segment_id: str) -> dict[str, Any] | None:
        calls.append(segment_id)
        return LOOKUP(segment_id)

    rule = {"any": [{"in_segment": "uk_vip"}, {"in_segment": "vip"}, {"in_segment": "vip"}]}
    assert holds(rule, {"total_spent": 600}, segment_lookup=lookup) is True
    assert sorted(calls) == ["uk_vip", "vip"]
