"""boundary_path: a boundary run costs requests per due customer, not per customer in the base.

The boundary schedule (``BoundarySchedule`` -> ``ScheduledRefreshFunction``) reads the customers whose next time
boundary has passed from the sparse GSI2 and re-evaluates only them. This benchmark fires it through the real
handler twice, with the same number of due customers each time:

1. a base of ``customers / 10`` customers, 1% of ``customers`` of them due (the baseline);
2. the base grown to ``customers`` (default 100,000), the same number due again: 1% of the base.

Figure: DynamoDB requests of run 2 / run 1 (goal: at most 1.05; a sweep over the base would be about 10).
It also reports the requests per due customer, and what merely reading the base with a Scan costs, for scale.

Customers are written straight into the emulator's table (the same items the real-time path commits, built by the
same code: profile, order, next boundary and its GSI2 keys), because creating 100,000 customers through the API
would take the emulator hours; the measured runs go through the deployed handler and the real DynamoDB client.
Only "Dormant 90 days" is active, so each due customer has exactly one membership to change.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.core import Result, fmt, section, silenced_stdout, table
from local_runtime import LocalAws, Router, create_resources, load_template
from segmentation import wiring
from segmentation.domain.models import CustomerProfile, OrderLine, StoredOrder
from segmentation.features.compute import CustomerHistory, build_view
from segmentation.rules import parse_rule
from segmentation.segments.boundaries import BoundaryPlan, next_boundary
from segmentation.segments.realtime import snapshot_of
from segmentation.segments.templates import BY_ID
from segmentation.store import items
from segmentation.store.clients import client
from segmentation.store.dynamo import order_fact, profile_item

TZ = ZoneInfo("Europe/London")
NOW = datetime.fromisoformat("2026-11-20T12:00:00+00:00")
DUE_SHARE = 0.01
GOAL = 1.05


def run(args: argparse.Namespace) -> list[Result]:
    section("boundary_path: requests per boundary run grow with due customers, not with the base")
    total = max(int(args.customers), 1000)
    due = max(1, int(total * DUE_SHARE))
    small = total // 10
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    with LocalAws() as aws, silenced_stdout():
        from segmentation.observability import logger

        logger.setLevel("WARNING")
        wiring.reset()
        env = create_resources(load_template(), endpoint_url=aws.endpoint_url)
        router = Router(env, api_key="bench")
        os.environ["SEGMENTATION_FROZEN_NOW"] = NOW.isoformat()
        status, _, _ = router.api("POST", "/segment-templates/dormant_90/segments", headers={"x-api-key": "bench"})
        assert status == 201
        router.drain(only={"SegmentRefreshFunction"})
        seed = Seeder(env.physical_ids["SegmentationTable"], env.region)
        first, second = NOW + timedelta(hours=1, minutes=15), NOW + timedelta(hours=1, minutes=30)
        fire(router, NOW + timedelta(hours=1))  # the first run after deployment looks a day back; later ones do not

        started = time.perf_counter()
        seed.customers("base", small - due, due_at=None)
        seed.customers("due1-", due, due_at=first)
        seeding = time.perf_counter() - started
        baseline = measure(router, first)
        seed.customers("more", total - small - due, due_at=None)
        seed.customers("due2-", due, due_at=second)
        large = measure(router, second)
        scan_pages, scan_seconds = scan_cost(env.physical_ids["SegmentationTable"])

    for result, base in ((baseline, small), (large, total)):
        assert result["due"] == due and result["changes"] == due, result
        result["base"] = base
    ratio = large["requests"] / baseline["requests"]
    per_due = (large["requests"] - large["fixed"]) / due
    rows = [
        [f"{r['base']:,}", f"{r['due']:,}", r["requests"], r["fixed"], fmt(r["seconds"], "s")]
        for r in (baseline, large)
    ]
    print(table(["base", "due", "DynamoDB requests", "of which per run", "time"], rows, right={0, 1, 2, 3, 4}))
    print(
        f"requests per due customer: {per_due:.2f} (load, membership write, profile commit); "
        f"reading the {total:,}-customer base once with a Scan: {scan_pages} requests, {scan_seconds:.1f} s; "
        f"seeding {small:,} customers took {seeding:.0f} s"
    )
    return [
        Result(
            name="boundary_path.requests",
            measured=large["requests"],
            unit="requests",
            goal=GOAL,
            baseline=baseline["requests"],
            ratio=ratio,
            details={
                "base": total,
                "baseline_base": small,
                "due": due,
                "requests_per_due_customer": per_due,
                "fixed_requests_per_run": large["fixed"],
                "scan_requests_for_base": scan_pages,
                "seconds": large["seconds"],
                "baseline_seconds": baseline["seconds"],
            },
        )
    ]


def fire(router: Router, at: datetime) -> dict[str, Any]:
    os.environ["SEGMENTATION_FROZEN_NOW"] = at.isoformat()
    return router.fire_schedule("BoundarySchedule")


def measure(router: Router, at: datetime) -> dict[str, Any]:
    """One boundary run at ``at``: its summary, and the DynamoDB requests of the handler's own client."""
    fixed: list[str] = []  # cursor, GSI2 queries, segment list: the same whatever is due
    per_customer: list[str] = []

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        key = params.get("Key") or params.get("Item") or {}
        values = params.get("ExpressionAttributeValues") or {}
        bookkeeping = (
            params.get("IndexName") == "GSI2"
            or key.get("PK") == {"S": items.BOUNDARY_CURSOR_PK}
            or values.get(":pk") == {"S": items.SEGMENTS_PK}  # the segment list, reloaded once a minute
        )
        (fixed if bookkeeping else per_customer).append(model.name)

    ddb = client("dynamodb")
    ddb.meta.events.register("before-parameter-build.dynamodb", count)
    started = time.perf_counter()
    try:
        result = fire(router, at)
    finally:
        ddb.meta.events.unregister("before-parameter-build.dynamodb", count)
    assert "Scan" not in fixed + per_customer
    return {
        **result,
        "requests": len(fixed) + len(per_customer),
        "fixed": len(fixed),
        "seconds": time.perf_counter() - started,
    }


class Seeder:
    """Writes customers as the real-time path would have committed them, straight into the emulator's table."""

    def __init__(self, table_name: str, region: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.table = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].get_table(table_name)
        self.plan = BoundaryPlan.of([parse_rule(BY_ID["dormant_90"].rule)])
        self.line = OrderLine(sku="EO-1", category="essential_oils", scent="lavender", quantity=1, unit_price=20.0)

    def customers(self, prefix: str, count: int, *, due_at: datetime | None) -> None:
        put: Callable[[dict[str, Any]], Any] = self.table.put_item
        for i in range(count):
            customer_id = f"{prefix}{i:06d}"
            if due_at is None:  # bought in the last 80 days: nothing due for weeks
                placed = NOW - timedelta(days=1 + i % 80, minutes=i % 1440)
            else:  # day 90 falls in the last minutes before due_at (90 days on the shop's calendar)
                day_90 = due_at - timedelta(seconds=1 + i % 600)
                placed = (day_90.astimezone(TZ) - timedelta(days=90)).astimezone(NOW.tzinfo)
            order = StoredOrder(order_id=f"o-{customer_id}", placed_at=placed, total=20.0, lines=[self.line])
            profile = CustomerProfile(customer_id=customer_id, registered_at=placed)
            history = CustomerHistory(profile=profile, orders=[order])
            view = build_view(history, NOW, TZ)
            boundary = next_boundary(self.plan, view, history, NOW, TZ)
            put(profile_item(profile, snapshot_of(view), 1, next_boundary_at=boundary))
            sort_key, doc, _ = order_fact(order)
            key = {"PK": items.S(items.customer_pk(customer_id)), "SK": items.S(sort_key)}
            put({**key, "doc": items.S(items.dumps(doc))})


def scan_cost(table_name: str) -> tuple[int, float]:
    """Requests and time to read the whole base once with a paginated Scan (what any sweep pays at least)."""
    ddb = client("dynamodb")
    pages, kwargs = 0, {"TableName": table_name, "Select": "COUNT"}
    started = time.perf_counter()
    while True:
        page = ddb.scan(**kwargs)
        pages += 1
        if "LastEvaluatedKey" not in page:
            return pages, time.perf_counter() - started
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
