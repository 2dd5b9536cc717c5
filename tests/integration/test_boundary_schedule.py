"""Exact-time exits and entries: the boundary schedule, driven by a controlled clock through the real handlers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from segmentation.store import items
from segmentation.store.clients import client
from tests.integration.conftest import run_refreshes

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the stack fixture's frozen clock
LONDON = ZoneInfo("Europe/London")  # ShopTimeZone's default
LONDON_OFFSET_IN_AUGUST = timedelta(hours=1)


def days_before(t: datetime, days: int) -> datetime:
    """``days`` calendar days before ``t`` on the shop's wall clock (the rule language's "N days ago")."""
    return (t.astimezone(LONDON) - timedelta(days=days)).astimezone(UTC)


def at(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    monkeypatch.setenv("SEGMENTATION_FROZEN_NOW", now.isoformat())


def period(router: Any) -> timedelta:
    """The boundary schedule's period, as the template deploys it."""
    (expression,) = [e for _, name, e in router.schedules() if name == "BoundarySchedule"]
    return timedelta(minutes=int(re.fullmatch(r"rate\((\d+) minutes\)", expression).group(1)))  # type: ignore[union-attr]


def customer_with_last_order(api: Any, customer_id: str, placed_at: datetime) -> None:
    assert api("PUT", f"/customers/{customer_id}", {"email": f"{customer_id}@example.com"})[0] == 200
    order = {
        "order_id": f"o-{customer_id}",
        "placed_at": placed_at.isoformat(),
        "total": 25.0,
        "lines": [{"sku": "EO-1", "category": "essential_oils", "quantity": 1, "unit_price": 25.0}],
    }
    assert api("POST", f"/customers/{customer_id}/orders", order)[0] == 200


def profile_item(router: Any, customer_id: str) -> dict[str, Any]:
    return router.env.client("dynamodb").get_item(
        TableName=router.env.physical_ids["SegmentationTable"],
        Key={"PK": {"S": f"C#{customer_id}"}, "SK": {"S": "#P"}},
    )["Item"]


def membership(api: Any, customer_id: str, segment_id: str) -> dict[str, Any]:
    status, why = api("GET", f"/customers/{customer_id}/segments/{segment_id}/why")
    assert status == 200, why
    return why


def test_a_customer_enters_dormant_90_within_one_schedule_period_of_day_90(stack, api, monkeypatch):
    # Given "dormant 90 days", and a customer whose last order (in summer time) was 89 days and 23 hours ago
    api("POST", "/segment-templates/dormant_90/segments")
    run_refreshes(stack)
    last_order = datetime(2026, 8, 22, 12, 7, 30, tzinfo=UTC)
    customer_with_last_order(api, "c1", last_order)
    # day 90 is measured on the shop's calendar: the same wall-clock time 90 days later, now in winter time
    day_90 = last_order + timedelta(days=90) + LONDON_OFFSET_IN_AUGUST
    assert START < day_90 < START + timedelta(hours=2)

    # Then her profile carries that instant as her next boundary, in the sparse boundary index
    item = profile_item(stack, "c1")
    assert item["next_boundary_at"]["S"] == "2026-11-20T13:07:30.000001Z"
    assert item["GSI2PK"]["S"] == f"B#2026-11-20T13#{items.boundary_shard('c1')}"

    # When the boundary schedule fires every period, on a controlled clock
    step = period(stack)
    entered_at = None
    tick = START
    while tick <= START + timedelta(hours=3) and entered_at is None:
        at(monkeypatch, tick)
        result = stack.fire_schedule("BoundarySchedule")
        assert result["failed"] == 0
        if membership(api, "c1", "dormant_90")["member"]:
            entered_at = tick
            assert result["changes"] == 1 and result["due"] == 1
        tick += step

    # Then she entered at the first run after day 90: never before it, and within one period of it
    assert entered_at is not None
    assert day_90 <= entered_at < day_90 + step
    why = membership(api, "c1", "dormant_90")
    assert why["entered_at"] == entered_at.isoformat()
    assert why["explanation"]["verdict"] is True
    # And her next boundary moved on (nothing else can change for her by time alone: she stays dormant)
    assert "GSI2PK" not in profile_item(stack, "c1")


def test_leaving_a_window_is_as_exact_as_entering_one(stack, api, monkeypatch):
    # Given "bought in the last 30 days" and a customer whose only order is 29 days and 23 hours old
    api(
        "POST",
        "/segments",
        {
            "segment_id": "recent",
            "name": "Recent",
            "rule": {"attr": "last_order_at", "op": "within_last_days", "value": 30},
        },
    )
    run_refreshes(stack)
    last_order = days_before(START + timedelta(minutes=50), 30)
    customer_with_last_order(api, "c1", last_order)
    assert membership(api, "c1", "recent")["member"] is True
    # When the schedule fires just before and just after day 30
    at(monkeypatch, START + timedelta(minutes=45))
    stack.fire_schedule("BoundarySchedule")
    assert membership(api, "c1", "recent")["member"] is True
    at(monkeypatch, START + timedelta(minutes=60))
    stack.fire_schedule("BoundarySchedule")
    # Then she left at the first run after the order dropped out of the window
    why = membership(api, "c1", "recent")
    assert why["member"] is False


class RequestCounter:
    """Counts the DynamoDB requests of the handlers' cached client, by operation."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        client("dynamodb").meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def during(self, action: Any) -> tuple[Any, list[str]]:
        start = len(self.calls)
        result = action()
        return result, self.calls[start:]


def test_boundary_runs_cost_requests_per_due_customer_not_per_customer(stack, api, monkeypatch):
    # Given "dormant 90 days" and a base of customers who bought recently (nothing due for weeks)
    api("POST", "/segment-templates/dormant_90/segments")
    run_refreshes(stack)
    base = 0

    def add_base(count: int) -> None:
        nonlocal base
        for _ in range(count):
            base += 1
            customer_with_last_order(api, f"b{base}", START - timedelta(days=3))

    def add_due(prefix: str, count: int, day_90: datetime) -> None:
        for i in range(count):
            customer_with_last_order(api, f"{prefix}{i}", days_before(day_90 - timedelta(minutes=i + 1), 90))

    t_warm, t1, t2, t3 = (START + timedelta(hours=1, minutes=m) for m in (0, 15, 30, 45))
    add_base(5)
    add_due("d", 3, t1)
    counter = RequestCounter()
    at(monkeypatch, t_warm)
    stack.fire_schedule("BoundarySchedule")  # the first run after deployment looks a day back; later ones do not

    # When the schedule runs with 3 due customers in a base of 8
    at(monkeypatch, t1)
    small, small_calls = counter.during(lambda: stack.fire_schedule("BoundarySchedule"))
    # and again with 3 due in a base almost four times larger (30)
    add_base(19)
    add_due("e", 3, t2)
    at(monkeypatch, t2)
    large, large_calls = counter.during(lambda: stack.fire_schedule("BoundarySchedule"))
    # and with twice as many due
    add_due("f", 6, t3)
    at(monkeypatch, t3)
    double, double_calls = counter.during(lambda: stack.fire_schedule("BoundarySchedule"))

    # Then each run re-evaluated exactly the due customers, who all became dormant
    assert (small["due"], large["due"], double["due"]) == (3, 3, 6)
    assert (small["changes"], large["changes"], double["changes"]) == (3, 3, 6)
    # And the requests do not depend on the size of the base, only on the due customers: 3 more per customer
    # (load her partition, write the membership that changed, commit her profile and next boundary)
    assert len(large_calls) == len(small_calls)
    assert len(double_calls) - len(small_calls) == 3 * 3
    assert "Scan" not in small_calls + large_calls + double_calls
    assert large_calls.count("Query") == large["queries"] + large["due"]


def test_customers_created_in_bulk_by_an_import_get_their_boundary_too(stack, api):
    from segmentation.domain.models import CustomerUpsert, OrderCompleted, OrderLine
    from segmentation.wiring import services

    api("POST", "/segment-templates/dormant_90/segments")
    run_refreshes(stack)
    placed = START - timedelta(days=80)
    line = OrderLine(sku="EO-1", category="essential_oils", quantity=1, unit_price=20.0)
    facts: list[object] = [
        CustomerUpsert(email="new@example.com"),
        OrderCompleted(order_id="o-imp", customer_id="imp1", placed_at=placed, total=20.0, lines=[line]),
    ]
    assert services().engine.create_customers([("imp1", facts)], START) == set()
    item = profile_item(stack, "imp1")
    assert item["next_boundary_at"]["S"] == items.iso(days_before(placed, -90) + timedelta(microseconds=1))
    assert item["GSI2PK"]["S"].startswith("B#")
