"""Compile typed rule nodes into closures, once, so evaluating a customer is a chain of plain calls.

Every decision that depends only on the rule (which operator, which type, the casefolded operand) is taken
here at compile time; the closures left behind do a dict lookup, a type check and a comparison. Operands that
depend on the clock (relative windows, a date-only value meaning local midnight) are resolved when a rule is
*bound* to a ``(now, tz)`` pair, which happens once per distinct pair, not once per customer.

Every predicate takes ``(attributes, events)``: a customer's attribute dict and events by name, or an event's
property dict (and ``None``) inside a ``where`` clause.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any, TypeAlias

from segmentation.features.catalogue import AttrType
from segmentation.features.compute import EventFact, window_start
from segmentation.rules.nodes import AttrLeaf, BehaviourLeaf, Comparison, Group, Node, SegmentRef

Attributes: TypeAlias = Mapping[str, Any]
Events: TypeAlias = Mapping[str, Sequence[EventFact]] | None
Pred: TypeAlias = Callable[[Attributes, Events], bool]

# Exact classes, so ``True`` (a bool, an int subclass) is never taken for the number 1. A ``Decimal`` (how
# DynamoDB returns numbers) is compared as the float every other evaluator sees: compared exactly,
# Decimal("0.1") would be less than 0.1.
_NUMBERS = frozenset({int, float})
_LISTS = (list, tuple, set, frozenset)
_EPOCH = datetime.min.replace(tzinfo=UTC)


class Clock:
    """The explicit ``now`` (held in UTC) and the shop's time zone a rule is evaluated against."""

    __slots__ = ("_starts", "now", "tz")

    def __init__(self, now: datetime, tz: tzinfo) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware, e.g. datetime.now(UTC)")
        self.now = now.astimezone(UTC)
        self.tz = tz
        self._starts: dict[int, datetime] = {}

    def start(self, days: int) -> datetime:
        """``now`` minus ``days`` calendar days on the shop's wall clock, in UTC."""
        found = self._starts.get(days)
        if found is None:
            found = self._starts[days] = window_start(self.now, days, self.tz)  # type: ignore[arg-type]
        return found

    def instant(self, value: date | datetime) -> datetime:
        """An operand as an instant: a date-only value means midnight at the start of that day in the shop."""
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime(value.year, value.month, value.day, tzinfo=self.tz).astimezone(UTC)


def runtime_instant(value: Any, tz: tzinfo) -> datetime | None:
    """A stored value as an instant, or ``None`` when it is not a date or time (so the leaf is false)."""
    if isinstance(value, datetime):
        # Instants are stored in UTC; a naive one can only have come from there.
        return value if value.tzinfo is not None and value.utcoffset() is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz).astimezone(UTC)
    return None


@dataclass(frozen=True)
class Compiled:
    """A compiled node: ``static`` when it does not depend on the clock, else built by ``binder`` per clock."""

    static: Pred | None
    binder: Callable[[Clock], Pred]
    cost: int  # a rough price, so cheap conditions run first in all/any

    def bind(self, clock: Clock) -> Pred:
        return self.static if self.static is not None else self.binder(clock)


def _static(pred: Pred, cost: int = 1) -> Compiled:
    return Compiled(pred, lambda clock: pred, cost)


def _dynamic(binder: Callable[[Clock], Pred], cost: int = 1) -> Compiled:
    return Compiled(None, binder, cost)


def compile_node(node: Node, segments: dict[str, Compiled] | None = None) -> Compiled:
    """Compile ``node`` (and the segments it references, once each, memoised in ``segments``)."""
    memo = segments if segments is not None else {}
    if isinstance(node, AttrLeaf):
        return compile_leaf(node)
    if isinstance(node, BehaviourLeaf):
        where = compile_node(node.where, memo) if node.where is not None else None
        return compile_behaviour(node, where)
    if isinstance(node, SegmentRef):
        found = memo.get(node.segment_id)
        if found is None:
            found = memo[node.segment_id] = compile_node(node.root, memo)
        return found
    return _compile_group(node, memo)


# -- groups ------------------------------------------------------------------------------------------------


def _compile_group(node: Group, memo: dict[str, Compiled]) -> Compiled:
    children = [compile_node(child, memo) for child in node.children]
    cost = sum(child.cost for child in children)
    if node.kind == "not":
        child = children[0]
        if child.static is not None:
            return _static(_negate(child.static), cost)
        binder = child.binder
        return _dynamic(lambda clock: _negate(binder(clock)), cost)
    # Logic is pure, so the order of evaluation is free: run the cheap conditions first.
    ordered = sorted(children, key=lambda child: child.cost)
    combine = _all if node.kind == "all" else _any
    statics = [child.static for child in ordered]
    if all(pred is not None for pred in statics):
        return _static(combine(statics), cost)  # type: ignore[arg-type]
    return _dynamic(lambda clock: combine([child.bind(clock) for child in ordered]), cost)


def _negate(pred: Pred) -> Pred:
    def negated(a: Attributes, e: Events) -> bool:
        return not pred(a, e)

    return negated


def _all(preds: list[Pred]) -> Pred:
    # Unrolled for the common small groups: a loop costs more than a chain of ``and``.
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        p0, p1 = preds
        return lambda a, e: p0(a, e) and p1(a, e)
    if len(preds) == 3:
        p0, p1, p2 = preds
        return lambda a, e: p0(a, e) and p1(a, e) and p2(a, e)
    if len(preds) == 4:
        p0, p1, p2, p3 = preds
        return lambda a, e: p0(a, e) and p1(a, e) and p2(a, e) and p3(a, e)
    frozen = tuple(preds)

    def every(a: Attributes, e: Events) -> bool:
        return all(pred(a, e) for pred in frozen)

    return every


def _any(preds: list[Pred]) -> Pred:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        p0, p1 = preds
        return lambda a, e: p0(a, e) or p1(a, e)
    if len(preds) == 3:
        p0, p1, p2 = preds
        return lambda a, e: p0(a, e) or p1(a, e) or p2(a, e)
    if len(preds) == 4:
        p0, p1, p2, p3 = preds
        return lambda a, e: p0(a, e) or p1(a, e) or p2(a, e) or p3(a, e)
    frozen = tuple(preds)

    def some(a: Attributes, e: Events) -> bool:
        return any(pred(a, e) for pred in frozen)

    return some


# -- attribute leaves --------------------------------------------------------------------------------------


def _is_time_operand(operand: Any) -> bool:
    if isinstance(operand, tuple):
        return bool(operand) and all(isinstance(item, date) for item in operand)
    return isinstance(operand, date)


def compile_leaf(leaf: AttrLeaf) -> Compiled:
    """One attribute (or event property) condition as a predicate."""
    name, op, operand, kind = leaf.name, leaf.op, leaf.operand, leaf.type
    if op == "exists":
        return _static(lambda a, e: a.get(name) is not None)
    if op == "not_exists":
        return _static(lambda a, e: a.get(name) is None)
    if (
        kind in (AttrType.DATETIME, AttrType.DATE)
        or op in ("within_last_days", "more_than_days_ago", "before", "after")
        or _is_time_operand(operand)
    ):
        return _dynamic(_time_binder(name, op, operand))
    if kind is AttrType.STRING_LIST:
        return _static(_list_leaf(name, op, operand))
    if kind is AttrType.ANY:
        if op in ("in", "not_in"):
            return _static(_mixed_in_leaf(name, op, operand))
        if op in ("contains", "not_contains"):
            return _static(_any_contains_leaf(name, op, operand))
        sample = operand[0] if op == "between" else operand
        if isinstance(sample, str):
            return _static(_string_leaf(name, op, operand))
        if isinstance(sample, bool):
            return _static(_bool_leaf(name, op, operand))
        return _static(_number_leaf(name, op, operand))
    if kind is AttrType.STRING:
        return _static(_string_leaf(name, op, operand))
    if kind is AttrType.BOOLEAN:
        return _static(_bool_leaf(name, op, operand))
    return _static(_number_leaf(name, op, operand))


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _number_leaf(name: str, op: str, t: Any) -> Pred:
    dec = Decimal
    if op in _COMPARE:
        compare = _COMPARE[op]

        def leaf(a: Attributes, e: Events) -> bool:
            v: Any = a.get(name)
            kind = v.__class__
            if kind is float or kind is int:
                return compare(v, t)
            return kind is dec and compare(float(v), t)

        return leaf
    if op == "between":
        lo, hi = t

        def between(a: Attributes, e: Events) -> bool:
            v: Any = a.get(name)
            kind = v.__class__
            if kind is float or kind is int:
                return bool(lo <= v <= hi)
            return kind is dec and lo <= float(v) <= hi

        return between
    members = frozenset(t)
    positive = op == "in"

    def member(a: Attributes, e: Events) -> bool:
        v: Any = a.get(name)
        kind = v.__class__
        if kind is float or kind is int:
            return (v in members) is positive
        return kind is dec and (float(v) in members) is positive

    return member


def _string_leaf(name: str, op: str, t: Any) -> Pred:
    if op in ("in", "not_in"):
        members = frozenset(item.casefold() for item in t)
        if op == "in":
            return lambda a, e: isinstance(v := a.get(name), str) and v.casefold() in members
        return lambda a, e: isinstance(v := a.get(name), str) and v.casefold() not in members
    folded = t.casefold()
    if op == "eq":
        return lambda a, e: isinstance(v := a.get(name), str) and v.casefold() == folded
    if op == "neq":
        return lambda a, e: isinstance(v := a.get(name), str) and v.casefold() != folded
    if op == "contains":
        return lambda a, e: isinstance(v := a.get(name), str) and folded in v.casefold()
    if op == "not_contains":
        return lambda a, e: isinstance(v := a.get(name), str) and folded not in v.casefold()
    if op == "starts_with":
        return lambda a, e: isinstance(v := a.get(name), str) and v.casefold().startswith(folded)
    raise ValueError(f"operator {op!r} does not apply to text")


def _bool_leaf(name: str, op: str, t: Any) -> Pred:
    # Identity on the two singletons: 1, 1.0 and "true" are never booleans.
    if op == "eq":
        return lambda a, e: a.get(name) is t
    if op == "neq":
        other = not t
        return lambda a, e: a.get(name) is other
    members = frozenset(t)
    if op == "in":
        return lambda a, e: ((v := a.get(name)) is True or v is False) and v in members
    if op == "not_in":
        return lambda a, e: ((v := a.get(name)) is True or v is False) and v not in members
    raise ValueError(f"operator {op!r} does not apply to true/false")


def _list_leaf(name: str, op: str, t: Any) -> Pred:
    # A list attribute: "in" / "contains" hold when some element matches; their negations when none does.
    members = frozenset({t.casefold()}) if isinstance(t, str) else frozenset(item.casefold() for item in t)
    positive = op in ("in", "contains")

    def leaf(a: Attributes, e: Events) -> bool:
        v = a.get(name)
        if not isinstance(v, _LISTS):
            return False
        for item in v:
            if isinstance(item, str) and item.casefold() in members:
                return positive
        return not positive

    return leaf


def _any_contains_leaf(name: str, op: str, t: str) -> Pred:
    # A custom attribute holds whatever the shop stored: substring on text, membership on a list.
    folded = t.casefold()
    positive = op == "contains"

    def leaf(a: Attributes, e: Events) -> bool:
        v = a.get(name)
        if isinstance(v, str):
            return (folded in v.casefold()) is positive
        if isinstance(v, _LISTS):
            for item in v:
                if isinstance(item, str) and item.casefold() == folded:
                    return positive
            return not positive
        return False

    return leaf


def _mixed_in_leaf(name: str, op: str, t: tuple[Any, ...]) -> Pred:
    # Separate sets per kind: in a single set True == 1 and hash(True) == hash(1) would mix them up.
    texts = frozenset(item.casefold() for item in t if isinstance(item, str))
    bools = frozenset(item for item in t if isinstance(item, bool))
    numbers = frozenset(item for item in t if not isinstance(item, str | bool))
    positive = op == "in"

    def member(x: Any) -> bool | None:
        if isinstance(x, str):
            return x.casefold() in texts
        if x is True or x is False:
            return x in bools
        if x.__class__ in _NUMBERS:
            return x in numbers
        if x.__class__ is Decimal:
            return float(x) in numbers
        return None

    def leaf(a: Attributes, e: Events) -> bool:
        v = a.get(name)
        if isinstance(v, _LISTS):
            for item in v:
                if member(item):
                    return positive
            return not positive
        found = member(v)
        if found is None:
            return False
        return found is positive

    return leaf


def _time_binder(name: str, op: str, operand: Any) -> Callable[[Clock], Pred]:
    def bind(clock: Clock) -> Pred:
        if op == "within_last_days":
            return _time_range(name, clock.start(operand), clock.now, clock.tz)
        if op == "more_than_days_ago":
            return _time_compare(name, "lt", clock.start(operand), clock.tz)
        if op == "between":
            lo, hi = operand
            return _time_range(name, clock.instant(lo), clock.instant(hi), clock.tz)
        compare = {"before": "lt", "after": "gt"}.get(op, op)
        return _time_compare(name, compare, clock.instant(operand), clock.tz)

    return bind


def _time_range(name: str, lo: datetime, hi: datetime, tz: tzinfo) -> Pred:
    exact = datetime
    convert = runtime_instant

    def leaf(a: Attributes, e: Events) -> bool:
        v = a.get(name)
        if v.__class__ is exact:
            try:
                return lo <= v <= hi
            except TypeError:  # a naive datetime; rare, so not worth a check on every call
                pass
        v = convert(v, tz)
        return v is not None and lo <= v <= hi

    return leaf


def _time_compare(name: str, op: str, t: datetime, tz: tzinfo) -> Pred:
    exact = datetime
    convert = runtime_instant
    compare = _COMPARE[op]

    def leaf(a: Attributes, e: Events) -> bool:
        v = a.get(name)
        if v.__class__ is exact:
            try:
                return compare(v, t)
            except TypeError:  # a naive datetime
                pass
        v = convert(v, tz)
        return v is not None and compare(v, t)

    return leaf


# -- behaviour ---------------------------------------------------------------------------------------------


def number_test(comparison: Comparison) -> Callable[[Any], bool]:
    """A test of a count or an aggregate; a missing aggregate (``None``) fails every comparison."""
    op, t = comparison.op, comparison.operand
    if op == "eq":
        return lambda v: v is not None and v == t
    if op == "neq":
        return lambda v: v is not None and v != t
    if op == "gt":
        return lambda v: v is not None and v > t
    if op == "gte":
        return lambda v: v is not None and v >= t
    if op == "lt":
        return lambda v: v is not None and v < t
    if op == "lte":
        return lambda v: v is not None and v <= t
    if op == "between":
        lo, hi = t
        return lambda v: v is not None and lo <= v <= hi
    raise ValueError(f"operator {op!r} cannot compare a count or an aggregate")


def measure(
    leaf: BehaviourLeaf, where: Pred | None, clock: Clock, events: Events
) -> tuple[int, float | int | Decimal | None]:
    """The events a behaviour condition matches at ``clock``: their count and the aggregate (if any).

    Events after ``now`` are not visible yet; with a window, only ``now - N days <= t <= now`` count. The sum
    over no values is 0; the average, minimum and maximum over no values are missing. A matched event whose
    property is missing or not a number counts as an event but adds no value to the aggregate.
    """
    now = clock.now
    start = clock.start(leaf.within_last_days) if leaf.within_last_days is not None else _EPOCH
    facts = events.get(leaf.event) if events else None
    prop = leaf.prop
    numbers = _NUMBERS
    count = 0
    seen = 0
    total: Any = 0
    low: Any = None
    high: Any = None
    for fact in facts or ():
        at = fact.at
        if at > now or at < start:
            continue
        if where is not None and not where(fact.props, None):
            continue
        count += 1
        if prop is not None:
            value = fact.props.get(prop)
            if value.__class__ is Decimal:
                value = float(value)
            if value.__class__ in numbers:
                seen += 1
                total += value
                if low is None or value < low:
                    low = value
                if high is None or value > high:
                    high = value
    aggregate = leaf.aggregate
    if aggregate is None:
        return count, None
    if aggregate == "sum":
        return count, total
    if not seen:
        return count, None
    if aggregate == "avg":
        return count, total / seen
    return count, low if aggregate == "min" else high


def compile_behaviour(leaf: BehaviourLeaf, where: Compiled | None) -> Compiled:
    """A behaviour condition as a predicate, bound per clock (it always depends on ``now``)."""
    count_test = number_test(leaf.count) if leaf.count is not None else None
    aggregate_test = number_test(leaf.aggregate_test) if leaf.aggregate_test is not None else None

    if leaf.aggregate is not None:

        def bind_aggregate(clock: Clock) -> Pred:
            where_pred = where.bind(clock) if where is not None else None

            def pred(a: Attributes, e: Events) -> bool:
                count, value = measure(leaf, where_pred, clock, e)
                return (
                    (count_test is None or count_test(count)) and aggregate_test is not None and aggregate_test(value)
                )

            return pred

        return _dynamic(bind_aggregate, cost=20)

    assert leaf.count is not None and count_test is not None
    # "at least k" is settled as soon as k events match: no need to scan the rest of the history.
    threshold = leaf.count.operand
    enough = threshold if leaf.count.op == "gte" else threshold + 1 if leaf.count.op == "gt" else sys.maxsize
    event, days = leaf.event, leaf.within_last_days
    test = count_test

    def bind_count(clock: Clock) -> Pred:
        now = clock.now
        start = clock.start(days) if days is not None else _EPOCH
        where_pred = where.bind(clock) if where is not None else None

        def pred(a: Attributes, e: Events) -> bool:
            facts = e.get(event) if e else None
            count = 0
            if facts:
                for fact in facts:
                    at = fact.at
                    if at > now or at < start:
                        continue
                    if where_pred is not None and not where_pred(fact.props, None):
                        continue
                    count += 1
                    if count >= enough:
                        return True
            return test(count)

        return pred

    return _dynamic(bind_count, cost=10)
