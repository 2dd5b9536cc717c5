"""event_cost: what one OrderCompleted costs with 50 active segments, through the real CustomerEventsFunction.

Each event is a one-record SQS event handed to the deployed handler (``Router.invoke``), as Lambda would.

(a) DynamoDB requests per event, counted on the handler's own cached client, against the memberships it
    changed: the design promises 3 requests (append the fact, load the partition, commit the profile) plus one
    per changed membership. The segment list the registry refreshes once a minute per container is cached for
    the whole run, so that amortised Query is not counted.
(b) Handler time against the bare round trips: every AWS call the handler made (DynamoDB, SQS, EventBridge) is
    recorded and re-issued with the same parameters, in the same order, right after the event. DynamoDB calls go
    to a copy of the table taken before the first event, kept in step, so each replayed request finds the same
    items and passes the same conditions.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from benchmarks.core import Result, fmt, median, section, silenced_stdout, table
from local_runtime import LocalAws, LocalEnvironment, Router, create_resources, load_template
from local_runtime.shop import CATALOGUE, CATEGORIES, DEFAULT_END, SCENTS, generate_shop
from segmentation import wiring
from segmentation.domain.models import OrderCompleted, OrderLine
from segmentation.events.shop import parse_message
from segmentation.rules import validate_rule
from segmentation.segments.models import SegmentInput
from segmentation.segments.templates import TEMPLATES
from segmentation.store import items
from segmentation.store.clients import client

FUNCTION = "CustomerEventsFunction"
QUEUE = "CustomerEventsQueue"
TABLE = "SegmentationTable"
SEED = 7
CUSTOMERS = 200
SEGMENTS = 50
WARMUP = 10
NOW = DEFAULT_END
REQUESTS_GOAL = 3
TIME_GOAL = 1.5
SERVICES = ("dynamodb", "sqs", "events")

# -- segments ------------------------------------------------------------------------------------------------

_NUMBERS: dict[str, tuple[int, int]] = {
    "orders_count": (1, 12),
    "orders_30d": (1, 3),
    "orders_90d": (1, 5),
    "orders_365d": (1, 10),
    "total_spent": (50, 1500),
    "spent_30d": (20, 200),
    "spent_90d": (30, 400),
    "spent_365d": (50, 1000),
    "avg_order_value": (15, 150),
    "avg_items_per_order": (1, 6),
    "days_since_last_order": (7, 400),
    "mean_days_between_orders": (7, 200),
    "refunds_count": (1, 3),
    "refunded_total": (5, 100),
    "email_opens_30d": (1, 8),
    "email_clicks_30d": (1, 5),
    "site_visits_30d": (1, 8),
    "age": (18, 75),
}
_STATUSES = ("subscribed", "unsubscribed", "never_asked", "pending")
_STRINGS: dict[str, tuple[str, ...]] = {
    "country": ("GB", "DE", "FR", "NL", "IE", "US", "ES", "IT"),
    "gender": ("female", "male", "non_binary", "unspecified"),
    "favourite_category": CATEGORIES,
    "consent.email": _STATUSES,
    "consent.sms": _STATUSES,
    "email_domain": ("example.com", "example.org", "example.net"),
    "custom.loyalty_tier": ("gold", "silver", "bronze"),
}
_LISTS: dict[str, tuple[str, ...]] = {
    "preferred_scents": SCENTS,
    "purchased_scents": SCENTS,
    "preferred_categories": CATEGORIES,
    "purchased_categories": CATEGORIES,
    "tags": ("newsletter", "vip-event", "sample-box", "wholesale"),
}
_TIMES = ("last_order_at", "first_order_at", "registered_at", "last_engaged_at")
_DAYS = (7, 14, 30, 60, 90, 180, 365)
_EVENTS = ("order_completed", "order_completed", "order_completed", "email_opened", "email_clicked", "site_visited")


def _leaf(rng: random.Random) -> dict[str, Any]:
    kind = rng.choices(("number", "string", "list", "time", "boolean", "behaviour"), (30, 15, 15, 15, 5, 20))[0]
    if kind == "number":
        attr = rng.choice(list(_NUMBERS))
        low, high = _NUMBERS[attr]
        value = rng.randint(low, high)
        op = rng.choice(("gte", "gte", "lt", "between", "eq"))
        return {"attr": attr, "op": op, "value": [value, value + rng.randint(1, high)] if op == "between" else value}
    if kind == "string":
        attr = rng.choice(list(_STRINGS))
        op = rng.choice(("eq", "eq", "neq", "in"))
        values = _STRINGS[attr]
        return {"attr": attr, "op": op, "value": rng.sample(values, 2) if op == "in" else rng.choice(values)}
    if kind == "list":
        attr = rng.choice(list(_LISTS))
        op = rng.choice(("contains", "contains", "not_contains", "in"))
        values = _LISTS[attr]
        return {"attr": attr, "op": op, "value": rng.sample(values, 2) if op == "in" else rng.choice(values)}
    if kind == "time":
        op = rng.choice(("within_last_days", "more_than_days_ago"))
        return {"attr": rng.choice(_TIMES), "op": op, "value": rng.choice(_DAYS)}
    if kind == "boolean":
        return {"attr": rng.choice(("has_phone", "has_email")), "op": "eq", "value": rng.random() < 0.7}
    event = rng.choice(_EVENTS)
    condition: dict[str, Any] = {"event": event, "within_last_days": rng.choice(_DAYS)}
    if event == "order_completed" and rng.random() < 0.3:
        prop, values = rng.choice((("scents", SCENTS), ("categories", CATEGORIES)))
        condition["where"] = {"attr": prop, "op": "contains", "value": rng.choice(values)}
    if event == "order_completed" and rng.random() < 0.25:
        condition.update({"sum": "total", "op": "gte", "value": rng.choice((50, 100, 200, 400))})
    else:
        condition["count"] = {"op": "gte", "value": rng.randint(1, 5)}
    return condition


def random_rule(rng: random.Random) -> dict[str, Any]:
    """A valid rule over catalogue attributes and events: a leaf, or a small all/any/not group of them."""
    draw = rng.random()
    if draw < 0.45:
        return _leaf(rng)
    if draw < 0.95:
        group = "all" if draw < 0.8 else "any"
        return {group: [_leaf(rng) for _ in range(rng.randint(2, 3))]}
    return {"not": _leaf(rng)}


def random_rules(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rules = [random_rule(rng) for _ in range(count)]
    for rule in rules:
        issues = validate_rule(rule)
        assert not issues, f"generated an invalid rule {rule}: {issues}"
    return rules


def create_segments(services: wiring.Services, now: datetime) -> list[str]:
    """The built-in templates plus random rules, up to ``SEGMENTS``; a third sync to a webhook."""
    ids = []
    for template in TEMPLATES:
        definition, _ = services.segments.create_from_template(template.template_id, now)
        ids.append(definition.segment_id)
    for n, rule in enumerate(random_rules(SEED, SEGMENTS - len(TEMPLATES)), start=1):
        destinations = [{"channel": "webhook", "list_name": f"random-{n:02d}"}] if n % 3 == 0 else []
        data = SegmentInput.model_validate(
            {"segment_id": f"random_{n:02d}", "name": f"Random {n:02d}", "rule": rule, "destinations": destinations}
        )
        definition, _ = services.segments.create(data, now)
        ids.append(definition.segment_id)
    return ids


# -- customers and events ------------------------------------------------------------------------------------


def register_customers(services: wiring.Services, now: datetime) -> list[str]:
    """Every fact of the synthetic shop's first customers, parsed as the handler parses shop events."""
    facts: defaultdict[str, list[object]] = defaultdict(list)
    for event in generate_shop(SEED, CUSTOMERS, end=now).events():
        _, customer_id, fact = parse_message(json.dumps(event))
        facts[customer_id].append(fact)
    for customer_id, history in facts.items():
        services.engine.record_facts(customer_id, history, now)
    return list(facts)


def order_events(customer_ids: list[str], count: int, now: datetime) -> list[OrderCompleted]:
    """New orders for random customers, a minute apart, the last one just before ``now``."""
    rng = random.Random(SEED)
    orders = []
    for n in range(count):
        products = rng.sample(CATALOGUE, rng.randint(1, 4))
        lines = [
            OrderLine(sku=p.sku, category=p.category, scent=p.scent, quantity=rng.randint(1, 3), unit_price=p.price)
            for p in products
        ]
        orders.append(
            OrderCompleted(
                order_id=f"bench-{n:05d}",
                customer_id=rng.choice(customer_ids),
                placed_at=now - timedelta(minutes=count - n),
                currency="EUR",
                total=round(sum(line.quantity * line.unit_price for line in lines), 2),
                lines=lines,
            )
        )
    return orders


def sqs_event(order: OrderCompleted, env: LocalEnvironment) -> dict[str, Any]:
    """The one-record SQS event Lambda hands the function for an OrderCompleted the shop put on the bus."""
    body = json.dumps(
        {
            "version": "0",
            "id": order.order_id,
            "detail-type": "OrderCompleted",
            "source": "shop",
            "account": env.account_id,
            "time": order.placed_at.isoformat(),
            "region": env.region,
            "resources": [],
            "detail": order.model_dump(mode="json"),
        }
    )
    sent = str(int(order.placed_at.timestamp() * 1000))
    record = {
        "messageId": order.order_id,
        "receiptHandle": order.order_id,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": sent,
            "SenderId": "events.amazonaws.com",
            "ApproximateFirstReceiveTimestamp": sent,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": env.arns[QUEUE],
        "awsRegion": env.region,
    }
    return {"Records": [record]}


# -- recording and replaying AWS calls -----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: dict[str, Any]


class Recorder:
    """On the handler's own cached clients: counts DynamoDB requests, records every call's parameters, and
    clocks the time spent inside calls (from parameter checks to the parsed response)."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.active = False
        self.calls: list[Call] = []
        self.dynamodb_requests = 0
        self.in_calls_s = 0.0
        self._started = 0.0
        for service, aws_client in clients.items():
            aws_client.meta.events.register("before-parameter-build", partial(self._record, service))
            aws_client.meta.events.register("after-call", self._finished)
        clients["dynamodb"].meta.events.register("before-call.dynamodb", self._count)

    def _record(self, service: str, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if self.active:
            # A shallow copy: the store reuses its kwargs dict to page through a Query.
            self.calls.append(Call(service, model.name, dict(params)))
            self._started = time.perf_counter()

    def _finished(self, **kwargs: Any) -> None:
        if self.active:
            self.in_calls_s += time.perf_counter() - self._started

    def _count(self, **kwargs: Any) -> None:
        if self.active:
            self.dynamodb_requests += 1

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.calls, self.dynamodb_requests, self.in_calls_s, self.active = [], 0, 0.0, True
        try:
            yield
        finally:
            self.active = False


def retarget(value: Any, table: str, scratch: str) -> Any:
    """``value`` with the table's name (as a value or as a key, as in ``RequestItems``) replaced."""
    if isinstance(value, dict):
        return {(scratch if k == table else k): retarget(v, table, scratch) for k, v in value.items()}
    if isinstance(value, list):
        return [retarget(v, table, scratch) for v in value]
    return scratch if value == table else value


def copy_table(dynamodb: Any, table: str, scratch: str) -> int:
    """Create ``scratch`` with ``table``'s keys, indexes and stream, and copy every item into it."""
    described = dynamodb.describe_table(TableName=table)["Table"]
    kwargs: dict[str, Any] = {
        "TableName": scratch,
        "AttributeDefinitions": described["AttributeDefinitions"],
        "KeySchema": described["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    indexes = [
        {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        for index in described.get("GlobalSecondaryIndexes", [])
    ]
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = indexes
    if described.get("StreamSpecification", {}).get("StreamEnabled"):
        kwargs["StreamSpecification"] = described["StreamSpecification"]
    dynamodb.create_table(**kwargs)
    copied = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        rows = page.get("Items", [])
        for start in range(0, len(rows), 25):
            pending: dict[str, Any] = {scratch: [{"PutRequest": {"Item": row}} for row in rows[start : start + 25]]}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        copied += len(rows)
    return copied


def replay(calls: list[Call], clients: dict[str, Any]) -> tuple[float, int]:
    """Re-issue ``calls`` (already retargeted) in order: their wall time, and how many were refused."""
    methods = [(getattr(clients[call.service], xform_name(call.operation)), call.params) for call in calls]
    refused = 0
    start = time.perf_counter()
    for method, params in methods:
        try:
            method(**params)
        except ClientError:
            refused += 1  # a refused request still made its round trip; the count says the copy drifted
    return time.perf_counter() - start, refused


# -- the benchmark -------------------------------------------------------------------------------------------


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class EventCost:
    requests: int
    changes: int
    other_calls: int
    handler_s: float
    in_calls_s: float
    bare_s: float
    refused: int


def measure(
    router: Router, orders: list[OrderCompleted], recorder: Recorder, replay_clients: dict[str, Any], scratch: str
) -> list[EventCost]:
    """Handle each order through the real handler, then replay its AWS calls; per-event costs."""
    env = router.env
    table = env.physical_ids[TABLE]
    membership_prefix = items.membership_sk("")
    costs = []
    for order in orders:
        event = sqs_event(order, env)
        with recorder.recording():
            start = time.perf_counter()
            result = router.invoke(FUNCTION, event)
            handler_s = time.perf_counter() - start
        assert result == {"batchItemFailures": []}, f"{order.order_id} failed: {result}"
        calls = [Call(c.service, c.operation, retarget(c.params, table, scratch)) for c in recorder.calls]
        bare_s, refused = replay(calls, replay_clients)
        changes = sum(
            1 for c in calls if c.operation == "PutItem" and c.params["Item"]["SK"]["S"].startswith(membership_prefix)
        )
        other = sum(1 for c in calls if c.service != "dynamodb")
        costs.append(
            EventCost(recorder.dynamodb_requests, changes, other, handler_s, recorder.in_calls_s, bare_s, refused)
        )
    return costs


def run(args: argparse.Namespace) -> list[Result]:
    section(f"event_cost: OrderCompleted with {SEGMENTS} active segments, {CUSTOMERS} customers")
    with LocalAws() as aws:
        env = create_resources(load_template(), endpoint_url=aws.endpoint_url)
        variables = {
            **env.function_environment(FUNCTION),
            "SEGMENTATION_FROZEN_NOW": NOW.isoformat(),
            "SEGMENT_CACHE_SECONDS": "3600",
            "MODEL_CACHE_SECONDS": "3600",  # like the segment list: one read per container, not per event
        }
        with environment(variables):
            wiring.reset()
            try:
                costs = _run(env, args.events)
            finally:
                wiring.reset()
    return _report(costs)


def _run(env: LocalEnvironment, events: int) -> list[EventCost]:
    services = wiring.services()
    with silenced_stdout():
        segment_ids = create_segments(services, NOW)
        customer_ids = register_customers(services, NOW)
    print(f"{len(segment_ids)} segments, {len(customer_ids)} customers registered with their history", flush=True)
    router = Router(env)
    table = env.physical_ids[TABLE]
    scratch = f"{table}-replay"
    recorder = Recorder({service: client(service) for service in SERVICES})  # the handler's own clients
    replay_clients = {service: env.client(service) for service in SERVICES}
    copied = copy_table(replay_clients["dynamodb"], table, scratch)
    orders = order_events(customer_ids, WARMUP + events, NOW)
    gc.collect()
    gc.freeze()  # the local AWS state and the shop are long-lived: keep collections as short as in Lambda
    try:
        with silenced_stdout():
            # The warm-up imports the handler and opens every connection; the copy stays in step through it.
            measure(router, orders[:WARMUP], recorder, replay_clients, scratch)
            costs = measure(router, orders[WARMUP:], recorder, replay_clients, scratch)
    finally:
        gc.unfreeze()
    print(f"{copied:,} items copied for the replay; {WARMUP} warm-up events, {len(costs)} measured", flush=True)
    return costs


def _report(costs: list[EventCost]) -> list[Result]:
    extra = [c.requests - c.changes for c in costs]
    by_changes: defaultdict[int, list[EventCost]] = defaultdict(list)
    for cost in costs:
        by_changes[cost.changes].append(cost)
    rows = [
        [
            changes,
            len(group),
            f"{median([c.requests for c in group]):g}",
            max(c.requests - c.changes for c in group),
            f"{median([c.other_calls for c in group]):g}",
            fmt(median([c.handler_s for c in group]) * 1e3),
            fmt(median([c.bare_s for c in group]) * 1e3),
        ]
        for changes, group in sorted(by_changes.items())
    ]
    print(
        table(
            ["changes", "events", "ddb requests", "max requests-changes", "sqs+events calls", "handler ms", "bare ms"],
            rows,
            right=set(range(7)),
        )
    )
    handler_ms = median([c.handler_s for c in costs]) * 1e3
    bare_ms = median([c.bare_s for c in costs]) * 1e3
    refused = sum(c.refused for c in costs)
    print(f"requests - changes per event: {dict(sorted(Counter(extra).items()))}")
    inside_ms = median([c.in_calls_s for c in costs]) * 1e3
    own_ms = median([c.handler_s - c.in_calls_s for c in costs]) * 1e3
    print(
        f"median per event: handler {handler_ms:.2f} ms ({inside_ms:.2f} ms inside AWS calls, "
        f"{own_ms:.2f} ms outside them); bare round trips {bare_ms:.2f} ms"
    )
    if refused:
        print(f"warning: {refused} replayed requests were refused (the copy drifted from the table)")
    return [
        Result(
            name="event_cost.requests",
            measured=max(extra),
            unit="requests - changes (max)",
            goal=REQUESTS_GOAL,
            details={"distribution": dict(Counter(extra)), "events": len(costs)},
        ),
        Result(
            name="event_cost.handler_time",
            measured=handler_ms,
            baseline=bare_ms,
            unit="ms/event",
            ratio=handler_ms / bare_ms,
            goal=TIME_GOAL,
            details={
                "events": len(costs),
                "changes_per_event": median([c.changes for c in costs]),
                "handler_inside_calls_ms": inside_ms,
                "handler_outside_calls_ms": own_ms,
                "replay_refused": refused,
            },
        ),
    ]
