"""Bad rules are rejected with every issue, each with the path of the bad node and a likely fix."""

from __future__ import annotations

from typing import Any

import pytest
from rule_helpers import leaf, segments

from segmentation.rules import RuleIssue, RuleValidationError, parse_rule, validate_rule


def issues(tree: Any, **options: Any) -> dict[str, RuleIssue]:
    found = validate_rule(tree, **options)
    assert found, "expected the rule to be rejected"
    return {issue.path: issue for issue in found}


def only(tree: Any, **options: Any) -> RuleIssue:
    found = validate_rule(tree, **options)
    assert len(found) == 1, found
    return found[0]


def test_a_valid_rule_has_no_issues() -> None:
    assert validate_rule({"all": [leaf("country", "eq", "GB"), {"event": "order_completed"}]}) == []


def test_parse_rule_raises_with_every_issue() -> None:
    tree = {"all": [leaf("countyr", "eq", "GB"), {"any": [leaf("total_spent", "gt", "100")]}]}
    with pytest.raises(RuleValidationError) as caught:
        parse_rule(tree)
    paths = [issue.path for issue in caught.value.issues]
    assert paths == ["$.all[0].attr", "$.all[1].any[0].value"]
    assert "2 issues" in str(caught.value)
    assert caught.value.to_dict()["issues"][0]["suggestions"] == ["country"]


@pytest.mark.parametrize(
    ("tree", "path"),
    [
        ({"all": []}, "$.all"),
        ({"any": []}, "$.any"),
        ({"not": {}}, "$.not"),
        ({}, "$"),
        ({"all": [leaf("country", "eq", "GB"), {"any": []}]}, "$.all[1].any"),
    ],
)
def test_empty_groups_are_errors(tree: Any, path: str) -> None:
    issue = only(tree)
    assert issue.path == path
    assert issue.code == "empty_group"


@pytest.mark.parametrize(
    ("tree", "path", "text"),
    [
        ([leaf("country", "eq", "GB")], "$", "expected a condition object"),
        ({"all": leaf("country", "eq", "GB")}, "$.all", "takes a list"),
        ({"not": [leaf("country", "eq", "GB")]}, "$.not", "one condition"),
        ({"all": ["country"]}, "$.all[0]", "expected a condition object"),
        ({"attr": "country", "op": "eq", "value": "GB", "event": "order_completed"}, "$", "exactly one"),
    ],
)
def test_malformed_structure(tree: Any, path: str, text: str) -> None:
    issue = only(tree)
    assert issue.path == path
    assert text in issue.message


def test_unknown_condition_kind_suggests_a_key() -> None:
    issue = only({"al": [leaf("country", "eq", "GB")]})
    assert issue.path == "$"
    assert issue.suggestions == ["all"]


def test_unknown_keys_are_reported_with_their_path() -> None:
    found = issues({"all": [{"attr": "country", "op": "eq", "valeu": "GB"}]})
    assert found["$.all[0].valeu"].suggestions == ["value"]
    assert found["$.all[0].valeu"].code == "unknown_key"
    assert found["$.all[0].value"].message == "missing 'value' for 'eq'"


def test_unknown_attribute_suggests_close_catalogue_names() -> None:
    issue = only(leaf("total_spend", "gt", 1))
    assert issue.path == "$.attr"
    assert issue.code == "unknown_attribute"
    assert issue.suggestions[0] == "total_spent"
    assert len(issue.suggestions) <= 3


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("custm.tier", "custom.*"), ("catgory_share.candles", "category_share.*"), ("custom.*", "custom.*")],
)
def test_unknown_attribute_suggestions_include_families(name: str, suggestion: str) -> None:
    assert suggestion in only(leaf(name, "exists")).suggestions


def test_family_members_are_attributes() -> None:
    assert validate_rule(leaf("custom.loyalty_tier", "eq", "gold")) == []
    assert validate_rule(leaf("category_share.candles", "gte", 0.5)) == []
    assert only(leaf("category_share.candles", "eq", "high")).path == "$.value"


def test_unknown_operator_suggests_close_operators() -> None:
    issue = only(leaf("country", "equals", "GB"))
    assert issue.path == "$.op"
    assert issue.code == "unknown_operator"
    issue = only(leaf("total_spent", "gtee", 5))
    assert "gte" in issue.suggestions


def test_missing_operator() -> None:
    assert only({"attr": "country", "value": "GB"}).path == "$.op"


@pytest.mark.parametrize(
    ("attr", "op", "suggestion"),
    [
        ("tags", "eq", "contains"),
        ("total_spent", "before", "lt"),
        ("last_order_at", "in", "between"),
        ("has_email", "gt", None),
        ("country", "within_last_days", None),
    ],
)
def test_operator_must_fit_the_attribute_type(attr: str, op: str, suggestion: str | None) -> None:
    issue = only(leaf(attr, op, 1))
    assert issue.path == "$.op"
    assert issue.code == "operator_not_applicable"
    if suggestion:
        assert issue.suggestions[0] == suggestion


@pytest.mark.parametrize(
    ("tree", "path", "suggestions"),
    [
        (leaf("total_spent", "gt", "100"), "$.value", ["100"]),
        (leaf("total_spent", "gt", True), "$.value", []),
        (leaf("total_spent", "eq", None), "$.value", []),
        (leaf("country", "eq", 44), "$.value", ['"44"']),
        (leaf("has_email", "eq", "true"), "$.value", ["true"]),
        (leaf("has_email", "eq", 1), "$.value", []),
        (leaf("last_order_at", "after", "2026-02-30"), "$.value", []),
        (leaf("last_order_at", "after", "31/01/2026"), "$.value", []),
        (leaf("last_order_at", "before", "2026-01-31T10:00:00"), "$.value", ["2026-01-31T10:00:00Z"]),
        (leaf("last_order_at", "gt", 5), "$.value", []),
        (leaf("last_order_at", "within_last_days", -1), "$.value", []),
        (leaf("last_order_at", "within_last_days", 1.5), "$.value", []),
        (leaf("last_order_at", "within_last_days", "30"), "$.value", ["30"]),
        (leaf("total_spent", "between", [100, 50]), "$.value", ["[50, 100]"]),
        (leaf("total_spent", "between", [1, 2, 3]), "$.value", []),
        (leaf("total_spent", "between", 5), "$.value", []),
        (leaf("last_order_at", "between", ["2026-02-01", "2026-01-01"]), "$.value", ['["2026-01-01", "2026-02-01"]']),
        (leaf("country", "in", []), "$.value", []),
        (leaf("country", "in", "GB"), "$.value", ['["GB"]']),
        (leaf("country", "in", ["GB", 4]), "$.value[1]", ['"4"']),
        (leaf("tags", "contains", ["vip"]), "$.value", []),
        (leaf("custom.tier", "eq", {"a": 1}), "$.value", []),
        (leaf("custom.tier", "gt", "gold"), "$.value", []),
        (leaf("custom.tier", "between", [1, "2026-01-01"]), "$.value", []),
        (leaf("custom.tier", "in", [[1]]), "$.value[0]", []),
        (leaf("total_spent", "gt", float("nan")), "$.value", []),
    ],
)
def test_values_must_fit_the_operator_and_type(tree: Any, path: str, suggestions: list[str]) -> None:
    issue = only(tree)
    assert issue.path == path
    assert issue.suggestions == suggestions


def test_presence_operators_take_no_value() -> None:
    issue = only({"attr": "country", "op": "exists", "value": True})
    assert issue.path == "$.value"
    assert "takes no value" in issue.message


def test_values_that_fit_are_accepted() -> None:
    for tree in (
        leaf("last_order_at", "after", "2026-01-31"),
        leaf("last_order_at", "after", "2026-01-31T10:00:00Z"),
        leaf("last_order_at", "after", "2026-01-31T10:00:00.123+05:30"),
        leaf("last_order_at", "within_last_days", 0),
        leaf("birth_date", "between", ["1990-01-01", "1999-12-31"]),
        leaf("custom.tier", "in", ["gold", 3, True]),
        leaf("custom.tier", "gt", "2026-01-01"),
        leaf("custom.tier", "between", [1, 2]),
        leaf("custom.tier", "within_last_days", 3),
        leaf("total_spent", "between", [5, 5]),
        leaf("region", "starts_with", ""),
    ):
        assert validate_rule(tree) == [], tree


def test_issues_are_collected_across_the_whole_tree() -> None:
    tree = {
        "all": [
            leaf("country", "eq", "GB"),
            {"any": [leaf("total_spent", "gt", "lots"), leaf("nope", "eq", 1)]},
            {"not": {"attr": "tags", "op": "starts_with", "value": "v"}},
            {"event": "order_complete"},
        ]
    }
    assert sorted(issues(tree)) == [
        "$.all[1].any[0].value",
        "$.all[1].any[1].attr",
        "$.all[2].not.op",
        "$.all[3].event",
    ]


# -- behaviour conditions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "path", "suggestion"),
    [
        ({"event": "order_complete"}, "$.event", "order_completed"),
        ({"event": "order_completed", "where": leaf("totl", "gt", 5)}, "$.where.attr", "total"),
        ({"event": "order_completed", "where": leaf("total", "gt", "5")}, "$.where.value", "5"),
        ({"event": "order_completed", "where": leaf("country", "eq", "GB")}, "$.where.attr", None),
        ({"event": "order_completed", "within_last_days": 0}, "$.within_last_days", None),
        ({"event": "order_completed", "within_last_days": "30"}, "$.within_last_days", "30"),
        ({"event": "order_completed", "count": 3}, "$.count", None),
        ({"event": "order_completed", "count": {"op": "gte", "value": -1}}, "$.count.value", None),
        ({"event": "order_completed", "count": {"op": "gte", "value": 1.5}}, "$.count.value", None),
        ({"event": "order_completed", "count": {"op": "contains", "value": 1}}, "$.count.op", None),
        ({"event": "order_completed", "count": {"op": "gte"}}, "$.count.value", None),
        ({"event": "order_completed", "count": {"op": "gte", "value": 1, "x": 1}}, "$.count.x", None),
        ({"event": "order_completed", "count": {"op": "between", "value": [3, 1]}}, "$.count.value", "[1, 3]"),
        ({"event": "order_completed", "sum": "currency", "op": "gt", "value": 1}, "$.sum", "total"),
        ({"event": "order_completed", "avg": "totl", "op": "gt", "value": 1}, "$.avg", "total"),
        ({"event": "order_completed", "sum": "total", "op": "gt", "value": "1"}, "$.value", "1"),
        ({"event": "order_completed", "sum": "total", "value": 1}, "$.op", None),
        ({"event": "order_completed", "op": "gt", "value": 1}, "$.op", None),
        ({"event": "order_completed", "where": {"event": "order_completed"}}, "$.where", None),
        ({"event": "order_completed", "where": {"in_segment": "vip"}}, "$.where", None),
        ({"event": "order_completed", "where": {"all": []}}, "$.where.all", None),
        ({"event": "order_completed", "within": 30}, "$.within", "within_last_days"),
    ],
)
def test_behaviour_condition_issues(tree: Any, path: str, suggestion: str | None) -> None:
    issue = only(tree)
    assert issue.path == path
    if suggestion:
        assert suggestion in issue.suggestions


def test_one_aggregate_per_condition() -> None:
    issue = only({"event": "order_completed", "sum": "total", "avg": "total", "op": "gt", "value": 1})
    assert issue.code == "several_aggregates"


def test_where_may_use_groups() -> None:
    where = {"any": [leaf("total", "gt", 50), {"not": leaf("categories", "contains", "candles")}]}
    assert validate_rule({"event": "order_completed", "where": where}) == []


# -- segment references --------------------------------------------------------------------------------------


def test_unknown_segment() -> None:
    issue = only({"all": [{"in_segment": "ghost"}]}, segment_lookup=segments())
    assert issue.path == "$.all[0].in_segment"
    assert issue.code == "unknown_segment"
    assert only({"in_segment": "ghost"}).code == "unknown_segment"  # no lookup at all


def test_a_rule_referring_to_itself_is_a_cycle() -> None:
    issue = only({"any": [{"in_segment": "a"}]}, segment_lookup=segments(a={"in_segment": "b"}), self_id="a")
    assert issue.path == "$.any[0].in_segment"
    assert issue.code == "cycle"
    assert issue.message == "segment reference cycle: a -> a"


def test_an_indirect_cycle_names_the_loop() -> None:
    lookup = segments(b={"all": [{"attr": "country", "op": "eq", "value": "GB"}, {"in_segment": "a"}]})
    issue = only({"not": {"in_segment": "b"}}, segment_lookup=lookup, self_id="a")
    assert issue.path == "$.not.in_segment"
    assert issue.message == "segment reference cycle: a -> b -> a"


def test_a_cycle_further_down_is_reported_at_the_reference() -> None:
    lookup = segments(b={"in_segment": "c"}, c={"any": [{"in_segment": "d"}]}, d={"in_segment": "c"})
    issue = only({"all": [leaf("country", "eq", "GB"), {"in_segment": "b"}]}, segment_lookup=lookup, self_id="a")
    assert issue.path == "$.all[1].in_segment"
    assert issue.message == "segment reference cycle: c -> d -> c"


def test_an_invalid_referenced_segment_is_reported_at_the_reference() -> None:
    lookup = segments(b={"all": [leaf("nope", "eq", 1)]})
    issue = only({"in_segment": "b"}, segment_lookup=lookup)
    assert issue.path == "$.in_segment"
    assert issue.code == "invalid_segment"
    assert "$.all[0].attr" in issue.message


def test_references_without_cycles_are_fine() -> None:
    lookup = segments(b={"in_segment": "c"}, c=leaf("country", "eq", "GB"))
    assert validate_rule({"all": [{"in_segment": "b"}, {"in_segment": "c"}]}, segment_lookup=lookup, self_id="a") == []


def test_bad_segment_id() -> None:
    assert only({"in_segment": ""}).path == "$.in_segment"
    assert only({"in_segment": "b", "extra": 1}, segment_lookup=segments(b=leaf("city", "exists"))).path == "$.extra"


def test_nesting_is_bounded() -> None:
    tree: dict[str, Any] = leaf("country", "eq", "GB")
    for _ in range(40):
        tree = {"not": tree}
    issue = only(tree)
    assert issue.code == "too_deep"


def test_issue_renders_with_its_suggestions() -> None:
    issue = only(leaf("countyr", "eq", "GB"))
    assert str(issue) == '$.attr: unknown attribute "countyr" (did you mean: country?)'
    assert issue.to_dict() == {
        "path": "$.attr",
        "message": 'unknown attribute "countyr"',
        "suggestions": ["country"],
        "code": "unknown_attribute",
    }


@pytest.mark.parametrize(
    "tree",
    [
        leaf("last_order_at", "within_last_days", 36_501),
        {"event": "order_completed", "within_last_days": 10**9},
        leaf("last_order_at", "before", "0001-01-01"),
        leaf("last_order_at", "after", "9999-12-31T23:59:59Z"),
    ],
)
def test_out_of_range_times_are_rejected(tree: Any) -> None:
    assert only(tree).code == "bad_value"


@pytest.mark.parametrize(("spelling", "meant"), [("equals", "eq"), (">=", "gte"), ("!=", "neq"), ("is_set", "exists")])
def test_operator_spellings_from_other_tools_are_translated(spelling: str, meant: str) -> None:
    assert only(leaf("total_spent", spelling, 5)).suggestions == [meant]


def test_odd_unknown_keys_use_the_bracket_path() -> None:
    assert only({"attr": "city", "op": "exists", "my key": 1}).path == '$["my key"]'
