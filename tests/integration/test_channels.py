"""Channel sync through the real handlers: API -> membership -> FIFO sync queue -> ChannelSyncFunction ->
adapters -> local fake platforms, with credentials read from Secrets Manager as in AWS."""

from __future__ import annotations

import pytest

from local_runtime.channels import put_channel_secret, start_fakes, stop_fakes
from segmentation.sync.adapters.mailchimp import subscriber_hash
from segmentation.sync.redrive import redrive

KEY = {"x-api-key": "test-key"}
CHANNELS = ["mailchimp", "hubspot", "klaviyo"]
BUYERS = {
    "segment_id": "buyers",
    "name": "Buyers",
    "rule": {"attr": "orders_count", "op": "gte", "value": 1},
    "destinations": [
        {"channel": "mailchimp", "list_name": "seg:buyers", "fields": {"FNAME": "first_name"}},
        {"channel": "hubspot", "list_name": "Buyers"},
        {"channel": "klaviyo", "list_name": "Buyers"},
    ],
}
ORDER = {
    "placed_at": "2026-11-19T10:00:00Z",
    "total": 20.0,
    "lines": [{"sku": "C-1", "category": "candles", "quantity": 1, "unit_price": 20.0}],
}


@pytest.fixture
def channels(stack):
    started = start_fakes(stack.env, CHANNELS)
    yield stack, started
    stop_fakes(started)


def call(router, method, path, body=None, expect=(200, 201)):
    status, _, payload = router.api(method, path, body=body, headers=KEY)
    assert status in expect, payload
    return payload


def buy(router, cid, email, consent="subscribed", first_name="Jo"):
    call(router, "PUT", f"/customers/{cid}", {"email": email, "first_name": first_name, "consent": {"email": consent}})
    call(router, "POST", f"/customers/{cid}/orders", {**ORDER, "order_id": f"o-{cid}"})


def emails(fakes_by_channel, channel, list_name):
    return fakes_by_channel[channel].member_emails(list_name)


def test_consented_members_reach_every_platform_and_opt_outs_leave_all_of_them(channels):
    router, fakes = channels
    call(router, "POST", "/segments", BUYERS)
    buy(router, "yes", "yes@example.com")
    buy(router, "no", "no@example.com", consent="unsubscribed")
    router.drain()

    for channel, list_name in (("mailchimp", "seg:buyers"), ("hubspot", "Buyers"), ("klaviyo", "Buyers")):
        assert emails(fakes, channel, list_name) == {"yes@example.com"}, channel
    assert fakes["mailchimp"].contacts[subscriber_hash("yes@example.com")]["merge_fields"] == {"FNAME": "Jo"}

    # Withdrawing consent changes no segment, yet every destination drops her.
    call(router, "PUT", "/customers/yes/consent", {"channels": {"email": "unsubscribed"}, "source": "unsubscribe_link"})
    router.drain()
    for channel, list_name in (("mailchimp", "seg:buyers"), ("hubspot", "Buyers"), ("klaviyo", "Buyers")):
        assert emails(fakes, channel, list_name) == set(), channel

    status = {c["channel"]: c for c in call(router, "GET", "/segments/buyers/sync")["channels"]}
    assert set(status) == set(CHANNELS)
    for row in status.values():
        assert row["added"] == 1 and row["removed"] == 1 and row["pending"] == 0 and row["failures"] == 0
        assert row["last_success_at"] and row["last_error"] is None


def test_a_destination_is_validated_when_the_segment_is_saved(channels):
    router, _ = channels
    cases = [
        ({"channel": "mailchip"}, "destinations[0].channel"),
        ({"channel": "mailchimp", "fields": {"first name": "first_name"}}, "destinations[0].fields.first name"),
        ({"channel": "hubspot", "fields": {"firstname": "favourite_colour"}}, "destinations[0].fields.firstname"),
        ({"channel": "klaviyo", "purpose": None}, "destinations[0].purpose"),
    ]
    for destination, named in cases:
        status, _, body = router.api("POST", "/segments", body={**BUYERS, "destinations": [destination]}, headers=KEY)
        assert status == 400 and body["message"].startswith(named), body


def test_drift_is_reconciled_on_schedule_and_reported_in_the_status(channels):
    router, fakes = channels
    call(router, "POST", "/segments", BUYERS)
    for i in range(3):
        buy(router, f"c{i}", f"c{i}@example.com")
    router.drain()
    hubspot = fakes["hubspot"]
    removed_by_hand = sorted(hubspot.members("Buyers"))[0]
    hubspot.lists[hubspot.list_key("Buyers")].discard(removed_by_hand)

    router.fire_schedule("ChannelReconcileFunction")
    router.drain()

    assert emails(fakes, "hubspot", "Buyers") == {f"c{i}@example.com" for i in range(3)}
    status = {c["channel"]: c for c in call(router, "GET", "/segments/buyers/sync")["channels"]}
    assert status["hubspot"]["drift"]["missing_at_destination"] == 1
    assert status["mailchimp"]["drift"]["missing_at_destination"] == 0
    assert status["klaviyo"]["last_reconcile_at"]


def test_bad_credentials_dead_letter_the_task_and_a_redrive_delivers_it(channels):
    router, fakes = channels
    good = {"token": "pat-eu1-fake-0000", "base_url": fakes["hubspot"].url}
    put_channel_secret(router.env, "hubspot", {**good, "token": "revoked"})
    call(router, "POST", "/segments", {**BUYERS, "destinations": [{"channel": "hubspot", "list_name": "Buyers"}]})
    buy(router, "c1", "c1@example.com")
    router.drain()
    assert emails(fakes, "hubspot", "Buyers") == set()
    status = call(router, "GET", "/segments/buyers/sync")["channels"][0]
    assert "credentials refused" in status["last_error"] and status["failures"] >= 1

    put_channel_secret(router.env, "hubspot", good)
    from segmentation.store.clients import reset

    reset()  # the secret is cached for five minutes; a new container (or the cache expiring) sees the fix
    sqs = router.env.client("sqs")
    moved = redrive(sqs, router.env.physical_ids["SyncDLQ"], router.env.physical_ids["SyncQueue"])
    router.drain()
    assert moved == 1 and emails(fakes, "hubspot", "Buyers") == {"c1@example.com"}


def test_the_same_changes_published_twice_are_queued_once(stack):
    from datetime import UTC, datetime

    from segmentation.segments.models import Destination, MembershipChange, SegmentDefinition
    from segmentation.sync.publisher import AwsPublisher

    now = datetime(2026, 11, 20, tzinfo=UTC)
    definition = SegmentDefinition(
        segment_id="buyers",
        name="Buyers",
        rule={"attr": "orders_count", "op": "gte", "value": 1},
        destinations=[Destination(channel="hubspot"), Destination(channel="klaviyo")],
        created_at=now,
        updated_at=now,
    )
    changes = [MembershipChange(segment_id="buyers", customer_id="c1", entered=True, at=now, segment_version=1)]
    publisher = AwsPublisher(stack.env.physical_ids["SyncQueue"], stack.env.physical_ids["SegmentationBus"])
    publisher.publish(changes, {"buyers": definition}, reason="realtime")
    publisher.publish(changes, {"buyers": definition}, reason="realtime")  # a handler retried after publishing

    sqs = stack.env.client("sqs")
    bodies = []
    while messages := sqs.receive_message(QueueUrl=stack.env.physical_ids["SyncQueue"], MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(
            QueueUrl=stack.env.physical_ids["SyncQueue"],
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    assert len(bodies) == 2  # one task per destination, not two


def test_a_channel_set_up_later_is_backfilled_by_reconciliation(channels):
    router, fakes = channels
    sm = router.env.client("secretsmanager")
    sm.delete_secret(SecretId="segmentation-local/channels/klaviyo", ForceDeleteWithoutRecovery=True)
    call(router, "POST", "/segments", {**BUYERS, "destinations": [{"channel": "klaviyo", "list_name": "Buyers"}]})
    buy(router, "c1", "c1@example.com")
    router.drain()
    status = call(router, "GET", "/segments/buyers/sync")["channels"][0]
    assert "not configured" in status["last_error"] and status["pending"] == 0
    dlq = router.env.client("sqs").get_queue_attributes(
        QueueUrl=router.env.physical_ids["SyncDLQ"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"  # nothing to redrive: not set up is not a fault

    put_channel_secret(router.env, "klaviyo", {"api_key": "pk_fake_0000000000000000", "base_url": fakes["klaviyo"].url})
    from segmentation.store.clients import reset

    reset()
    router.fire_schedule("ChannelReconcileFunction")
    router.drain()
    assert emails(fakes, "klaviyo", "Buyers") == {"c1@example.com"}
