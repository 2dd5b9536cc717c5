"""Targeted cases for the bulk evaluator: every operator at its edges, exceptional values, fallback rules,
segment references and streaming input. Each case states the expected verdict and checks that the bulk
evaluator and ``Rule.evaluate`` both give it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bulk_helpers import BulkEvaluator, assert_agrees, bulk
from rule_helpers import LONDON, NEW_YORK, NOW, leaf, orders, parse, segments

from segmentation.features.compute import CustomerView, EventFact, window_start
from segmentation.rules import Rule


def verdicts(tree: dict[str, Any], stored: list[Any], name: str, *, tz: Any = LONDON) -> list[bool]:
    """The bulk verdict for one customer per stored value of ``name`` (absent when the value is ``...``)."""
    views = [CustomerView(f"c{n}", {} if value is ... else {name: value}, {}) for n, value in enumerate(stored)]
    rules = {"s": parse(tree)}
    assert_agrees(rules, views, NOW, tz)
    members = BulkEvaluator(rules, NOW, tz).evaluate(views)["s"]
    return [f"c{n}" in members for n in range(len(stored))]


MISSING = [..., None]

# (condition, [(stored value, expected verdict), ...]); ``...`` is an absent attribute.
CASES: list[tuple[dict[str, Any], list[tuple[Any, bool]]]] = [
    (
        leaf("country", "eq", "GB"),
        [("gb", True), ("GB", True), ("GBR", False), (5, False), (..., False), (None, False)],
    ),
    (leaf("country", "neq", "GB"), [("FR", True), ("gB", False), (..., False), (None, False), (1, False)]),
    (leaf("region", "eq", "STRASSE"), [("straße", True), ("Strasse", True), ("strase", False)]),
    (leaf("region", "eq", "ﬁle"), [("FILE", True), ("file", True)]),
    (
        leaf("region", "eq", "\u03a3\u0391\u03a3"),
        [("\u03c3\u03b1\u03c2", True), ("\u03c3\u03b1\u03c3", True)],
    ),  # final sigma
    (leaf("region", "in", ["STRASSE", "ﬁ"]), [("straße", True), ("FI", True), ("strase", False)]),
    (leaf("tags", "in", ["STRASSE"]), [(["straße"], True), (["strase"], False)]),
    (leaf("custom.tier", "in", ["STRASSE"]), [("straße", True), (["Straße"], True)]),
    (leaf("region", "in", ["Kent", "ESSEX"]), [("kent", True), ("essex", True), ("sussex", False), (..., False)]),
    (leaf("region", "not_in", ["Kent"]), [("Essex", True), ("KENT", False), (..., False), (None, False), (3, False)]),
    (leaf("email_domain", "contains", "YAHOO"), [("mail.yahoo.com", True), ("gmail.com", False), (..., False)]),
    (leaf("email_domain", "contains", ""), [("", True), ("x", True), (..., False)]),
    (leaf("email_domain", "not_contains", "yahoo"), [("gmail.com", True), ("yahoo.fr", False), (..., False)]),
    (leaf("postal_code", "starts_with", "sw1"), [("SW1A 1AA", True), ("W1", False), ("", False), (..., False)]),
    (leaf("postal_code", "starts_with", ""), [("", True), ("N1", True), (..., False)]),
    (leaf("postal_code", "eq", "it's"), [("IT'S", True), ('it"s', False)]),
    (
        leaf("total_spent", "eq", 100),
        [(100, True), (100.0, True), (Decimal("100"), True), (True, False), ("100", False)],
    ),
    (leaf("total_spent", "neq", 100), [(99.5, True), (100, False), (..., False), (None, False), ("x", False)]),
    (leaf("total_spent", "gt", 0.1), [(0.1, False), (0.1000000000000001, True), (Decimal("0.1"), False)]),
    (leaf("total_spent", "gte", -1.5), [(-1.5, True), (-1.6, False), (float("inf"), True), (float("-inf"), False)]),
    (leaf("total_spent", "lt", 0), [(-0.0, False), (-1e-300, True), (False, False)]),
    (leaf("total_spent", "lte", 2**53), [(2**53, True), (2.0**53, True), (1e300, False)]),
    (leaf("age", "between", [25, 34]), [(25, True), (34, True), (34.5, False), (24.999, False), (..., False)]),
    (leaf("age", "in", [30, 40.5]), [(30.0, True), (40.5, True), (Decimal("30"), True), (31, False)]),
    (leaf("age", "not_in", [30]), [(31, True), (30, False), (..., False), ("31", False)]),
    (leaf("has_email", "eq", True), [(True, True), (False, False), (1, False), ("true", False), (..., False)]),
    (leaf("has_email", "neq", True), [(False, True), (True, False), (0, False), (None, False)]),
    (leaf("has_email", "in", [False]), [(False, True), (True, False), (0, False)]),
    (leaf("has_email", "not_in", [False]), [(True, True), (False, False), (..., False), (1, False)]),
    (leaf("tags", "contains", "VIP"), [(["vip"], True), (("x", "Vip"), True), (["vip-x"], False), ([], False)]),
    (leaf("tags", "contains", "vip"), [("vip", False), ({"VIP"}, True), ([1, "vip"], True), (..., False)]),
    (leaf("tags", "not_contains", "vip"), [([], True), (["a"], True), (["VIP"], False), (..., False), ("x", False)]),
    (leaf("tags", "in", ["a", "B"]), [(["b"], True), (["c", "A"], True), ([], False), (frozenset({"c"}), False)]),
    (leaf("tags", "not_in", ["a"]), [([], True), (["b"], True), (["A"], False), ([None], True), (None, False)]),
    (leaf("tags", "exists"), [([], True), ("", True), (0, True), (..., False), (None, False)]),
    (leaf("birth_date", "not_exists"), [(..., True), (None, True), (date(2000, 1, 1), False), ("", False)]),
    (leaf("custom.tier", "eq", "gold"), [("GOLD", True), ("silver", False), (1, False), (["gold"], False)]),
    (leaf("custom.tier", "eq", 1), [(1, True), (1.0, True), (Decimal("1.0"), True), (True, False), ("1", False)]),
    (leaf("custom.tier", "eq", True), [(True, True), (1, False), ("true", False)]),
    (leaf("custom.tier", "neq", False), [(True, True), (False, False), (0, False), ("x", False)]),
    (
        leaf("custom.tier", "in", ["Gold", 1, True]),
        [
            ("gold", True),
            (1.0, True),
            (True, True),
            (False, False),
            (["x", "GOLD"], True),
            ([2, 1], True),
            ([], False),
            (2, False),
            (datetime(2026, 1, 1, tzinfo=UTC), False),
        ],
    ),
    (leaf("custom.tier", "in", [0]), [(0, True), (-0.0, True), (False, False), ([False], False)]),
    (
        leaf("custom.tier", "not_in", ["gold", 1]),
        [
            ("silver", True),
            ("GOLD", False),
            (True, True),
            (1, False),
            ([], True),
            (["x"], True),
            ([1.0], False),
            ({"a": 1}, False),
            (..., False),
        ],
    ),
    (leaf("custom.tier", "contains", "OL"), [("gold", True), (["ol"], True), (["gold"], False), (5, False)]),
    (
        leaf("custom.tier", "not_contains", "ol"),
        [("silver", True), ("gold", False), ([], True), (["OL"], False), (5, False), (..., False)],
    ),
    (leaf("custom.tier", "starts_with", "g"), [("Gold", True), (["gold"], False)]),
    (leaf("custom.tier", "gt", 2), [(3, True), (2, False), ("3", False), (True, False)]),
    (leaf("custom.tier", "between", [1, 2]), [(1, True), (2.0, True), (2.5, False), ([1], False)]),
    (
        leaf("custom.tier", "before", "2026-01-01"),
        [
            (date(2025, 12, 31), True),
            (date(2026, 1, 1), False),
            (datetime(2025, 12, 31, 23, 59, tzinfo=UTC), True),
            ("2025-01-01", False),
            (5, False),
        ],
    ),
]


@pytest.mark.parametrize(("tree", "expectations"), CASES, ids=lambda value: str(value)[:60])
def test_each_operator_gives_the_documented_verdict(tree: dict[str, Any], expectations: list[Any]) -> None:
    stored = [value for value, _ in expectations]
    assert verdicts(tree, stored, tree["attr"]) == [expected for _, expected in expectations]


def test_relative_time_windows_follow_the_shops_wall_clock_across_daylight_saving() -> None:
    # Given: now is the day after New York sprang forward, so 7 days ago (same wall-clock time) is 167 hours ago.
    now = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    start = window_start(now, 7, NEW_YORK)
    assert now - start == timedelta(hours=167)
    stored = [start - timedelta(microseconds=1), start, now, now + timedelta(microseconds=1), ...]
    views = [CustomerView(f"c{n}", {} if v is ... else {"last_order_at": v}, {}) for n, v in enumerate(stored)]
    rules = {
        "within": parse(leaf("last_order_at", "within_last_days", 7)),
        "older": parse(leaf("last_order_at", "more_than_days_ago", 7)),
        "not_within": parse({"not": leaf("last_order_at", "within_last_days", 7)}),
    }
    # When
    found = BulkEvaluator(rules, now, NEW_YORK).evaluate(views)
    # Then: both ends are inclusive, the future is never "within", a missing value is in neither
    assert found == {"within": {"c1", "c2"}, "older": {"c0"}, "not_within": {"c0", "c3", "c4"}}
    assert_agrees(rules, views, now, NEW_YORK)


def test_date_operands_and_date_attributes_mean_local_midnight() -> None:
    midnight_london = datetime(2026, 1, 30, 0, 0, tzinfo=UTC)  # GMT in winter
    stored = [midnight_london - timedelta(microseconds=1), midnight_london, date(2026, 1, 29), date(2026, 1, 30)]
    assert verdicts(leaf("registered_at", "before", "2026-01-30"), stored[:2], "registered_at") == [True, False]
    assert verdicts(leaf("birth_date", "after", "2026-01-29"), stored[2:], "birth_date") == [False, True]
    assert verdicts(
        leaf("birth_date", "eq", "2026-01-30T05:00:00Z"), [date(2026, 1, 30)], "birth_date", tz=NEW_YORK
    ) == [True]


def test_behaviour_counts_sums_and_averages_follow_the_missing_rules() -> None:
    at = NOW - timedelta(days=1)
    people = {
        "none": {},
        "one": orders((at, {"total": 5})),
        "no_total": orders((at, {"currency": "GBP"})),
        "future": orders((NOW + timedelta(seconds=1), {"total": 50})),
        "old": orders((NOW - timedelta(days=40), {"total": 50})),
        "text_total": orders((at, {"total": "50"}), (at, {"total": True})),
    }
    views = [CustomerView(name, {}, events) for name, events in people.items()]
    rules = {
        "none_in_30d": parse({"event": "order_completed", "within_last_days": 30, "count": {"op": "eq", "value": 0}}),
        "spent_under_10": parse(
            {"event": "order_completed", "within_last_days": 30, "sum": "total", "op": "lt", "value": 10}
        ),
        "avg_under_10": parse(
            {"event": "order_completed", "within_last_days": 30, "avg": "total", "op": "lt", "value": 10}
        ),
        "max_at_least_5": parse({"event": "order_completed", "max": "total", "op": "gte", "value": 5}),
        "counted_without_total": parse(
            {
                "event": "order_completed",
                "within_last_days": 30,
                "count": {"op": "gte", "value": 1},
                "sum": "total",
                "op": "eq",
                "value": 0,
            }
        ),
    }
    found = BulkEvaluator(rules, NOW, LONDON).evaluate(views)
    assert found == {
        "none_in_30d": {"none", "future", "old"},
        "spent_under_10": {"none", "one", "no_total", "future", "old", "text_total"},
        "avg_under_10": {"one"},
        "max_at_least_5": {"one", "old"},
        "counted_without_total": {"no_total", "text_total"},
    }
    assert_agrees(rules, views, NOW, LONDON)


def test_sums_add_in_event_order_even_when_the_engine_splits_the_work() -> None:
    # Float addition is not associative: only the customer's own event order gives the per-customer answer.
    rng = random.Random(3)
    values = [rng.choice([0.1, 0.2, 0.3, 24.99, 1e16, -1e16, 7.77]) for _ in range(300_000)]
    total = 0.0
    for value in values:
        total += value
    facts = [EventFact(NOW - timedelta(seconds=n + 1), {"total": value}) for n, value in enumerate(values)]
    view = CustomerView("c0", {}, {"order_completed": facts})
    rules = {
        "exact": parse({"event": "order_completed", "sum": "total", "op": "eq", "value": total}),
        "mean": parse({"event": "order_completed", "avg": "total", "op": "eq", "value": total / len(values)}),
    }
    assert BulkEvaluator(rules, NOW, LONDON).evaluate([view]) == {"exact": {"c0"}, "mean": {"c0"}}


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        Decimal("NaN"),
        2**60,
        "caf\ud800",
        datetime(2025, 10, 26, 1, 30, tzinfo=LONDON),
        [float("nan")],
    ],
    ids=repr,
)
def test_values_the_columns_cannot_hold_are_decided_per_customer(value: Any) -> None:
    trees = {
        "neq": leaf("custom.x", "neq", 1),
        "not_eq": {"not": leaf("custom.x", "eq", "café")},
        "in": leaf("custom.x", "not_in", [1, "x"]),
        "time_eq": leaf("registered_at", "eq", "2025-10-26T00:30:00Z"),
        "time_neq": leaf("registered_at", "neq", "2025-10-26T00:30:00Z"),
        "exists": leaf("custom.x", "exists"),
    }
    rules = {name: parse(tree) for name, tree in trees.items()}
    views = [
        CustomerView("odd", {"custom.x": value, "registered_at": value}, {}),
        CustomerView("plain", {"custom.x": 2, "registered_at": datetime(2025, 10, 26, 0, 30, tzinfo=UTC)}, {}),
    ]
    # When
    shard = BulkEvaluator(rules, NOW, LONDON).load(views)
    # Then: the odd customer was set aside for the per-customer path, and the verdicts agree
    assert shard.exceptional == [0]
    shard.close()
    assert_agrees(rules, views, NOW, LONDON)


@pytest.mark.parametrize(
    "totals",
    [[float("inf"), float("-inf")], [2**52 + 1, 2**52 + 1, 2**52 + 1], [Decimal("Infinity"), 1]],
    ids=repr,
)
def test_amounts_a_double_sum_would_change_are_decided_per_customer(totals: list[Any]) -> None:
    exact = 0
    for total in totals:
        exact += total
    facts = [EventFact(NOW - timedelta(hours=n + 1), {"total": total}) for n, total in enumerate(totals)]
    views = [CustomerView("odd", {}, {"order_completed": facts}), CustomerView("plain", {}, orders())]
    rules = {
        "sum_eq": parse({"event": "order_completed", "sum": "total", "op": "eq", "value": 3 * 2**52 + 3}),
        "sum_gt": parse({"event": "order_completed", "sum": "total", "op": "gt", "value": 0}),
        "avg_lt": parse({"event": "order_completed", "avg": "total", "op": "lt", "value": 1}),
    }
    shard = BulkEvaluator(rules, NOW, LONDON).load(views)
    assert shard.exceptional == [0]
    shard.close()
    assert_agrees(rules, views, NOW, LONDON)


def test_an_event_time_without_offset_fails_as_the_per_customer_evaluator_does() -> None:
    view = CustomerView("c0", {}, {"order_completed": [EventFact(datetime(2026, 3, 1), {"total": 1})]})
    rules = {"bought": parse({"event": "order_completed", "within_last_days": 30})}
    with pytest.raises(TypeError):
        rules["bought"].evaluate(view, NOW, LONDON)
    with pytest.raises(TypeError):
        BulkEvaluator(rules, NOW, LONDON).evaluate([view])
    # and the failed shard left no tables behind in the process's database
    leftover = bulk._database.execute(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'shard_%'"
    ).fetchone()
    assert leftover == (0,)


@pytest.mark.parametrize(
    ("tree", "reason"),
    [
        (leaf("total_spent", "gt", 2**60), "beyond 2**53"),
        (leaf("custom.x", "in", [2**60, "a"]), "cannot be encoded"),
        (leaf("region", "eq", "a\x00b"), "NUL"),
        ({"event": "order_completed", "sum": "total", "op": "eq", "value": 2**55}, "beyond 2**53"),
    ],
)
def test_rules_the_compiler_cannot_express_exactly_fall_back_per_customer(tree: dict[str, Any], reason: str) -> None:
    rules = {"odd": parse(tree), "plain": parse(leaf("total_spent", "gte", 1))}
    evaluator = BulkEvaluator(rules, NOW, LONDON)
    assert reason in evaluator.plan().fallback["odd"]
    assert set(evaluator.plan().outputs) == {"plain"}
    values: list[Any] = [2**60, 2**60 + 1, 2.0**60, 5, "a\x00b", "a", ...]
    crowd = [
        CustomerView(
            f"c{n}",
            {} if v is ... else {"total_spent": v, "custom.x": v, "region": v},
            orders((NOW - timedelta(days=1), {"total": 2**55})) if n % 2 else {},
        )
        for n, v in enumerate(values)
    ]
    assert_agrees(rules, crowd, NOW, LONDON)
    assert BulkEvaluator(rules, NOW, LONDON).evaluate(crowd)["odd"]  # the fallback found members


def _referencing_rules() -> tuple[Rule, Rule, Rule]:
    base = {"attr": "total_spent", "op": "gte", "value": 100}
    lookup = segments(big={"attr": "total_spent", "op": "gte", "value": 100})
    top = parse({"all": [{"in_segment": "big"}, leaf("country", "eq", "GB")]}, segment_lookup=lookup)
    outside = parse({"not": {"in_segment": "big"}}, segment_lookup=lookup)
    return parse(base), top, outside


CROWD = [
    CustomerView("rich_gb", {"total_spent": 500, "country": "GB"}, {}),
    CustomerView("poor_gb", {"total_spent": 5, "country": "GB"}, {}),
    CustomerView("rich_fr", {"total_spent": 500, "country": "FR"}, {}),
    CustomerView("nobody", {}, {}),
]


def test_a_reference_is_evaluated_inline_like_the_per_customer_evaluator() -> None:
    big, top, outside = _referencing_rules()
    # Alone, or next to the referenced segment: the same verdicts as Rule.evaluate.
    for rules in ({"top": top, "outside": outside}, {"big": big, "top": top, "outside": outside}):
        found = BulkEvaluator(rules, NOW, LONDON).evaluate(CROWD)
        assert found["top"] == {"rich_gb"}
        assert found["outside"] == {"poor_gb", "nobody"}
        assert_agrees(rules, CROWD, NOW, LONDON)


def test_a_reference_outside_the_rules_reads_the_membership_it_is_given() -> None:
    _, top, outside = _referencing_rules()
    evaluator = BulkEvaluator({"top": top, "outside": outside}, NOW, LONDON)
    stored = {"big": {"poor_gb", "rich_fr"}}  # deliberately not what the rule says today
    assert evaluator.stored_references(stored) == {"big"}
    found = evaluator.evaluate(CROWD, memberships=stored)
    assert found == {"top": {"poor_gb"}, "outside": {"rich_gb", "nobody"}}


def test_a_stored_membership_is_ignored_for_a_segment_evaluated_in_the_same_pass() -> None:
    big, top, _ = _referencing_rules()
    evaluator = BulkEvaluator({"big": big, "top": top}, NOW, LONDON)
    assert evaluator.stored_references({"big": set()}) == frozenset()
    assert evaluator.evaluate(CROWD, memberships={"big": set()}) == {"big": {"rich_gb", "rich_fr"}, "top": {"rich_gb"}}


def test_stored_memberships_also_reach_fallback_rules_and_exceptional_customers() -> None:
    lookup = segments(big={"attr": "total_spent", "op": "gte", "value": 100})
    rules = {
        "fallback": parse({"all": [{"in_segment": "big"}, leaf("age", "lt", 2**60)]}, segment_lookup=lookup),
        "compiled": parse({"all": [{"in_segment": "big"}, leaf("custom.x", "neq", 1)]}, segment_lookup=lookup),
    }
    crowd = [CustomerView("a", {"age": 3, "custom.x": float("nan")}, {}), CustomerView("b", {"age": 3}, {})]
    found = BulkEvaluator(rules, NOW, LONDON).evaluate(crowd, memberships={"big": {"a"}})
    assert found == {"fallback": {"a"}, "compiled": {"a"}}


def test_views_may_stream_past_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK", 3)
    crowd = [
        CustomerView(
            f"c{n}",
            {"total_spent": n, "tags": ["vip"] if n % 2 else []},
            orders(*[(NOW - timedelta(days=k), {"total": k}) for k in range(n % 4)]),
        )
        for n in range(11)
    ]
    rules = {
        "spent": parse(leaf("total_spent", "gte", 5)),
        "vip": parse(leaf("tags", "contains", "vip")),
        "two_orders": parse({"event": "order_completed", "count": {"op": "gte", "value": 2}}),
        "fallback": parse(leaf("total_spent", "lt", 2**60)),
    }
    found = BulkEvaluator(rules, NOW, LONDON).evaluate(view for view in crowd)
    assert found["spent"] == {f"c{n}" for n in range(5, 11)}
    assert found["two_orders"] == {f"c{n}" for n in range(11) if n % 4 >= 2}
    assert found["fallback"] == {f"c{n}" for n in range(11)}
    assert_agrees(rules, crowd, NOW, LONDON)


def test_no_customers_and_no_rules() -> None:
    rules = {"spent": parse(leaf("total_spent", "gte", 5))}
    assert BulkEvaluator(rules, NOW, LONDON).evaluate([]) == {"spent": set()}
    assert BulkEvaluator({}, NOW, LONDON).evaluate(CROWD) == {}


def test_identical_behaviour_conditions_share_one_aggregate() -> None:
    condition = {"event": "order_completed", "within_last_days": 30, "count": {"op": "gte", "value": 2}}
    rules = {
        "a": parse(condition),
        "b": parse({"not": condition}),
        "c": parse({"all": [condition, leaf("age", "gt", 1)]}),
    }
    statement = BulkEvaluator(rules, NOW, LONDON).plan().statement
    assert statement.count("count(*)") == 1
