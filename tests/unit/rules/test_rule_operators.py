"""Every operator on every type it applies to, including what happens when the attribute is missing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rule_helpers import LONDON, NEW_YORK, NOW, holds, leaf

# -- text ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", "gb", "GB", True),
        ("eq", "GB", "gb", True),
        ("eq", "GB", "DE", False),
        ("neq", "gb", "GB", False),
        ("neq", "gb", "DE", True),
        ("in", ["de", "Gb"], "GB", True),
        ("in", ["de", "fr"], "GB", False),
        ("not_in", ["de", "FR"], "gb", True),
        ("not_in", ["de", "GB"], "gb", False),
        ("contains", "LONDON", "Greater London", True),
        ("contains", "paris", "Greater London", False),
        ("not_contains", "paris", "Greater London", True),
        ("not_contains", "london", "Greater LONDON", False),
        ("starts_with", "gre", "Greater London", True),
        ("starts_with", "london", "Greater London", False),
        ("eq", "strasse", "STRASSE", True),
        ("eq", "straße", "STRASSE", True),  # casefold, not lower: ß folds to ss
    ],
)
def test_text_operators_compare_case_insensitively(op: str, value: Any, actual: str, expected: bool) -> None:
    assert holds(leaf("region", op, value), {"region": actual}) is expected


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("in", ["VIP", "gift"], ["vip", "new"], True),
        ("in", ["gift"], ["vip", "new"], False),
        ("in", ["gift"], [], False),
        ("not_in", ["gift", "promo"], ["vip", "new"], True),
        ("not_in", ["Gift"], ["vip", "gift"], False),
        ("not_in", ["gift"], [], True),
        ("contains", "Vip", ["vip", "new"], True),
        ("contains", "vi", ["vip", "new"], False),  # membership, not substring
        ("not_contains", "gift", ["vip"], True),
        ("not_contains", "VIP", ["vip"], False),
    ],
)
def test_list_operators_mean_membership(op: str, value: Any, actual: list[str], expected: bool) -> None:
    assert holds(leaf("tags", op, value), {"tags": actual}) is expected


# -- numbers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", 100, 100.0, True),
        ("eq", 100, 100.5, False),
        ("neq", 100, 100.5, True),
        ("neq", 100, 100, False),
        ("gt", 100, 100.01, True),
        ("gt", 100, 100, False),
        ("gte", 100, 100, True),
        ("gte", 100, 99.99, False),
        ("lt", 100, 99.99, True),
        ("lt", 100, 100, False),
        ("lte", 100, 100, True),
        ("lte", 100, 100.01, False),
        ("between", [50, 100], 50, True),  # inclusive at both ends
        ("between", [50, 100], 100, True),
        ("between", [50, 100], 100.01, False),
        ("between", [50, 100], 49.99, False),
        ("in", [1, 2, 3], 2, True),
        ("in", [1, 2, 3], 4, False),
        ("not_in", [1, 2, 3], 4, True),
        ("not_in", [1, 2, 3], 3.0, False),
        ("gt", 100, Decimal("150.5"), True),  # numbers read back from DynamoDB
    ],
)
def test_number_operators(op: str, value: Any, actual: Any, expected: bool) -> None:
    assert holds(leaf("total_spent", op, value), {"total_spent": actual}) is expected


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", True, True, True),
        ("eq", True, False, False),
        ("eq", False, False, True),
        ("neq", True, False, True),
        ("neq", True, True, False),
        ("in", [True], True, True),
        ("not_in", [True], False, True),
    ],
)
def test_boolean_operators(op: str, value: Any, actual: bool, expected: bool) -> None:
    assert holds(leaf("has_email", op, value), {"has_email": actual}) is expected


@pytest.mark.parametrize(
    ("op", "value", "actual"),
    [
        ("eq", 1, True),
        ("gt", 0, True),
        ("gte", 1, True),
        ("between", [0, 2], True),
        ("in", [1, 2], True),
        ("eq", True, 1),
        ("in", [True], 1),
        ("eq", False, 0),
        ("neq", 5, True),  # a wrong runtime type is false even for a negation
    ],
)
def test_custom_booleans_are_not_numbers(op: str, value: Any, actual: Any) -> None:
    assert holds(leaf("custom.flag", op, value), {"custom.flag": actual}) is False


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", "Gold", "gold", True),
        ("eq", 3, 3, True),
        ("eq", 3, "3", False),  # text is not a number
        ("gt", 2, 3, True),
        ("gt", 2, "3", False),
        ("neq", "gold", 3, False),
        ("in", ["gold", 3, True], "GOLD", True),
        ("in", ["gold", 3, True], 3, True),
        ("in", ["gold", 3, True], True, True),
        ("in", ["gold", 3], 1, False),
        ("not_in", ["gold"], "silver", True),
        ("not_in", ["gold"], 5, True),
        ("contains", "old", "Gold", True),
        ("contains", "GOLD", ["gold", "vip"], True),
        ("not_contains", "x", 5, False),
        ("starts_with", "go", "Gold", True),
        ("starts_with", "go", 5, False),
        ("before", "2026-01-01", "2025-01-01", False),  # a stored text is not a date
        ("within_last_days", 30, NOW - timedelta(days=1), True),
    ],
)
def test_custom_attributes_follow_the_runtime_type(op: str, value: Any, actual: Any, expected: bool) -> None:
    assert holds(leaf("custom.tier", op, value), {"custom.tier": actual}) is expected


# -- presence ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "exists"),
    [({"city": "Leeds"}, True), ({"city": ""}, True), ({"city": None}, False), ({}, False)],
)
def test_exists_and_not_exists_are_about_null_or_missing(attributes: dict[str, Any], exists: bool) -> None:
    assert holds(leaf("city", "exists"), attributes) is exists
    assert holds(leaf("city", "not_exists"), attributes) is not exists


def test_an_empty_list_exists() -> None:
    assert holds(leaf("tags", "exists"), {"tags": []}) is True


# -- the missing-attribute rule ------------------------------------------------------------------------------

EVERY_OPERATOR = [
    ("region", "eq", "x"),
    ("region", "neq", "x"),
    ("total_spent", "gt", 1),
    ("total_spent", "gte", 1),
    ("total_spent", "lt", 1),
    ("total_spent", "lte", 1),
    ("total_spent", "between", [1, 2]),
    ("region", "in", ["x"]),
    ("region", "not_in", ["x"]),
    ("region", "contains", "x"),
    ("region", "not_contains", "x"),
    ("tags", "not_in", ["x"]),
    ("tags", "not_contains", "x"),
    ("region", "starts_with", "x"),
    ("region", "exists", None),
    ("last_order_at", "within_last_days", 30),
    ("last_order_at", "more_than_days_ago", 30),
    ("last_order_at", "before", "2026-01-01"),
    ("last_order_at", "after", "2026-01-01"),
    ("birth_date", "neq", "2000-01-01"),
    ("custom.tier", "neq", "gold"),
    ("custom.tier", "not_in", ["gold"]),
]


@pytest.mark.parametrize(("attr", "op", "value"), EVERY_OPERATOR)
@pytest.mark.parametrize("attributes", [{}, "null"])
def test_missing_attribute_makes_every_leaf_false_but_not_exists(
    attr: str, op: str, value: Any, attributes: Any
) -> None:
    # Given a customer without the attribute (absent, or stored as null)
    customer = {attr: None} if attributes == "null" else {}
    # Then the leaf is false, even for the negative operators
    assert holds(leaf(attr, op, value), customer) is False
    # and a `not` around it is plain negation
    assert holds({"not": leaf(attr, op, value)}, customer) is True


@pytest.mark.parametrize("attributes", [{}, {"region": None}])
def test_not_exists_is_true_on_a_missing_attribute(attributes: dict[str, Any]) -> None:
    assert holds(leaf("region", "not_exists"), attributes) is True


def test_neq_differs_from_not_eq_on_a_missing_attribute() -> None:
    assert holds(leaf("country", "neq", "GB"), {}) is False
    assert holds({"not": leaf("country", "eq", "GB")}, {}) is True


# -- time ----------------------------------------------------------------------------------------------------


def test_within_last_days_is_inclusive_at_both_ends() -> None:
    rule = leaf("last_order_at", "within_last_days", 30)
    start = NOW - timedelta(days=30)  # London is on GMT all of this window
    assert holds(rule, {"last_order_at": start}) is True
    assert holds(rule, {"last_order_at": NOW}) is True
    assert holds(rule, {"last_order_at": start - timedelta(microseconds=1)}) is False
    assert holds(rule, {"last_order_at": NOW + timedelta(seconds=1)}) is False


def test_within_last_days_zero_means_exactly_now() -> None:
    assert holds(leaf("last_order_at", "within_last_days", 0), {"last_order_at": NOW}) is True
    assert holds(leaf("last_order_at", "within_last_days", 0), {"last_order_at": NOW - timedelta(seconds=1)}) is False


def test_more_than_days_ago_is_strict() -> None:
    rule = leaf("last_order_at", "more_than_days_ago", 90)
    start = NOW - timedelta(days=90)
    assert holds(rule, {"last_order_at": start}) is False
    assert holds(rule, {"last_order_at": start - timedelta(seconds=1)}) is True


def test_windows_count_calendar_days_across_a_daylight_saving_change() -> None:
    # Given a now just after New York moved its clocks forward (2026-03-08)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 EDT
    rule = leaf("last_order_at", "within_last_days", 7)
    # Then the window starts at 08:00 local a week earlier, which was EST (13:00 UTC), not 12:00 UTC
    assert holds(rule, {"last_order_at": datetime(2026, 3, 3, 13, 0, tzinfo=UTC)}, now=now, tz=NEW_YORK) is True
    assert holds(rule, {"last_order_at": datetime(2026, 3, 3, 12, 30, tzinfo=UTC)}, now=now, tz=NEW_YORK) is False


def test_before_and_after_a_date_mean_local_midnight() -> None:
    # Midnight at the start of 2026-03-10 in New York is 04:00 UTC (EDT).
    before = leaf("last_order_at", "before", "2026-03-10")
    after = leaf("last_order_at", "after", "2026-03-10")
    early = {"last_order_at": datetime(2026, 3, 10, 3, 59, tzinfo=UTC)}
    late = {"last_order_at": datetime(2026, 3, 10, 4, 1, tzinfo=UTC)}
    exact = {"last_order_at": datetime(2026, 3, 10, 4, 0, tzinfo=UTC)}
    assert holds(before, early, tz=NEW_YORK) is True
    assert holds(before, late, tz=NEW_YORK) is False
    assert holds(after, late, tz=NEW_YORK) is True
    assert holds(after, early, tz=NEW_YORK) is False
    assert holds(before, exact, tz=NEW_YORK) is False  # strict on both sides
    assert holds(after, exact, tz=NEW_YORK) is False
    # The same instants in London (GMT) are after midnight
    assert holds(before, early, tz=LONDON) is False


def test_before_and_after_a_datetime_with_offset_are_instants() -> None:
    rule = leaf("registered_at", "after", "2026-03-01T09:00:00+01:00")
    assert holds(rule, {"registered_at": datetime(2026, 3, 1, 8, 0, 1, tzinfo=UTC)}) is True
    assert holds(rule, {"registered_at": datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)}) is False
    assert holds(leaf("registered_at", "before", "2026-03-01T08:00:00Z"), {"registered_at": NOW}) is False


def test_datetime_comparisons_and_equality() -> None:
    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert holds(leaf("registered_at", "eq", "2026-03-01T09:00:00+01:00"), {"registered_at": at}) is True
    assert holds(leaf("registered_at", "neq", "2026-03-01T09:00:00+01:00"), {"registered_at": at}) is False
    assert holds(leaf("registered_at", "gte", "2026-03-01T08:00:00Z"), {"registered_at": at}) is True
    assert holds(leaf("registered_at", "gt", "2026-03-01T08:00:00Z"), {"registered_at": at}) is False
    assert holds(leaf("registered_at", "lte", "2026-03-01"), {"registered_at": at}) is False
    assert holds(leaf("registered_at", "between", ["2026-03-01", "2026-03-02"]), {"registered_at": at}) is True
    assert holds(leaf("registered_at", "between", ["2026-03-02", "2026-03-03"]), {"registered_at": at}) is False


def test_a_date_attribute_compares_as_local_midnight() -> None:
    born = {"birth_date": date(2000, 1, 1)}
    assert holds(leaf("birth_date", "eq", "2000-01-01"), born) is True
    assert holds(leaf("birth_date", "before", "2000-01-02"), born) is True
    assert holds(leaf("birth_date", "before", "2000-01-01"), born) is False
    assert holds(leaf("birth_date", "between", ["1999-12-31", "2000-01-01"]), born) is True
    # 2000-01-01T04:30Z: after midnight in London, before midnight (05:00Z) in New York
    instant = leaf("birth_date", "after", "1999-12-31T23:30:00-05:00")
    assert holds(instant, born, tz=NEW_YORK) is True
    assert holds(instant, born, tz=LONDON) is False


def test_a_naive_stored_datetime_is_read_as_utc() -> None:
    naive = datetime(2026, 3, 14, 12, 0)
    assert holds(leaf("last_order_at", "within_last_days", 2), {"last_order_at": naive}) is True
    assert holds(leaf("last_order_at", "before", "2026-03-14T12:00:01Z"), {"last_order_at": naive}) is True


def test_a_non_date_value_in_a_date_attribute_is_false() -> None:
    assert holds(leaf("last_order_at", "before", "2027-01-01"), {"last_order_at": "2026-01-01"}) is False
    assert holds(leaf("last_order_at", "neq", "2027-01-01"), {"last_order_at": 5}) is False


def test_now_is_explicit_and_must_be_timezone_aware() -> None:
    rule = leaf("last_order_at", "within_last_days", 1)
    at = {"last_order_at": datetime(2020, 1, 1, tzinfo=UTC)}
    assert holds(rule, at, now=datetime(2020, 1, 1, 12, tzinfo=UTC)) is True
    assert holds(rule, at, now=datetime(2020, 1, 3, tzinfo=UTC)) is False
    with pytest.raises(ValueError, match="timezone-aware"):
        holds(rule, at, now=datetime(2020, 1, 1, 12))


def test_a_rule_rebinds_when_now_changes() -> None:
    from rule_helpers import parse, view

    rule = parse(leaf("last_order_at", "within_last_days", 1))
    customer = view({"last_order_at": datetime(2020, 1, 1, tzinfo=UTC)})
    assert rule.evaluate(customer, datetime(2020, 1, 1, 12, tzinfo=UTC), LONDON) is True
    assert rule.evaluate(customer, datetime(2020, 1, 5, tzinfo=UTC), LONDON) is False
    assert rule.evaluate(customer, datetime(2020, 1, 1, 13, tzinfo=UTC), LONDON) is True
    # the same instant expressed in another zone is the same now
    same_instant = datetime(2020, 1, 1, 7, tzinfo=NEW_YORK)
    assert rule.evaluate(customer, same_instant, LONDON) is True
    assert rule.predicate(datetime(2020, 1, 5, tzinfo=UTC), LONDON)(customer) is False


# -- groups --------------------------------------------------------------------------------------------------


def test_groups_combine_their_conditions() -> None:
    gb = leaf("country", "eq", "GB")
    rich = leaf("total_spent", "gte", 100)
    customer = {"country": "GB", "total_spent": 50}
    assert holds({"all": [gb, rich]}, customer) is False
    assert holds({"any": [gb, rich]}, customer) is True
    assert holds({"not": {"all": [gb, rich]}}, customer) is True
    assert holds({"all": [gb]}, customer) is True


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_groups_of_any_size(size: int) -> None:
    conditions = [leaf("total_spent", "gte", i) for i in range(size)]
    assert holds({"all": conditions}, {"total_spent": size - 1}) is True
    assert holds({"all": conditions}, {"total_spent": size - 2}) is False
    assert holds({"any": conditions}, {"total_spent": 0}) is True
    assert holds({"any": conditions}, {"total_spent": -1}) is False


# -- numbers read back from DynamoDB -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [("eq", 0.1, True), ("gte", 0.1, True), ("lt", 0.1, False), ("in", [0.1], True), ("between", [0.1, 0.2], True)],
)
def test_decimals_compare_as_the_floats_other_evaluators_see(op: str, value: Any, expected: bool) -> None:
    # Compared exactly, Decimal("0.1") is less than the float 0.1.
    assert holds(leaf("category_share.candles", op, value), {"category_share.candles": Decimal("0.1")}) is expected


def test_aggregates_mix_decimals_and_floats() -> None:
    from rule_helpers import orders

    history = orders((NOW - timedelta(days=1), {"total": Decimal("0.1")}), (NOW - timedelta(days=2), {"total": 0.2}))
    assert holds({"event": "order_completed", "sum": "total", "op": "gt", "value": 0.29}, {}, history) is True
