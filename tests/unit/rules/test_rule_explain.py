"""Explanations mirror the rule, carry each node's verdict and show the facts behind each leaf."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from rule_helpers import LONDON, NOW, leaf, orders, parse, segments, view


def test_explain_mirrors_the_rule_with_paths_and_verdicts() -> None:
    # Given a rule with a group inside a group and a negation
    rule = parse(
        {
            "all": [
                leaf("country", "eq", "gb"),
                {"any": [leaf("total_spent", "gte", 100), {"not": leaf("tags", "contains", "vip")}]},
            ]
        }
    )
    customer = view({"country": "GB", "total_spent": 50, "tags": ["VIP"]})
    # When it is explained
    explanation = rule.explain(customer, NOW, LONDON)
    # Then every node has its path and verdict, and leaves show the condition and the actual value
    assert explanation["path"] == "$"
    assert explanation["verdict"] is False
    first, second = explanation["all"]
    assert first == {
        "path": "$.all[0]",
        "verdict": True,
        "condition": {"attr": "country", "op": "eq", "value": "gb"},
        "actual": "GB",
    }
    assert second["path"] == "$.all[1]"
    assert second["verdict"] is False
    spent, negation = second["any"]
    assert (spent["path"], spent["verdict"], spent["actual"]) == ("$.all[1].any[0]", False, 50)
    assert negation["path"] == "$.all[1].any[1]"
    assert negation["verdict"] is False
    assert negation["not"]["path"] == "$.all[1].any[1].not"
    assert negation["not"]["verdict"] is True
    assert negation["not"]["actual"] == ["VIP"]


def test_explain_verdict_matches_evaluate() -> None:
    rule = parse({"any": [leaf("total_spent", "gte", 100), leaf("country", "in", ["DE", "FR"])]})
    for attributes in ({"total_spent": 150}, {"country": "fr"}, {}, {"total_spent": None, "country": "GB"}):
        customer = view(attributes)
        assert rule.explain(customer, NOW, LONDON)["verdict"] is rule.evaluate(customer, NOW, LONDON)


def test_explain_shows_missing_values_as_null() -> None:
    explanation = parse(leaf("region", "neq", "Kent")).explain(view({}), NOW, LONDON)
    assert explanation["verdict"] is False
    assert explanation["actual"] is None


def test_explain_values_are_json_serialisable() -> None:
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    rule = parse({"all": [leaf("last_order_at", "within_last_days", 30), leaf("birth_date", "before", "2000-01-01")]})
    explanation = rule.explain(view({"last_order_at": at, "birth_date": date(1990, 5, 17)}), NOW, LONDON)
    json.dumps(explanation)
    assert explanation["all"][0]["actual"] == "2026-03-01T09:30:00+00:00"
    assert explanation["all"][1]["actual"] == "1990-05-17"


def test_explain_behaviour_shows_the_matched_count_and_aggregate() -> None:
    history = orders(
        (NOW - timedelta(days=5), {"total": 30.0}),
        (NOW - timedelta(days=10), {"total": 20.0}),
        (NOW - timedelta(days=100), {"total": 99.0}),
    )
    rule = parse({"event": "order_completed", "within_last_days": 30, "sum": "total", "op": "gte", "value": 60})
    explanation = rule.explain(view({}, history), NOW, LONDON)
    assert explanation["verdict"] is False
    assert explanation["condition"] == {
        "event": "order_completed",
        "within_last_days": 30,
        "sum": "total",
        "op": "gte",
        "value": 60,
    }
    assert explanation["actual"]["count"] == 2
    assert explanation["actual"]["sum"] == 50.0
    assert explanation["actual"]["since"] == "2026-02-13T12:00:00+00:00"
    json.dumps(explanation)


def test_explain_behaviour_default_count() -> None:
    explanation = parse({"event": "order_completed"}).explain(view({}, {}), NOW, LONDON)
    assert explanation["verdict"] is False
    assert explanation["actual"] == {"count": 0}
    assert explanation["condition"]["count"] == {"op": "gte", "value": 1}


def test_explain_follows_segment_references() -> None:
    lookup = segments(vip=leaf("total_spent", "gte", 500))
    rule = parse({"all": [{"in_segment": "vip"}]}, segment_lookup=lookup)
    explanation = rule.explain(view({"total_spent": 700}), NOW, LONDON)
    reference = explanation["all"][0]
    assert reference["path"] == "$.all[0]"
    assert reference["verdict"] is True
    assert reference["condition"] == {"in_segment": "vip"}
    assert reference["actual"] is True
    assert reference["segment"]["id"] == "vip"
    assert reference["segment"]["explanation"]["actual"] == 700
