"""The bulk evaluator agrees exactly with ``Rule.evaluate``: random rules over random customers with missing,
null, wrong-kind and unrepresentable values, several rules at once, in three time zones.

``make test`` runs a modest number of examples; ``BULK_EXAMPLES=2000 pytest tests/unit/rules/test_bulk_differential.py``
runs a deeper search.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bulk_helpers import assert_agrees, views_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_helpers import LONDON, NEW_YORK, NOW, parse
from test_rule_properties import (
    ATTRS,
    STORED,
    attr_leaves,
    customers,
    instants,
    leaf_cases,
    numbers,
    operands,
    rules,
    texts,
    zones,
)

from segmentation.features.catalogue import EVENT_PROPERTIES, AttrType
from segmentation.features.compute import EventFact
from segmentation.rules import OPS_BY_TYPE

EXAMPLES = int(os.environ.get("BULK_EXAMPLES", "50"))
DIFFERENTIAL = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Values the columns cannot hold faithfully: the evaluator must notice them and decide those customers per customer.
UNREPRESENTABLE = st.sampled_from(
    [
        float("nan"),
        2**60,
        -(2**60) - 1,
        Decimal("NaN"),
        "caf\ud800",  # not valid Unicode
        datetime(2026, 3, 14, 12, 0),  # naive: the evaluator reads it as UTC
        datetime(2025, 10, 26, 1, 30, tzinfo=LONDON),  # in the autumn fold
        datetime(2025, 10, 26, 1, 30, fold=1, tzinfo=LONDON),
        [float("nan"), "a"],
        [2**60],
    ]
)
# Text whose case folding is not lower-casing: "ß" folds to "ss", "ﬁ" to "fi", final sigma to sigma.
folding_texts = st.text(alphabet="sS\u00df\ufb01FIi\u03c3\u03a3\u03c2", max_size=3)
# Values of every kind, for any attribute: a catalogue type says what a value should be, not what is stored.
ODD = st.one_of(
    texts,
    folding_texts,
    numbers,
    st.booleans(),
    instants,
    st.lists(st.one_of(texts, folding_texts, numbers, st.booleans()), max_size=3),
)
FLOATS = st.sampled_from([0.1, 0.2, 0.3, 0.6, 2.5, 24.99, 1e16, -1e16, 1.0000000000000002])

PROP_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "total": st.one_of(
        st.integers(0, 4),
        FLOATS,
        st.none(),
        st.sampled_from([Decimal("0.1"), Decimal("2.5"), "3", True, float("inf"), float("-inf"), 2**52 + 1]),
    ),
    "item_count": st.one_of(st.integers(0, 3), st.none(), st.just(2.0)),
    "categories": st.one_of(st.lists(st.one_of(texts, texts, st.integers(0, 1)), max_size=3), st.none(), texts),
    "scents": st.one_of(st.lists(texts, max_size=2), st.none()),
    "refunded": st.one_of(st.booleans(), st.none(), st.just(1)),
    "currency": st.one_of(texts, st.none(), st.just(3)),
}
ORDER_PROPS = {name: EVENT_PROPERTIES["order_completed"][name] for name in PROP_VALUES}


def _event_times(tz_edges: bool = True) -> st.SearchStrategy[datetime]:
    near = [NOW + timedelta(microseconds=n) for n in (-1, 0, 1)]
    return st.one_of(instants, st.sampled_from(near))


order_facts = st.builds(EventFact, _event_times(), st.fixed_dictionaries({}, optional=PROP_VALUES))
open_facts = st.builds(
    EventFact, _event_times(), st.fixed_dictionaries({}, optional={"campaign": st.one_of(texts, st.none())})
)


@st.composite
def people(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, list[EventFact]]]:
    attributes: dict[str, Any] = {}
    for name, kind in ATTRS.items():
        presence = draw(st.sampled_from(["value", "value", "value", "null", "absent", "odd", "unrepresentable"]))
        if presence == "value":
            attributes[name] = draw(STORED[kind])
        elif presence == "null":
            attributes[name] = None
        elif presence == "odd":
            attributes[name] = draw(ODD)
        elif presence == "unrepresentable" and draw(st.integers(0, 3)) == 0:
            attributes[name] = draw(UNREPRESENTABLE)
    events: dict[str, list[EventFact]] = {}
    orders = draw(st.lists(order_facts, max_size=5))
    if orders:
        events["order_completed"] = orders
    opens = draw(st.lists(open_facts, max_size=3))
    if opens:
        events["email_opened"] = opens
    return attributes, events


@st.composite
def where_leaves(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(ORDER_PROPS)))
    kind = ORDER_PROPS[name]
    op = draw(st.sampled_from(sorted(OPS_BY_TYPE[kind])))
    if op in ("exists", "not_exists"):
        return {"attr": name, "op": op}
    return {"attr": name, "op": op, "value": draw(operands(kind, op))}


where_trees = st.recursive(
    where_leaves(),
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=3,
)
comparison_ops = st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "between"])


@st.composite
def aggregate_operand(draw: st.DrawFn, op: str, whole: bool) -> Any:
    values = st.integers(0, 4) if whole else st.one_of(st.integers(-1, 6), FLOATS, numbers)
    if op == "between":
        low, high = sorted([draw(values), draw(values)])
        return [low, high]
    return draw(values)


@st.composite
def order_behaviours(draw: st.DrawFn) -> dict[str, Any]:
    node: dict[str, Any] = {"event": "order_completed"}
    if draw(st.booleans()):
        node["within_last_days"] = draw(st.integers(1, 6))
    if draw(st.booleans()):
        node["where"] = draw(where_trees)
    choice = draw(st.sampled_from(["default", "count", "sum", "avg", "min", "max", "count+sum"]))
    if "count" in choice:
        op = draw(comparison_ops)
        node["count"] = {"op": op, "value": draw(aggregate_operand(op, whole=True))}
    for aggregate in ("sum", "avg", "min", "max"):
        if aggregate in choice:
            op = draw(comparison_ops)
            prop = draw(st.sampled_from(["total", "item_count"]))
            node.update({aggregate: prop, "op": op, "value": draw(aggregate_operand(op, whole=False))})
    return node


@st.composite
def open_behaviours(draw: st.DrawFn) -> dict[str, Any]:
    node: dict[str, Any] = {"event": "email_opened", "within_last_days": draw(st.integers(1, 6))}
    if draw(st.booleans()):
        node["where"] = {"attr": "campaign", "op": draw(st.sampled_from(["starts_with", "eq"])), "value": draw(texts)}
    op = draw(comparison_ops)
    node["count"] = {"op": op, "value": draw(aggregate_operand(op, whole=True))}
    return node


@st.composite
def folding_leaves(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(["region", "tags", "custom.tier"]))
    ops = {
        "region": ["eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with"],
        "tags": ["in", "not_in", "contains", "not_contains"],
        "custom.tier": ["eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with"],
    }[name]
    op = draw(st.sampled_from(ops))
    value: Any = (
        draw(st.lists(folding_texts, min_size=1, max_size=3)) if op in ("in", "not_in") else draw(folding_texts)
    )
    return {"attr": name, "op": op, "value": value}


rich_leaves = st.one_of(attr_leaves(), attr_leaves(), folding_leaves(), order_behaviours(), open_behaviours())
rich_rules = st.recursive(
    rich_leaves,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=4)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=4)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=8,
)


@DIFFERENTIAL
@given(trees=st.lists(rich_rules, min_size=1, max_size=4), crowd=st.lists(people(), min_size=1, max_size=6), tz=zones)
def test_bulk_agrees_with_per_customer_on_random_rules_and_messy_data(
    trees: list[dict[str, Any]], crowd: list[Any], tz: ZoneInfo
) -> None:
    rules_by_id = {f"s{n}": parse(tree) for n, tree in enumerate(trees)}
    assert_agrees(rules_by_id, views_of(crowd), NOW, tz)


@DIFFERENTIAL
@given(trees=st.lists(rules, min_size=1, max_size=4), crowd=st.lists(customers(), min_size=1, max_size=6), tz=zones)
def test_bulk_agrees_with_per_customer_on_the_rule_language_strategies(
    trees: list[dict[str, Any]], crowd: list[Any], tz: ZoneInfo
) -> None:
    rules_by_id = {f"s{n}": parse(tree) for n, tree in enumerate(trees)}
    assert_agrees(rules_by_id, views_of(crowd), NOW, tz)


@settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(leaf_cases(), min_size=1, max_size=8))
def test_bulk_agrees_with_per_customer_at_every_conditions_edges(cases: list[Any]) -> None:
    # One condition per segment, each customer's values clustered around that condition's edges.
    tz = cases[0][1]
    rules_by_id = {f"s{n}": parse(node) for n, (node, _, _, _) in enumerate(cases)}
    crowd = [(attributes, events) for _, _, attributes, events in cases]
    assert_agrees(rules_by_id, views_of(crowd), NOW, tz)


@settings(max_examples=max(EXAMPLES // 3, 1), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=rich_rules, crowd=st.lists(people(), min_size=1, max_size=4))
def test_bulk_agrees_across_a_daylight_saving_change(tree: dict[str, Any], crowd: list[Any]) -> None:
    # ``now`` a few days after New York springs forward and London falls back, windows reach across the change.
    for now in (datetime(2026, 3, 10, 3, 30, tzinfo=UTC), datetime(2025, 10, 28, 0, 30, tzinfo=UTC)):
        shift = now - NOW
        moved = [
            (
                {k: v + shift if isinstance(v, datetime) and v.tzinfo else v for k, v in attributes.items()},
                {name: [EventFact(f.at + shift, f.props) for f in facts] for name, facts in events.items()},
            )
            for attributes, events in crowd
        ]
        for tz in (LONDON, NEW_YORK):
            assert_agrees({"s": parse(tree)}, views_of(moved), now, tz)


def test_the_strategies_reach_every_attribute_type() -> None:
    # A guard on the generators themselves: every catalogue type of the rule-language strategies is exercised.
    assert set(ATTRS.values()) == {
        AttrType.STRING,
        AttrType.NUMBER,
        AttrType.BOOLEAN,
        AttrType.STRING_LIST,
        AttrType.DATETIME,
        AttrType.DATE,
        AttrType.ANY,
    }
