"""When can the mere passage of time change a customer's verdict? Her next time boundary.

A verdict depends on ``now`` only through the rule's time-relative parts: relative-time operators
(``within_last_days``, ``more_than_days_ago``), behaviour windows, and attributes whose value drifts with the
clock (``days_since_last_order``, ``orders_90d``, ``age``, ...). Given the active rules and one customer's data,
each of those parts can only flip at a few known instants: an order leaving a 90-day window, day 90 after the
last order, the local midnight of a birthday, a fact dated in the future becoming visible. The earliest of them
is ``next_boundary_at``; until then every verdict is what it was at ``now``.

The boundary may be early (re-evaluating then changes nothing, and a later boundary is computed), but never late:
that is the contract the boundary schedule and its latency guarantee rely on (see docs/freshness.md). Scores of
the published model (``predicted.*``, ``rfm.*``, ...) are the exception: they drift continuously and are left to
the daily refresh of time-relative segments. Near a
daylight-saving change the wall-clock window cannot be inverted exactly, so the boundary is then taken a few
hours early (``DST_MARGIN``); everywhere else it is the exact microsecond at which the verdict can change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from segmentation.features.catalogue import is_model_attribute
from segmentation.features.compute import CustomerHistory, CustomerView, window_start
from segmentation.rules import Rule
from segmentation.rules.evaluate import runtime_instant
from segmentation.rules.nodes import RELATIVE_TIME_OPS, AttrLeaf, BehaviourLeaf, walk

# Attributes that count or sum the events of a trailing window: they change when an event leaves the window.
WINDOWED_ATTRIBUTES: dict[str, tuple[str, int]] = {
    "orders_30d": ("order_completed", 30),
    "orders_90d": ("order_completed", 90),
    "orders_365d": ("order_completed", 365),
    "spent_30d": ("order_completed", 30),
    "spent_90d": ("order_completed", 90),
    "spent_365d": ("order_completed", 365),
    "email_opens_30d": ("email_opened", 30),
    "email_clicks_30d": ("email_clicked", 30),
    "site_visits_30d": ("site_visited", 30),
}
# Time-relative attributes with their own rule below; any other one falls back to "every local midnight".
STEPPED_ATTRIBUTES = frozenset({"days_since_last_order", "age"})

TICK = timedelta(microseconds=1)  # the resolution of an instant: "just after" t is t + TICK
# Larger than twice the widest daylight-saving shift in use (2 h): brackets the inverse of a wall-clock window.
DST_MARGIN = timedelta(hours=4)
_STEADY_SPAN = timedelta(hours=5)


@dataclass(frozen=True)
class BoundaryPlan:
    """What, in the active rules, can flip with time; built once per set of rules, applied to every customer."""

    active: bool = False  # any segment at all: facts dated after now become visible when their time comes
    attribute_windows: frozenset[tuple[str, int]] = frozenset()  # (date attribute, days) of relative operators
    event_windows: frozenset[tuple[str, int]] = frozenset()  # (event, days) of behaviour windows and windowed counts
    days_since_thresholds: frozenset[int] = frozenset()  # day counts at which a days_since_last_order leaf can flip
    birthdays: bool = False  # a rule reads age
    every_midnight: bool = False  # a time-relative attribute with no finer rule: re-check at each local midnight

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> BoundaryPlan:
        active = False
        attribute_windows: set[tuple[str, int]] = set()
        event_windows: set[tuple[str, int]] = set()
        thresholds: set[int] = set()
        birthdays = every_midnight = False
        for rule in rules:
            active = True
            for node in walk(rule.root):
                if isinstance(node, BehaviourLeaf):
                    if node.within_last_days is not None:
                        event_windows.add((node.event, node.within_last_days))
                    continue
                if not isinstance(node, AttrLeaf) or node.is_property or not node.time_relative:
                    continue
                if is_model_attribute(node.name):
                    # Model scores (P(alive), expected orders, CLV) decay continuously with no single instant to
                    # wait for; the daily refresh re-evaluates every time-relative segment (docs/freshness.md).
                    continue
                if node.op in RELATIVE_TIME_OPS:
                    attribute_windows.add((node.name, int(node.operand)))
                    continue
                if node.op in ("exists", "not_exists"):
                    continue  # whether a drifting value exists does not drift (new facts aside, handled apart)
                if node.name in WINDOWED_ATTRIBUTES:
                    event_windows.add(WINDOWED_ATTRIBUTES[node.name])
                elif node.name == "age":
                    birthdays = True
                elif node.name == "days_since_last_order":
                    try:
                        thresholds |= critical_day_counts(node.op, node.operand)
                    except ValueError:
                        every_midnight = True
                else:
                    every_midnight = True
        return cls(
            active=active,
            attribute_windows=frozenset(attribute_windows),
            event_windows=frozenset(event_windows),
            days_since_thresholds=frozenset(thresholds),
            birthdays=birthdays,
            every_midnight=every_midnight,
        )


def critical_day_counts(op: str, operand: Any) -> set[int]:
    """Whole-day counts d at which a numeric condition on a day count can change its verdict (between d - 1 and d).

    ``gt v`` holds from floor(v) + 1 on, ``gte v`` from ceil(v), ``lt v`` until ceil(v), ``lte v`` until floor(v) + 1;
    equality with an integer v changes at v and at v + 1.
    """

    def numbers(values: Iterable[Any]) -> list[float | int | Decimal]:
        return [v for v in values if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)]

    if op in ("gt", "lte"):
        return {math.floor(v) + 1 for v in numbers([operand])}
    if op in ("gte", "lt"):
        return {math.ceil(v) for v in numbers([operand])}
    if op == "between":
        low, high = operand
        return {math.ceil(v) for v in numbers([low])} | {math.floor(v) + 1 for v in numbers([high])}
    if op in ("eq", "neq", "in", "not_in"):
        values = numbers(operand if isinstance(operand, (tuple, list)) else [operand])
        return {int(v) for v in values if v == int(v)} | {int(v) + 1 for v in values if v == int(v)}
    if op in ("exists", "not_exists"):
        return set()
    # An operator this module does not know: every day count is a candidate, i.e. re-check every midnight.
    raise ValueError(op)


def next_boundary(
    plan: BoundaryPlan, view: CustomerView, history: CustomerHistory, now: datetime, tz: tzinfo
) -> datetime | None:
    """The earliest instant after ``now`` at which time alone can change a verdict of the planned rules for this
    customer, or ``None`` when nothing will change until a new fact arrives. ``view`` is the view at ``now``."""
    if not plan.active:
        return None
    candidates: list[datetime] = [t for t in _future_facts(history) if t > now]
    for name, days in plan.attribute_windows:
        t = runtime_instant(view.attributes.get(name), tz)
        if t is None:
            continue
        if t > now:
            candidates.append(t)  # enters "within the last N days" when it stops being in the future
        exit_at = window_exit(t, days, now, tz)
        if exit_at is not None:
            candidates.append(exit_at)
    for event, days in plan.event_windows:
        facts = view.events.get(event)
        if not facts:
            continue
        start = window_start(now, days, tz)  # type: ignore[arg-type]
        for fact in facts:
            if fact.at >= start:
                exit_at = window_exit(fact.at, days, now, tz)
                if exit_at is not None:
                    candidates.append(exit_at)
    local_today = now.astimezone(tz).date()
    if plan.days_since_thresholds:
        last = view.attributes.get("last_order_at")
        if isinstance(last, datetime):
            last_day = last.astimezone(tz).date()
            elapsed = (local_today - last_day).days
            upcoming = [count for count in plan.days_since_thresholds if count > elapsed]
            if upcoming:
                candidates.append(local_midnight(last_day + timedelta(days=min(upcoming)), tz))
    if plan.birthdays:
        birth = view.attributes.get("birth_date")
        if isinstance(birth, date):
            candidates.append(local_midnight(next_birthday(birth, local_today), tz))
    if plan.every_midnight:
        candidates.append(local_midnight(local_today + timedelta(days=1), tz))
    later = [t for t in candidates if t > now]
    return min(later) if later else None


def window_exit(t: datetime, days: int, now: datetime, tz: tzinfo) -> datetime | None:
    """The first instant after ``now`` at which ``t`` is before the start of the ``days``-day window
    (``window_start(x, days) > t``), or ``None`` when that happened already and cannot un-happen.

    The window starts ``days`` calendar days earlier on the shop's wall clock, so its inverse is a wall-clock
    addition. Away from daylight-saving changes that is exact; near one it is only known to within the shift,
    and the answer is ``DST_MARGIN`` early instead (re-checked then, which is harmless).
    """
    x0 = (t.astimezone(tz) + timedelta(days=days)).astimezone(UTC)
    if _steady(t, tz) and _steady(x0, tz) and window_start(x0, days, tz) == t:  # type: ignore[arg-type]
        exact = x0 + TICK
        return exact if exact > now else None
    if x0 + DST_MARGIN <= now:
        return None
    return max(x0 - DST_MARGIN, now + TICK)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The instant the shop's calendar turns to ``day`` (where midnight is skipped, the instant of the jump)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def next_birthday(birth: date, today: date) -> date:
    """The first day after ``today`` on which the age computed on the shop's calendar goes up by one.

    Someone born on 29 February gets a year older on 1 March in common years (as ``age_on`` counts it).
    """
    for year in (today.year, today.year + 1):
        try:
            day = date(year, birth.month, birth.day)
        except ValueError:
            day = date(year, 3, 1)
        if day > today:
            return day
    raise AssertionError("unreachable: a birthday falls within any two consecutive years")


def _steady(t: datetime, tz: tzinfo) -> bool:
    """No UTC-offset change within a few hours of ``t``: the wall clock moves in step with time around it."""
    before = (t - _STEADY_SPAN).astimezone(tz).utcoffset()
    after = (t + _STEADY_SPAN).astimezone(tz).utcoffset()
    return before == after


def _future_facts(history: CustomerHistory) -> Iterable[datetime]:
    # A fact dated after now (a shop clock ahead of ours, a scheduled import) is invisible to every feature until
    # its time comes, then changes counts, recency and behaviour at once.
    for order in history.orders:
        yield order.placed_at
        if order.refunded_at is not None:
            yield order.refunded_at
    for event in history.engagements:
        yield event.occurred_at
