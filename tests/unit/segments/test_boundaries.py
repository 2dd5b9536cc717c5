"""Next time boundary: the earliest instant at which time alone can change a verdict; early is allowed, late never."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.domain.models import (
    CustomerProfile,
    EngagementKind,
    OrderLine,
    StoredEngagement,
    StoredOrder,
)
from segmentation.features.catalogue import ATTRIBUTES
from segmentation.features.compute import CustomerHistory, build_view, window_start
from segmentation.rules import Rule, parse_rule
from segmentation.segments.boundaries import (
    DST_MARGIN,
    STEPPED_ATTRIBUTES,
    TICK,
    WINDOWED_ATTRIBUTES,
    BoundaryPlan,
    critical_day_counts,
    next_birthday,
    next_boundary,
    window_exit,
)
from segmentation.segments.templates import BY_ID

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def order(order_id: str, at: datetime, total: float = 30.0, scent: str | None = "lavender") -> StoredOrder:
    line = OrderLine(sku="EO-1", category="essential_oils", scent=scent, quantity=1, unit_price=total)
    return StoredOrder(order_id=order_id, placed_at=at, total=total, lines=[line])


def history(orders: list[StoredOrder] = (), opens: list[datetime] = (), **profile: Any) -> CustomerHistory:  # type: ignore[assignment]
    engagements = [
        StoredEngagement(event_id=f"e{i}", kind=EngagementKind.EMAIL_OPENED, occurred_at=at)
        for i, at in enumerate(opens)
    ]
    return CustomerHistory(CustomerProfile(customer_id="c1", **profile), list(orders), engagements)


def boundary(rules: list[dict[str, Any]], hist: CustomerHistory, now: datetime = NOW, tz: Any = LONDON):
    plan = BoundaryPlan.of(parse_rule(rule) for rule in rules)
    return next_boundary(plan, build_view(hist, now, tz), hist, now, tz)


def verdict(rule: Rule, hist: CustomerHistory, at: datetime, tz: Any = LONDON) -> bool:
    return rule.evaluate(build_view(hist, at, tz), at, tz)


# ---------------------------------------------------------------- exact instants


def test_dormant_90_boundary_is_the_exact_instant_after_day_90():
    # Given a last order 19 days ago (in winter time, as is day 90) and the built-in "dormant 90 days"
    last = NOW - timedelta(days=19)
    hist = history([order("o1", last)])
    dormant = parse_rule(BY_ID["dormant_90"].rule)

    # When her boundary is computed
    at = boundary([BY_ID["dormant_90"].rule], hist)

    # Then it is the instant just after day 90 on the shop's calendar, when she becomes dormant, not before
    assert at == last + timedelta(days=90) + TICK
    assert not verdict(dormant, hist, at - TICK)
    assert verdict(dormant, hist, at)


def test_a_window_crossing_a_clock_change_is_measured_on_the_wall_clock():
    # Given an order placed in summer time, whose day 90 falls in winter time (London: 2026-10-25)
    last = datetime(2026, 9, 1, 9, 30, tzinfo=UTC)
    hist = history([order("o1", last)])
    now = datetime(2026, 9, 10, tzinfo=UTC)

    # Then the boundary is 90 calendar days later at the same wall-clock time: one hour more than 90 x 24 h
    at = boundary([{"attr": "last_order_at", "op": "more_than_days_ago", "value": 90}], hist, now)
    assert at == last + timedelta(days=90, hours=1) + TICK
    assert (at - TICK).astimezone(LONDON).time() == last.astimezone(LONDON).time()


def test_orders_leaving_a_window_are_boundaries_in_turn():
    # Given four orders in the last year and "frequent buyers" (4+ orders in 365 days)
    days_ago = [300, 200, 100, 10]
    hist = history([order(f"o{d}", NOW - timedelta(days=d)) for d in days_ago])
    rule = BY_ID["frequent_buyers"].rule

    # Then the next boundary is the oldest order leaving the window (day 365 after it)
    first = boundary([rule], hist)
    assert first == NOW - timedelta(days=300) + timedelta(days=365) + TICK
    assert verdict(parse_rule(rule), hist, first - TICK) and not verdict(parse_rule(rule), hist, first)
    # And after it the next one
    assert boundary([rule], hist, first) == NOW - timedelta(days=200) + timedelta(days=365) + TICK


def test_windowed_counts_change_when_an_event_leaves_their_window():
    opens = [NOW - timedelta(days=d) for d in (29, 12, 2)]
    hist = history(opens=opens)
    at = boundary([{"attr": "email_opens_30d", "op": "gte", "value": 3}], hist)
    # 30 days on the shop's calendar: the first open was in summer time, its day 30 is in winter time
    assert at == (opens[0].astimezone(LONDON) + timedelta(days=30)).astimezone(UTC) + TICK


def test_day_counts_flip_only_at_the_thresholds_a_rule_names():
    # Given a last order on 1 November (local) and "more than 30 days since the last order"
    last = datetime(2026, 11, 1, 15, tzinfo=UTC)
    hist = history([order("o1", last)])
    rule = {"attr": "days_since_last_order", "op": "gt", "value": 30}

    # Then the boundary is the local midnight starting day 31, not every midnight
    at = boundary([rule], hist)
    assert at == datetime(2026, 12, 2, tzinfo=LONDON).astimezone(UTC)
    assert not verdict(parse_rule(rule), hist, at - TICK) and verdict(parse_rule(rule), hist, at)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gt", 30, {31}),
        ("gte", 30, {30}),
        ("lt", 7.5, {8}),
        ("lte", 7.5, {8}),
        ("between", (10, 20), {10, 21}),
        ("in", (3, 5), {3, 4, 5, 6}),
        ("eq", 2.5, set()),
        ("exists", None, set()),
    ],
)
def test_critical_day_counts(op: str, value: Any, expected: set[int]):
    assert critical_day_counts(op, value) == expected


def test_age_changes_at_local_midnight_of_the_birthday():
    hist = history(birth_date=date(1990, 12, 3))
    at = boundary([{"attr": "age", "op": "gte", "value": 36}], hist)
    assert at == datetime(2026, 12, 3, tzinfo=LONDON).astimezone(UTC)
    rule = parse_rule({"attr": "age", "op": "gte", "value": 36})
    assert not verdict(rule, hist, at - TICK) and verdict(rule, hist, at)


def test_leap_day_birthdays_count_on_the_first_of_march_in_common_years():
    assert next_birthday(date(2000, 2, 29), date(2027, 1, 10)) == date(2027, 3, 1)
    assert next_birthday(date(2000, 2, 29), date(2027, 12, 1)) == date(2028, 2, 29)


def test_a_fact_dated_in_the_future_is_a_boundary_for_any_rule():
    # Given an order stamped an hour ahead of our clock, and a rule that does not depend on time at all
    ahead = NOW + timedelta(hours=1)
    hist = history([order("o1", ahead, total=600)])
    rule = BY_ID["high_value"].rule
    assert boundary([rule], hist) == ahead
    assert not verdict(parse_rule(rule), hist, NOW) and verdict(parse_rule(rule), hist, ahead)


def test_no_boundary_when_time_cannot_change_anything():
    hist = history([order("o1", NOW - timedelta(days=3))], country="GB")
    assert boundary([BY_ID["uk_customers"].rule, BY_ID["high_value"].rule], hist) is None
    assert boundary([], hist) is None
    # a customer with no order has no day 90
    assert boundary([BY_ID["dormant_90"].rule], history()) is None


def test_segment_references_bring_their_time_relative_parts():
    last = NOW - timedelta(days=10)
    lookup = {"recent": {"attr": "last_order_at", "op": "within_last_days", "value": 30}}.get
    rule = parse_rule({"not": {"in_segment": "recent"}}, segment_lookup=lookup)
    plan = BoundaryPlan.of([rule])
    hist = history([order("o1", last)])
    assert next_boundary(plan, build_view(hist, NOW, LONDON), hist, NOW, LONDON) == last + timedelta(days=30) + TICK


def test_every_time_relative_attribute_of_the_catalogue_has_a_boundary_rule():
    # (model scores drift continuously: the daily refresh of time-relative segments covers them)
    drifting = {a.name for a in ATTRIBUTES if a.time_relative and not a.model}
    assert drifting <= set(WINDOWED_ATTRIBUTES) | STEPPED_ATTRIBUTES


def test_model_scores_set_no_boundary_and_are_left_to_the_daily_refresh():
    rule = parse_rule({"attr": "predicted.p_alive", "op": "lt", "value": 0.3})
    assert rule.time_relative  # so the daily refresh includes its segment
    assert BoundaryPlan.of([rule]) == BoundaryPlan(active=True)


def test_window_exit_near_a_clock_change_is_early_never_late():
    # Given an order whose 7-day window ends within hours of the end of summer time in New York (2026-11-01)
    t = datetime(2026, 10, 25, 5, 30, tzinfo=UTC)  # 01:30 EDT
    now = datetime(2026, 10, 26, tzinfo=UTC)
    at = window_exit(t, 7, now, NEW_YORK)
    assert at is not None
    # Then no instant before it has already left the window, and it is at most DST_MARGIN early
    first_out = _first_instant_after(now, lambda x: window_start(x, 7, NEW_YORK) > t)
    assert at <= first_out
    assert first_out - at <= DST_MARGIN + timedelta(hours=2)


def _first_instant_after(start: datetime, predicate: Any) -> datetime:
    """Smallest x > start with predicate(x), by minute steps and then bisection to the microsecond."""
    step = timedelta(minutes=1)
    x = start
    while not predicate(x):
        x += step
    lo, hi = x - step, x
    while hi - lo > TICK:
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=mid.microsecond)
        if predicate(mid):
            hi = mid
        else:
            lo = mid
    return hi


# ---------------------------------------------------------------- the property: never late

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = [LONDON, NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Australia/Lord_Howe")]
# Instants near the clock changes of 2026 and 2027 are drawn as often as arbitrary ones: that is where the
# wall-clock window is hardest to invert.
CHANGES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2027, 3, 14, 7, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
]
# A now shortly after a clock change puts some windows' ends near the change (the facts are drawn relative to now).
nows = st.builds(
    lambda base, days, minutes: base + timedelta(days=days, minutes=minutes),
    st.sampled_from(CHANGES),
    st.sampled_from([0, 1, 7, 30, 90, -1, -7, 120]),
    st.integers(-300, 300),
)
windows = st.sampled_from([0, 1, 7, 30, 90, 365])
attr_leaves = st.one_of(
    st.builds(
        lambda name, op, days: {"attr": name, "op": op, "value": days},
        st.sampled_from(["last_order_at", "first_order_at", "last_engaged_at", "registered_at", "birth_date"]),
        st.sampled_from(["within_last_days", "more_than_days_ago"]),
        windows,
    ),
    *(
        st.builds(
            lambda name, op, v: {"attr": name, "op": op, "value": v},
            names,
            st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
            values,
        )
        for names, values in (
            (st.just("days_since_last_order"), st.sampled_from([0, 1, 2, 7, 29.5, 30, 90])),
            (st.just("age"), st.sampled_from([29.5, 30, 36])),
            (st.sampled_from(sorted(WINDOWED_ATTRIBUTES)), st.sampled_from([0, 1, 2, 3, 45.5])),
        )
    ),
    st.builds(
        lambda lo, span: {"attr": "days_since_last_order", "op": "between", "value": [lo, lo + span]},
        st.integers(0, 100),
        st.integers(0, 30),
    ),
    st.just({"attr": "total_spent", "op": "gte", "value": 50}),
)
behaviour_leaves = st.builds(
    lambda event, days, k, where: {
        "event": event,
        "within_last_days": max(days, 1),
        "count": {"op": "gte", "value": k},
        **({"where": {"attr": "scents", "op": "contains", "value": "lavender"}} if where and event[0] == "o" else {}),
    },
    st.sampled_from(["order_completed", "email_opened"]),
    windows,
    st.integers(0, 3),
    st.booleans(),
)
leaves = st.one_of(attr_leaves, behaviour_leaves)
rules = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, children),
    ),
    max_leaves=5,
)


@st.composite
def birthdays_near(draw: st.DrawFn, now: datetime) -> date:
    """A birth date whose birthday is within days of now, at an age a drawn rule compares with."""
    day = now.date() + timedelta(days=draw(st.integers(-2, 3)))
    years = draw(st.sampled_from([29, 30, 35, 36]))
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return date(day.year - years, 2, 28)


@st.composite
def histories(draw: st.DrawFn, now: datetime) -> CustomerHistory:
    def instant() -> datetime:
        return now + draw(
            st.one_of(
                st.builds(lambda d, m: timedelta(days=d, minutes=m), st.integers(-400, 2), st.integers(-1440, 1440)),
                st.sampled_from([timedelta(days=-d) for d in (1, 7, 30, 90, 365)]),
            )
        )

    orders = [
        order(
            f"o{i}", instant(), scent=draw(st.sampled_from(["lavender", None])), total=draw(st.sampled_from([20, 60]))
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    opens = [instant() for _ in range(draw(st.integers(0, 3)))]
    birth = draw(st.one_of(st.none(), birthdays_near(now), st.dates(date(1950, 1, 1), date(2008, 12, 31))))
    registered = draw(st.one_of(st.none(), st.just(instant())))
    return history(orders, opens, birth_date=birth, registered_at=registered)


@SETTINGS
@given(data=st.data(), tree=rules, now=nows, tz=st.sampled_from(ZONES))
def test_no_verdict_changes_before_the_boundary(data: st.DataObject, tree: dict[str, Any], now: datetime, tz: Any):
    # Given any customer, any time-relative rule and any now
    hist = data.draw(histories(now))
    rule = parse_rule(tree)
    at = next_boundary(BoundaryPlan.of([rule]), build_view(hist, now, tz), hist, now, tz)
    before = verdict(rule, hist, now, tz)
    # Then the boundary is in the future, and until then the verdict stays what it is now
    horizon = now + timedelta(days=800)
    end = min(at, horizon) if at is not None else horizon
    assert at is None or at > now
    probes = {end - TICK, now + (end - now) / 2, now + TICK}
    probes |= {now + (end - now) * data.draw(st.floats(0, 1)) for _ in range(3)}
    for probe in sorted(p for p in probes if now < p < end):
        assert verdict(rule, hist, probe, tz) == before, (probe, at)
