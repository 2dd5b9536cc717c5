"""No personal data in logs: plant known emails, phones and names, run the whole flow, read every log line."""

from __future__ import annotations

import logging

from local_runtime.channels import start_fakes, stop_fakes
from local_runtime.demo import customer_batches, sqs_batch
from local_runtime.fakes.base import Faults
from local_runtime.shop import generate_shop
from local_runtime.webhook_receiver import WebhookReceiver
from segmentation.observability import logger
from tests.integration.conftest import fresh_stack


def test_whole_flow_logs_no_email_phone_or_name(stack, moto_server, capsys, caplog):
    receiver = WebhookReceiver().start()
    router = fresh_stack(moto_server, {"WebhookUrl": receiver.url})
    secret_id = router.env.physical_ids["WebhookSecret"]
    receiver.secret = router.env.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    # Marketing platforms that fail a third of their requests, so error paths (whose platform texts often echo
    # the refused address) are logged too.
    platforms = start_fakes(router.env, ["mailchimp", "hubspot", "klaviyo"], faults=Faults.mixed(0.3, seed=3))
    shop = generate_shop(seed=11, customers=30)
    planted = set()
    for _, profile in shop.customers:
        planted |= {profile.email, profile.phone, f"{profile.first_name} {profile.last_name}"} - {None}
    planted.discard("")
    previous = logger.log_level
    logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG, logger="segmentation")
    try:
        key = {"x-api-key": "test-key"}
        for template in ("high_value", "lavender_lovers", "dormant_90"):
            body = {
                "destinations": [
                    {"channel": "webhook", "list_name": template},
                    {"channel": "mailchimp", "list_name": template, "fields": {"FNAME": "first_name"}},
                    {"channel": "hubspot", "list_name": template, "fields": {"lastname": "last_name"}},
                    {"channel": "klaviyo", "list_name": template, "fields": {"phone_number": "phone"}},
                ]
            }
            router.api("POST", f"/segment-templates/{template}/segments", body=body, headers=key)
        events = list(shop.events())
        for start, batch in enumerate(customer_batches(events, 50)):
            router.invoke("CustomerEventsFunction", sqs_batch(batch, start * 50))
        customer_id, profile = shop.customers[0]
        router.api("GET", f"/customers/{customer_id}", headers=key)
        router.api("PUT", f"/customers/{shop.customers[1][0]}", body={"email": profile.email}, headers=key)  # 409
        router.api("POST", "/customers/x/orders", body={"order_id": "o", "placed_at": profile.email}, headers=key)
        # refresh runs, an impact preview (which shows names), bulk tagging by email, a boundary run
        rule = {"attr": "total_spent", "op": "gte", "value": 50}
        impact = router.api("POST", "/segments/high_value/impact", body={"rule": rule}, headers=key)[2]
        router.api("POST", "/segments/high_value/refresh", headers=key)
        emails = [p.email for _, p in shop.customers[:5] if p.email] + ["unknown@example.com"]
        router.api("POST", "/tags/vip/customers", body={"emails": emails}, headers=key)
        router.fire_schedule("BoundarySchedule")
        router.drain()
        statuses = [
            router.api("GET", f"/segments/{t}/sync", headers=key)[2]
            for t in ("high_value", "lavender_lovers", "dormant_90")
        ]
        shown = router.api("GET", f"/segments/high_value/refreshes/{impact['run_id']}", headers=key)[2]
        assert any(s["name"] for s in shown["impact"]["sample_enter"]), "names were shown, or the test proves little"
    finally:
        logger.setLevel(previous)
        receiver.stop()
        stop_fakes(platforms)

    captured = capsys.readouterr()
    logs = captured.out + captured.err + "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert receiver.deliveries, "the flow must have synced something, or the test proves little"
    assert all(fake.members(fake_list) for fake in platforms.values() for fake_list in ["high_value"])
    assert sum(sum(fake.faults_injected.values()) for fake in platforms.values()) > 0
    assert len(logs) > 1000
    leaked = sorted(p for p in planted if p in logs)
    assert leaked == []
    assert not [p for p in planted if p in str(statuses)], "the sync status must not hold personal data either"
