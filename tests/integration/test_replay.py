"""At-least-once delivery: every event delivered twice, late and out of order, leaves the same state."""

from __future__ import annotations

import json
import random
from typing import Any

from local_runtime.demo import customer_batches, sqs_batch
from local_runtime.shop import generate_shop
from tests.integration.conftest import fresh_stack

SEGMENTS = ("dormant_90", "high_value", "lavender_lovers", "high_engagement", "frequent_buyers", "uk_customers")


def business_state(router) -> dict[str, Any]:
    """Everything a user can observe, without bookkeeping that legitimately differs (versions)."""
    client = router.env.client("dynamodb")
    table = router.env.physical_ids["SegmentationTable"]
    state: dict[str, Any] = {}
    pages = client.get_paginator("scan").paginate(TableName=table)
    for item in (i for page in pages for i in page["Items"]):
        key = f"{item['PK']['S']}|{item['SK']['S']}"
        bookkeeping = ("PK", "SK", "claimed_at", "version")
        doc = json.loads(item["doc"]["S"]) if "doc" in item else {k: v for k, v in item.items() if k not in bookkeeping}
        if item["SK"]["S"] == "#P":
            doc = {
                "profile": doc,
                "features": json.loads(item["features"]["S"]),
                "next_boundary_at": item.get("next_boundary_at", {}).get("S"),
                "boundary_index": item.get("GSI2PK", {}).get("S"),
            }
        if item["SK"]["S"].startswith("M#"):
            doc = {k: v for k, v in doc.items() if k not in ("version", "profile_version")}
        if item["PK"]["S"] in ("SEGMENTS",) or item["PK"]["S"].startswith(("SEGV#", "RUN#")):
            continue  # definitions and refresh runs: the same in both, but under ids that differ
        state[key] = doc
    return state


def deliver(router, events: list[dict[str, Any]]) -> None:
    sent = 0
    for batch in customer_batches(events, 10):
        assert router.invoke("CustomerEventsFunction", sqs_batch(batch, sent)) == {"batchItemFailures": []}
        sent += len(batch)


def setup_segments(router) -> None:
    for segment in SEGMENTS:
        status, _, _ = router.api("POST", f"/segment-templates/{segment}/segments", headers={"x-api-key": "test-key"})
        assert status == 201


def test_every_event_delivered_twice_late_and_reordered_leaves_the_same_state(stack, moto_server):
    shop = generate_shop(seed=3, customers=25)
    events = list(shop.events())

    # Given the state after each event was delivered once
    setup_segments(stack)
    deliver(stack, events)
    once = business_state(stack)
    assert any(k.split("|")[1].startswith("M#") for k in once)  # memberships exist: the comparison means something

    # When everything is delivered again: immediately duplicated, then all of it once more, shuffled
    router = fresh_stack(moto_server)
    setup_segments(router)
    deliver(router, [e for e in events for _ in (0, 1)])
    redelivered = events[:]
    random.Random(5).shuffle(redelivered)
    for start in range(0, len(redelivered), 10):
        batch = redelivered[start : start + 10]
        assert router.invoke("CustomerEventsFunction", sqs_batch(batch, start)) == {"batchItemFailures": []}

    # Then nothing observable differs
    twice = business_state(router)
    assert twice.keys() == once.keys()
    assert twice == once
