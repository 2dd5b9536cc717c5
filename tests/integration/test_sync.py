"""Sync through the signed webhook: level-triggered, behind the consent gate, verifiable by the receiver."""

from __future__ import annotations

import json

import pytest

from local_runtime.webhook_receiver import WebhookReceiver
from tests.integration.conftest import fresh_stack

KEY = {"x-api-key": "test-key"}
BUYERS = {
    "segment_id": "buyers",
    "name": "Buyers",
    "rule": {"attr": "orders_count", "op": "gte", "value": 1},
    "destinations": [{"channel": "webhook", "list_name": "buyers", "purpose": "email"}],
}
ORDER = {
    "order_id": "o-1",
    "placed_at": "2026-11-19T10:00:00Z",
    "total": 20.0,
    "lines": [{"sku": "C-1", "category": "candles", "quantity": 1, "unit_price": 20.0}],
}


@pytest.fixture
def synced(stack, moto_server):
    receiver = WebhookReceiver().start()
    router = fresh_stack(moto_server, {"WebhookUrl": receiver.url})
    secret_id = router.env.physical_ids["WebhookSecret"]
    receiver.secret = router.env.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    yield router, receiver
    receiver.stop()


def call(router, method, path, body=None):
    status, _, payload = router.api(method, path, body=body, headers=KEY)
    assert status in (200, 201), payload
    return payload


def test_members_with_consent_are_added_and_opted_out_members_are_not(synced):
    router, receiver = synced
    call(router, "POST", "/segments", BUYERS)
    call(router, "PUT", "/customers/yes", {"email": "yes@example.com", "consent": {"email": "subscribed"}})
    call(router, "PUT", "/customers/no", {"email": "no@example.com", "consent": {"email": "unsubscribed"}})
    call(router, "POST", "/customers/yes/orders", ORDER)
    call(router, "POST", "/customers/no/orders", {**ORDER, "order_id": "o-2"})

    router.drain()

    assert receiver.members["buyers"] == {"yes"}
    assert receiver.rejected == 0
    sent = [c for d in receiver.deliveries for c in d["add"]]
    assert {"customer_id": "no", "email": "no@example.com"} not in sent
    status = call(router, "GET", "/segments/buyers/sync")["channels"][0]
    # The opted-out member was never sent, so there was nothing of ours to remove either.
    assert status["added"] == 1 and status["skipped"] == 1 and status["removed"] == 0
    assert status["failures"] == 0 and status["pending"] == 0 and status["last_success_at"]


def test_withdrawn_consent_removes_the_contact_even_from_a_stale_task(synced):
    router, receiver = synced
    call(router, "POST", "/segments", BUYERS)
    call(router, "PUT", "/customers/c1", {"email": "c1@example.com", "consent": {"email": "subscribed"}})
    call(router, "POST", "/customers/c1/orders", ORDER)
    router.drain()
    assert receiver.members["buyers"] == {"c1"}

    # A task queued while she was subscribed is delivered after she opts out: she is removed, not re-added.
    stale = {
        "segment_id": "buyers",
        "channel": "webhook",
        "list_name": "buyers",
        "purpose": "email",
        "customer_ids": ["c1"],
        "reason": "realtime",
        "created_at": "2026-11-19T10:00:00Z",
    }
    call(router, "PUT", "/customers/c1/consent", {"channels": {"email": "unsubscribed"}, "source": "unsubscribe_link"})
    router.env.client("sqs").send_message(
        QueueUrl=router.env.physical_ids["SyncQueue"],
        MessageBody=json.dumps(stale),
        MessageGroupId="channel-webhook",
        MessageDeduplicationId="stale-1",
    )
    router.drain()

    assert receiver.members["buyers"] == set()


def test_webhook_outage_is_retried_and_not_lost(synced):
    router, receiver = synced
    call(router, "POST", "/segments", BUYERS)
    call(router, "PUT", "/customers/c1", {"email": "c1@example.com", "consent": {"email": "subscribed"}})
    receiver.stop()  # the shop's endpoint is down
    call(router, "POST", "/customers/c1/orders", ORDER)
    stats = router.drain(max_rounds=2)
    assert stats.retried >= 1 and receiver.members["buyers"] == set()

    receiver.start()  # back up on the same port
    router.drain()
    assert receiver.members["buyers"] == {"c1"}
