"""Properties of the rule language that must hold for every rule and every customer.

Alongside the laws (missing attributes, ``not`` involution, De Morgan, case-insensitivity), the compiled
evaluator is checked against a small reference interpreter written straight from the contract in
``docs/rule-language.md``: a second, independent reading of the same semantics.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_helpers import LONDON, NEW_YORK, NOW, parse, view

from segmentation.features.catalogue import EVENT_PROPERTIES, AttrType, lookup
from segmentation.features.compute import EventFact, window_start
from segmentation.rules import OPS_BY_TYPE

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ATTRS: dict[str, AttrType] = {
    "region": AttrType.STRING,
    "total_spent": AttrType.NUMBER,
    "has_email": AttrType.BOOLEAN,
    "tags": AttrType.STRING_LIST,
    "last_order_at": AttrType.DATETIME,
    "birth_date": AttrType.DATE,
    "custom.tier": AttrType.ANY,
}
assert all(lookup(name) is not None and lookup(name).type is kind for name, kind in ATTRS.items())  # type: ignore[union-attr]

texts = st.text(alphabet="abAB", max_size=3)
numbers = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.25]))
days = st.integers(-6, 6)
# Boundaries are where evaluators disagree: window starts and local midnights in every zone, and a hair
# either side of them, are drawn as often as arbitrary instants.
_EDGES = sorted(
    {
        edge + timedelta(microseconds=nudge)
        for zone in (LONDON, NEW_YORK, ZoneInfo("UTC"))
        for n in range(8)
        for edge in (
            window_start(NOW, n, zone),
            datetime.combine((NOW - timedelta(days=n)).date(), datetime.min.time(), zone).astimezone(UTC),
        )
        for nudge in (-1, 0, 1)
    }
)
instants = st.one_of(
    st.builds(lambda d, h: NOW + timedelta(days=d, hours=h), days, st.sampled_from([-13, -4, -1, 0, 1, 5, 11])),
    st.sampled_from(_EDGES),
)
dates_ = st.builds(lambda d: (NOW + timedelta(days=d)).date(), days)
date_texts = st.one_of(
    dates_.map(date.isoformat),
    instants.map(lambda t: t.isoformat()),
    instants.map(lambda t: t.astimezone(NEW_YORK).isoformat()),
)
scalars = st.one_of(texts, numbers, st.booleans())

STORED: dict[AttrType, st.SearchStrategy[Any]] = {
    AttrType.STRING: texts,
    AttrType.NUMBER: st.one_of(numbers, numbers.map(lambda n: Decimal(str(n)))),
    AttrType.BOOLEAN: st.booleans(),
    AttrType.STRING_LIST: st.lists(texts, max_size=3),
    AttrType.DATETIME: instants,
    AttrType.DATE: dates_,
    AttrType.ANY: st.one_of(scalars, instants, st.lists(texts, max_size=2)),
}


@st.composite
def operands(draw: st.DrawFn, kind: AttrType, op: str) -> Any:
    """A valid value for ``op`` on an attribute of type ``kind``."""
    if op in ("within_last_days", "more_than_days_ago"):
        return draw(st.integers(0, 7))
    if op in ("before", "after"):
        return draw(date_texts)
    if op in ("contains", "not_contains", "starts_with"):
        return draw(texts)
    element = {
        AttrType.STRING: texts,
        AttrType.STRING_LIST: texts,
        AttrType.NUMBER: numbers,
        AttrType.BOOLEAN: st.booleans(),
        AttrType.DATETIME: date_texts,
        AttrType.DATE: date_texts,
    }.get(kind, scalars)
    if op in ("in", "not_in"):
        return draw(st.lists(element, min_size=1, max_size=3))
    if op in ("gt", "gte", "lt", "lte", "between"):
        ordered: st.SearchStrategy[Any] = numbers if kind in (AttrType.NUMBER, AttrType.ANY) else date_texts
        if kind is AttrType.ANY:
            ordered = draw(st.sampled_from([numbers, date_texts]))
        if op == "between":
            low, high = draw(ordered), draw(ordered)
            if _sort_key(low) > _sort_key(high):
                low, high = high, low
            return [low, high]
        return draw(ordered)
    return draw(element)  # eq, neq


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):  # a date-ish text; only compared with its own kind here
        return _operand_instant(value, UTC)
    return value


@st.composite
def attr_leaves(draw: st.DrawFn, names: tuple[str, ...] = tuple(ATTRS)) -> dict[str, Any]:
    name = draw(st.sampled_from(names))
    kind = ATTRS[name]
    op = draw(st.sampled_from(sorted(OPS_BY_TYPE[kind])))
    if op in ("exists", "not_exists"):
        return {"attr": name, "op": op}
    return {"attr": name, "op": op, "value": draw(operands(kind, op))}


@st.composite
def behaviour_leaves(draw: st.DrawFn) -> dict[str, Any]:
    node: dict[str, Any] = {"event": "order_completed"}
    if draw(st.booleans()):
        node["within_last_days"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        node["where"] = draw(
            st.one_of(
                st.builds(lambda v: {"attr": "total", "op": "gte", "value": v}, st.integers(0, 3)),
                st.builds(lambda v: {"attr": "categories", "op": "contains", "value": v}, texts),
            )
        )
    choice = draw(st.sampled_from(["default", "count", "sum", "avg", "min", "max"]))
    op = draw(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]))
    if choice == "count":
        node["count"] = {"op": op, "value": draw(st.integers(0, 3))}
    elif choice != "default":
        node.update({choice: "total", "op": op, "value": draw(st.integers(0, 6))})
    return node


leaves = st.one_of(attr_leaves(), attr_leaves(), behaviour_leaves())
rules = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=5)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=5)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=8,
)


@st.composite
def customers(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, list[EventFact]]]:
    attributes: dict[str, Any] = {}
    for name, kind in ATTRS.items():
        presence = draw(st.sampled_from(["value", "value", "null", "absent"]))
        if presence == "value":
            attributes[name] = draw(STORED[kind])
        elif presence == "null":
            attributes[name] = None
    facts = draw(
        st.lists(
            st.builds(
                lambda at, total, cats: EventFact(at, {"total": total, "categories": cats}),
                instants,
                st.one_of(st.integers(0, 4), st.just(None)),
                st.lists(texts, max_size=2),
            ),
            max_size=4,
        )
    )
    return attributes, {"order_completed": facts} if facts else {}


zones = st.sampled_from([LONDON, NEW_YORK, ZoneInfo("UTC")])


# -- a reference interpreter, written from the contract ------------------------------------------------------


def _operand_instant(text: str, tz: Any) -> datetime:
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
    return datetime.fromisoformat(text)


def _stored_instant(value: Any, tz: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz).astimezone(UTC)
    return None


def _is_number(value: Any) -> bool:
    return type(value) in (int, float, Decimal)


def _same_kind(stored: Any, operand: Any) -> bool:
    if isinstance(operand, bool):
        return isinstance(stored, bool)
    if isinstance(operand, str):
        return isinstance(stored, str)
    return _is_number(stored)


def _equal(stored: Any, operand: Any) -> bool:
    if isinstance(operand, str):
        return stored.casefold() == operand.casefold()
    return bool(stored == operand)


def reference(node: dict[str, Any], attributes: dict[str, Any], events: dict[str, Any], now: datetime, tz: Any) -> bool:
    if "all" in node:
        return all(reference(child, attributes, events, now, tz) for child in node["all"])
    if "any" in node:
        return any(reference(child, attributes, events, now, tz) for child in node["any"])
    if "not" in node:
        return not reference(node["not"], attributes, events, now, tz)
    if "event" in node:
        return _reference_behaviour(node, events, now, tz)
    return _reference_leaf(node, attributes, now, tz, ATTRS.get(node["attr"]) or AttrType.ANY)


def _reference_leaf(node: dict[str, Any], attributes: dict[str, Any], now: datetime, tz: Any, kind: AttrType) -> bool:
    name, op = node["attr"], node["op"]
    operand: Any = node.get("value")
    stored = attributes.get(name)
    if op == "exists":
        return stored is not None
    if op == "not_exists":
        return stored is None
    if stored is None:
        return False
    timelike = kind in (AttrType.DATE, AttrType.DATETIME) or op in (
        "within_last_days",
        "more_than_days_ago",
        "before",
        "after",
    )
    if kind is AttrType.ANY and op in ("gt", "gte", "lt", "lte", "between"):
        sample = operand[0] if op == "between" else operand
        timelike = isinstance(sample, str)
    if timelike:
        t = _stored_instant(stored, tz)
        if t is None:
            return False
        if op == "within_last_days":
            return window_start(now, operand, tz) <= t <= now
        if op == "more_than_days_ago":
            return t < window_start(now, operand, tz)
        if op == "between":
            return _operand_instant(operand[0], tz) <= t <= _operand_instant(operand[1], tz)
        d = _operand_instant(operand, tz)
        return {
            "before": t < d,
            "after": t > d,
            "lt": t < d,
            "gt": t > d,
            "lte": t <= d,
            "gte": t >= d,
            "eq": t == d,
            "neq": t != d,
        }[op]
    if op in ("in", "not_in"):
        if not isinstance(stored, list | str | bool) and not _is_number(stored):
            return False
        items = stored if isinstance(stored, list) else [stored]
        hit = any(_same_kind(item, o) and _equal(item, o) for item in items for o in operand)
        return hit if op == "in" else not hit
    if op in ("contains", "not_contains"):
        if isinstance(stored, str):
            hit = operand.casefold() in stored.casefold()
        elif isinstance(stored, list):
            hit = any(isinstance(item, str) and item.casefold() == operand.casefold() for item in stored)
        else:
            return False
        return hit if op == "contains" else not hit
    if op == "starts_with":
        return isinstance(stored, str) and stored.casefold().startswith(operand.casefold())
    if op == "between":
        return _is_number(stored) and operand[0] <= stored <= operand[1]
    if not _same_kind(stored, operand):
        return False
    if op == "eq":
        return _equal(stored, operand)
    if op == "neq":
        return not _equal(stored, operand)
    return {"gt": stored > operand, "gte": stored >= operand, "lt": stored < operand, "lte": stored <= operand}[op]


def _reference_behaviour(node: dict[str, Any], events: dict[str, Any], now: datetime, tz: Any) -> bool:
    start = window_start(now, node["within_last_days"], tz) if "within_last_days" in node else None
    matched = [
        fact
        for fact in events.get(node["event"], [])
        if fact.at <= now
        and (start is None or fact.at >= start)
        and ("where" not in node or _reference_leaf(node["where"], fact.props, now, tz, _prop_type(node)))
    ]
    ok = True
    if "count" in node:
        ok = _compare(len(matched), node["count"]["op"], node["count"]["value"])
    for aggregate in ("sum", "avg", "min", "max"):
        if aggregate in node:
            values = [f.props[node[aggregate]] for f in matched if _is_number(f.props.get(node[aggregate]))]
            result: Any
            if aggregate == "sum":
                result = sum(values)
            elif not values:
                result = None
            else:
                result = {"avg": sum(values) / len(values) if values else None, "min": min(values), "max": max(values)}[
                    aggregate
                ]
            ok = ok and result is not None and _compare(result, node["op"], node["value"])
    if "count" not in node and not any(a in node for a in ("sum", "avg", "min", "max")):
        ok = len(matched) >= 1
    return ok


def _prop_type(node: dict[str, Any]) -> AttrType:
    return EVENT_PROPERTIES[node["event"]][node["where"]["attr"]]


def _compare(value: Any, op: str, operand: Any) -> bool:
    return {
        "eq": value == operand,
        "neq": value != operand,
        "gt": value > operand,
        "gte": value >= operand,
        "lt": value < operand,
        "lte": value <= operand,
    }[op]


# -- properties ----------------------------------------------------------------------------------------------


def _boundaries(node: dict[str, Any], tz: Any) -> list[Any]:
    """Stored values right at, and a hair either side of, where ``node`` changes its verdict."""
    op, kind = node["op"], ATTRS[node["attr"]]
    operand: Any = node.get("value")
    if op in ("exists", "not_exists"):
        return []
    edges: list[Any] = []
    if op in ("within_last_days", "more_than_days_ago"):
        edges = [window_start(NOW, operand, tz), NOW]
    else:
        for item in operand if isinstance(operand, list) else [operand]:
            if isinstance(item, str) and item[:4].isdigit():
                edges.append(_operand_instant(item, tz))
            elif _is_number(item):
                edges += [item, item - 0.5, item + 0.5]
            else:
                edges.append(item)
    nudged: list[Any] = []
    for edge in edges:
        if isinstance(edge, datetime):
            around = [edge + timedelta(microseconds=n) for n in (-1, 0, 1)]
            if kind is AttrType.DATE:  # a date attribute stores days: the day before, of and after the edge
                local = edge.astimezone(tz).date()
                nudged += [local - timedelta(days=1), local, local + timedelta(days=1)]
            else:
                nudged += around
        elif kind is AttrType.STRING_LIST:
            nudged += [[edge], [edge.upper(), "x"]]
        else:
            nudged.append(edge)
    return nudged


@st.composite
def leaf_cases(draw: st.DrawFn) -> tuple[dict[str, Any], Any, dict[str, Any], dict[str, list[EventFact]]]:
    """One condition, a time zone, and a customer whose values cluster around the condition's edges."""
    tz = draw(zones)
    if draw(st.integers(0, 3)) == 0:
        node = draw(behaviour_leaves())
        edges = [NOW + timedelta(microseconds=n) for n in (-1, 0, 1)]
        if "within_last_days" in node:
            start = window_start(NOW, node["within_last_days"], tz)
            edges += [start + timedelta(microseconds=n) for n in (-1, 0, 1)]
        at = st.one_of(instants, st.sampled_from(edges))
        facts = draw(
            st.lists(
                st.builds(
                    lambda when, total, cats: EventFact(when, {"total": total, "categories": cats}),
                    at,
                    st.one_of(st.integers(0, 4), st.just(None), st.just(2.5)),
                    st.lists(texts, max_size=2),
                ),
                max_size=5,
            )
        )
        return node, tz, {}, {"order_completed": facts} if facts else {}
    node = draw(attr_leaves())
    kind = ATTRS[node["attr"]]
    candidates = [STORED[kind], st.none()]
    edges = _boundaries(node, tz)
    if edges:
        candidates += [st.sampled_from(edges)] * 4
    stored = draw(st.one_of(*candidates))
    return node, tz, {node["attr"]: stored}, {}


@settings(max_examples=1500, deadline=None)
@given(case=leaf_cases())
def test_each_condition_agrees_with_the_reference(case: Any) -> None:
    node, tz, attributes, events = case
    rule = parse(node)
    assert rule.evaluate(view(attributes, events), NOW, tz) is reference(rule.tree, attributes, events, NOW, tz)


@SETTINGS
@given(tree=rules, customer=customers(), tz=zones)
def test_compiled_evaluation_agrees_with_the_reference(tree: dict[str, Any], customer: Any, tz: Any) -> None:
    attributes, events = customer
    rule = parse(tree)
    assert rule.evaluate(view(attributes, events), NOW, tz) is reference(rule.tree, attributes, events, NOW, tz)


@SETTINGS
@given(node=attr_leaves(), present_as_null=st.booleans(), tz=zones)
def test_missing_attribute_is_false_for_every_operator_but_not_exists(
    node: dict[str, Any], present_as_null: bool, tz: Any
) -> None:
    customer = view({node["attr"]: None} if present_as_null else {})
    assert parse(node).evaluate(customer, NOW, tz) is (node["op"] == "not_exists")
    assert parse({"not": node}).evaluate(customer, NOW, tz) is (node["op"] != "not_exists")


@SETTINGS
@given(tree=rules, customer=customers(), tz=zones)
def test_not_is_an_involution(tree: dict[str, Any], customer: Any, tz: Any) -> None:
    person = view(*customer)
    assert parse({"not": {"not": tree}}).evaluate(person, NOW, tz) is parse(tree).evaluate(person, NOW, tz)
    assert parse({"not": tree}).evaluate(person, NOW, tz) is not parse(tree).evaluate(person, NOW, tz)


@SETTINGS
@given(parts=st.lists(rules, min_size=1, max_size=4), customer=customers(), tz=zones)
def test_de_morgan(parts: list[dict[str, Any]], customer: Any, tz: Any) -> None:
    person = view(*customer)
    negated = [{"not": part} for part in parts]
    assert parse({"not": {"all": parts}}).evaluate(person, NOW, tz) is parse({"any": negated}).evaluate(person, NOW, tz)
    assert parse({"not": {"any": parts}}).evaluate(person, NOW, tz) is parse({"all": negated}).evaluate(person, NOW, tz)


ascii_text = st.text(alphabet="abcXYZ -", max_size=6)
case_changes = st.sampled_from([str.upper, str.lower, str.swapcase, str.title, str])


@SETTINGS
@given(
    name=st.sampled_from(["region", "tags", "custom.tier"]),
    op=st.sampled_from(["eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with"]),
    stored=ascii_text,
    operand=ascii_text,
    change_stored=case_changes,
    change_operand=case_changes,
)
def test_text_comparisons_ignore_case(
    name: str, op: str, stored: str, operand: str, change_stored: Any, change_operand: Any
) -> None:
    if op not in OPS_BY_TYPE[ATTRS[name]]:
        op = "contains"

    def verdict(value: str, target: str) -> bool:
        stored_value: Any = [value] if name == "tags" else value
        target_value: Any = [target] if op in ("in", "not_in") else target
        node = {"attr": name, "op": op, "value": target_value}
        return parse(node).evaluate(view({name: stored_value}), NOW, LONDON)

    assert verdict(change_stored(stored), change_operand(operand)) is verdict(stored, operand)


@SETTINGS
@given(tree=rules, customer=customers(), tz=zones)
def test_explain_agrees_with_evaluate_and_is_json(tree: dict[str, Any], customer: Any, tz: Any) -> None:
    person = view(*customer)
    rule = parse(tree)
    explanation = rule.explain(person, NOW, tz)
    assert explanation["verdict"] is rule.evaluate(person, NOW, tz)
    json.dumps(explanation)


@SETTINGS
@given(tree=rules)
def test_the_normalised_tree_is_a_fixed_point(tree: dict[str, Any]) -> None:
    rule = parse(tree)
    assert parse(rule.tree).tree == rule.tree


@SETTINGS
@given(stored=st.one_of(st.booleans(), st.integers(-2, 2)), operand=st.one_of(st.booleans(), st.integers(-2, 2)))
def test_booleans_never_equal_numbers(stored: Any, operand: Any) -> None:
    matches = parse({"attr": "custom.flag", "op": "eq", "value": operand}).evaluate(
        view({"custom.flag": stored}), NOW, LONDON
    )
    assert matches is (type(stored) is type(operand) and stored == operand)
