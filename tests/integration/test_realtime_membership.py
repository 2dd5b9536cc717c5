"""The core promise end to end: define a segment, watch it fill and change as customers register and buy."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import put_shop_events, queue_messages, refreshed, run_refreshes

ORDER = {
    "order_id": "o-1",
    "placed_at": "2026-11-19T10:00:00Z",
    "currency": "EUR",
    "total": 120.0,
    "lines": [{"sku": "EO-LAV", "category": "essential_oils", "scent": "lavender", "quantity": 3, "unit_price": 40.0}],
}


def register(api, customer_id: str = "c1", **fields: Any) -> dict:
    body = {"email": f"{customer_id}@example.com", "country": "GB", "consent": {"email": "subscribed"}, **fields}
    status, payload = api("PUT", f"/customers/{customer_id}", body)
    assert status == 200, payload
    return payload


def test_segment_fills_on_create_and_changes_when_a_customer_buys(stack, api):
    # Given a registered customer and a segment of big spenders
    register(api, "c1")
    status, created = api(
        "POST", "/segments", {"name": "Big spenders", "rule": {"attr": "total_spent", "op": "gte", "value": 100}}
    )
    assert status == 201 and refreshed(stack, created)["entered"] == 0

    # When she buys for 120
    status, outcome = api("POST", "/customers/c1/orders", ORDER)

    # Then she enters in the same call, and the explanation names the value behind the verdict
    assert status == 200
    assert outcome["changes"] == [
        {"segment_id": "big_spenders", "change": "entered", "at": outcome["changes"][0]["at"]}
    ]
    status, why = api("GET", "/customers/c1/segments/big_spenders/why")
    assert why["member"] is True and why["verdict_now"] is True
    assert why["explanation"]["actual"] == 120.0 and why["explanation"]["verdict"] is True
    status, members = api("GET", "/segments/big_spenders/members")
    assert members["members"] == ["c1"]


def test_existing_customers_are_evaluated_when_a_segment_is_created(stack, api):
    for i in range(3):
        register(api, f"c{i}", country="GB" if i < 2 else "FR")
    status, created = api("POST", "/segment-templates/uk_customers/segments")
    assert status == 201 and created["refresh"]["state"] == "running"
    run = refreshed(stack, created)
    assert (run["state"], run["evaluated"], run["entered"], run["left"]) == ("succeeded", 3, 2, 0)
    status, segment = api("GET", "/segments/uk_customers")
    assert segment["member_count"] == 2


def test_profile_update_moves_a_customer_between_segments(stack, api):
    register(api, "c1", country="GB")
    api("POST", "/segment-templates/uk_customers/segments")
    run_refreshes(stack)
    status, outcome = api("PUT", "/customers/c1", {"country": "FR"})
    assert [c["change"] for c in outcome["changes"]] == ["exited"]
    status, customer = api("GET", "/customers/c1")
    assert customer["segments"] == [] and customer["profile"]["country"] == "FR"


def test_only_segments_depending_on_changed_attributes_are_evaluated(api):
    register(api, "c1")
    api("POST", "/segment-templates/uk_customers/segments")
    api("POST", "/segment-templates/high_value/segments")
    api("POST", "/segment-templates/high_engagement/segments")
    status, outcome = api("POST", "/customers/c1/orders", ORDER)
    # an order changes spend and order events, never the country or email opens
    assert set(outcome["evaluated_segments"]) == {"high_value"}
    status, outcome = api(
        "POST",
        "/customers/c1/events",
        {"event_id": "e1", "kind": "email_opened", "occurred_at": "2026-11-19T11:00:00Z"},
    )
    assert set(outcome["evaluated_segments"]) == {"high_engagement"}


def test_duplicate_order_changes_nothing(api):
    register(api, "c1")
    api("POST", "/segments", {"name": "Two orders", "rule": {"attr": "orders_count", "op": "gte", "value": 2}})
    api("POST", "/customers/c1/orders", ORDER)
    status, again = api("POST", "/customers/c1/orders", ORDER)
    assert again["duplicate"] is True and again["changes"] == []
    status, customer = api("GET", "/customers/c1")
    assert customer["features"]["orders_count"] == 1


def test_refund_lowers_net_spend_and_exits_the_segment(api):
    register(api, "c1")
    api("POST", "/segments", {"name": "Big spenders", "rule": {"attr": "total_spent", "op": "gte", "value": 100}})
    api("POST", "/customers/c1/orders", ORDER)
    status, outcome = api(
        "POST", "/customers/c1/refunds", {"order_id": "o-1", "refunded_at": "2026-11-19T12:00:00Z", "amount": 40}
    )
    assert [(c["segment_id"], c["change"]) for c in outcome["changes"]] == [("big_spenders", "exited")]


def test_customer_view_has_features_segments_and_why(stack, api):
    register(api, "c1", birth_date="1990-01-15", preferred_scents=["lavender"])
    api("POST", "/segment-templates/lavender_lovers/segments")
    run_refreshes(stack)
    status, customer = api("GET", "/customers/c1")
    assert status == 200
    assert customer["features"]["age"] == 36
    assert customer["features"]["consent.email"] == "subscribed"
    [membership] = customer["segments"]
    assert membership["segment_id"] == "lavender_lovers"
    assert membership["why"]["verdict"] is True


def test_segment_update_is_versioned_and_recomputes_membership(stack, api):
    register(api, "c1", country="GB")
    register(api, "c2", country="FR")
    api(
        "POST",
        "/segments",
        {"segment_id": "geo", "name": "Geo", "rule": {"attr": "country", "op": "eq", "value": "GB"}},
    )
    run_refreshes(stack)
    status, updated = api(
        "PUT", "/segments/geo", {"name": "Geo", "rule": {"attr": "country", "op": "eq", "value": "FR"}}
    )
    assert status == 200
    assert updated["segment"]["version"] == 2
    run = refreshed(stack, updated)
    assert (run["evaluated"], run["entered"], run["left"]) == (2, 1, 1)
    assert api("GET", "/segments/geo/members")[1]["members"] == ["c2"]
    status, versions = api("GET", "/segments/geo/versions")
    assert [v["rule"]["value"] for v in versions["versions"]] == ["GB", "FR"]
    status, stale = api(
        "PUT",
        "/segments/geo",
        {"name": "Geo", "rule": {"attr": "country", "op": "eq", "value": "DE"}, "expected_version": 1},
    )
    assert status == 409


def test_archived_segment_empties_and_is_not_listed(stack, api):
    register(api, "c1", country="GB")
    api("POST", "/segment-templates/uk_customers/segments")
    run_refreshes(stack)
    status, archived = api("DELETE", "/segments/uk_customers")
    assert status == 200 and refreshed(stack, archived)["left"] == 1
    status, listed = api("GET", "/segments")
    assert listed["segments"] == []
    status, members = api("GET", "/segments/uk_customers/members")
    assert members["members"] == []


def test_members_are_paginated_with_a_cursor(stack, api):
    for i in range(5):
        register(api, f"c{i}")
    api("POST", "/segment-templates/uk_customers/segments")
    run_refreshes(stack)
    seen, cursor = [], None
    while True:
        status, page = api(
            "GET", "/segments/uk_customers/members", query={"limit": "2", **({"cursor": cursor} if cursor else {})}
        )
        assert status == 200 and len(page["members"]) <= 2
        seen += page["members"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"c{i}" for i in range(5)]
    status, _ = api("GET", "/segments/uk_customers/members", query={"cursor": "not-a-cursor"})
    assert status == 400


def test_preview_gives_size_and_sample_without_saving(api):
    for i in range(4):
        register(api, f"c{i}", country="GB" if i % 2 else "DE")
    status, preview = api(
        "POST", "/segments/preview", {"rule": {"attr": "country", "op": "eq", "value": "gb"}, "sample_size": 1}
    )
    assert status == 200
    assert (preview["size"], preview["total"], len(preview["sample"])) == (2, 4, 1)
    assert preview["sample"][0]["why"]["verdict"] is True
    assert api("GET", "/segments")[1]["segments"] == []


def test_in_segment_reference_and_cycle_rejected(stack, api):
    register(api, "c1", country="GB")
    api("POST", "/segments", {"segment_id": "uk", "name": "UK", "rule": {"attr": "country", "op": "eq", "value": "GB"}})
    status, created = api(
        "POST", "/segments", {"segment_id": "uk_and_more", "name": "UK+", "rule": {"in_segment": "uk"}}
    )
    assert status == 201 and refreshed(stack, created)["entered"] == 1
    status, error = api("PUT", "/segments/uk", {"name": "UK", "rule": {"in_segment": "uk_and_more"}})
    assert status == 400
    assert "uk" in error["issues"][0]["message"] and error["issues"][0]["path"].startswith("$")


def test_invalid_rule_is_400_naming_the_path(api):
    rule = {
        "all": [
            {"attr": "country", "op": "eq", "value": "GB"},
            {"any": [{"attr": "orders_count", "op": "gte", "value": "many"}]},
        ]
    }
    status, error = api("POST", "/segments", {"name": "Bad", "rule": rule})
    assert status == 400
    assert error["issues"][0]["path"] == "$.all[1].any[0].value"


def test_unknown_attribute_is_400_with_close_matches(api):
    status, error = api("POST", "/segments/preview", {"rule": {"attr": "total_spend", "op": "gte", "value": 1}})
    assert status == 400
    assert "total_spent" in error["issues"][0]["suggestions"]


def test_invalid_order_gets_field_errors_and_writes_nothing(api):
    register(api, "c1")
    bad = {**ORDER, "total": -5, "lines": []}
    status, error = api("POST", "/customers/c1/orders", bad)
    assert status == 422
    fields = {tuple(e["loc"])[-1] for e in error["detail"]}
    assert {"total", "lines"} <= fields
    status, customer = api("GET", "/customers/c1")
    assert customer["orders"] == 0


def test_email_cannot_be_taken_by_another_customer(api):
    register(api, "c1", email="same@example.com")
    status, error = api("PUT", "/customers/c2", {"email": "same@example.com"})
    assert status == 409
    status, _ = api("GET", "/customers/c2")
    assert status == 404


def test_tags_and_consent_update_segments_in_real_time(api):
    register(api, "c1")
    api("POST", "/segments", {"name": "VIP tagged", "rule": {"attr": "tags", "op": "contains", "value": "VIP"}})
    api("POST", "/segments", {"name": "SMS ok", "rule": {"attr": "consent.sms", "op": "eq", "value": "subscribed"}})
    status, tagged = api("POST", "/customers/c1/tags", {"add": ["vip"]})
    assert [c["segment_id"] for c in tagged["changes"]] == ["vip_tagged"]
    status, consent = api(
        "PUT", "/customers/c1/consent", {"channels": {"sms": "subscribed"}, "source": "preference_centre"}
    )
    assert [c["segment_id"] for c in consent["changes"]] == ["sms_ok"]
    status, _ = api("POST", "/customers/nobody/tags", {"add": ["vip"]})
    assert status == 404


def test_eventbridge_order_flows_to_membership_sync_task_and_change_event(stack, api):
    register(api, "c1")
    api(
        "POST",
        "/segments",
        {
            "name": "Buyers",
            "rule": {"attr": "orders_count", "op": "gte", "value": 1},
            "destinations": [{"channel": "webhook", "list_name": "buyers"}],
        },
    )
    # a rule on the bus picks up our own SegmentMembershipChanged events, as a downstream consumer would
    events = stack.env.client("events")
    events.put_rule(
        Name="observer",
        EventBusName=stack.env.physical_ids["SegmentationBus"],
        EventPattern='{"source": ["segmentation"], "detail-type": ["SegmentMembershipChanged"]}',
    )
    observer = stack.env.client("sqs").create_queue(QueueName="observer")["QueueUrl"]
    arn = stack.env.client("sqs").get_queue_attributes(QueueUrl=observer, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_targets(
        Rule="observer", EventBusName=stack.env.physical_ids["SegmentationBus"], Targets=[{"Id": "q", "Arn": arn}]
    )

    put_shop_events(stack.env, [("OrderCompleted", {**ORDER, "customer_id": "c1"})])
    stats = stack.drain()

    assert stats.invocations_by_function.get("CustomerEventsFunction") == 1
    assert stats.invocations_by_function.get("ChannelSyncFunction") == 1  # the sync task was delivered
    status, members = api("GET", "/segments/buyers/members")
    assert members["members"] == ["c1"]
    status, sync = api("GET", "/segments/buyers/sync")
    [channel] = sync["channels"]
    assert channel["channel"] == "webhook" and "not configured" in channel["last_error"]
    import json

    changed = [
        json.loads(m["Body"])
        for m in stack.env.client("sqs").receive_message(QueueUrl=observer, MaxNumberOfMessages=10)["Messages"]
    ]
    assert [(c["detail"]["segment_id"], c["detail"]["change"]) for c in changed] == [("buyers", "entered")]
    assert "email" not in json.dumps(changed)  # ids only, no personal data


def test_bad_event_detail_goes_to_the_dlq_with_its_reason(stack):
    put_shop_events(stack.env, [("OrderCompleted", {"order_id": "o-9", "customer_id": "c1", "total": -1})])
    stack.drain()
    [message] = queue_messages(stack.env, "CustomerEventsDLQ")
    reason = message["MessageAttributes"]["reason"]["StringValue"]
    assert "placed_at" in reason and "total" in reason


def test_a_late_redelivered_tag_never_undoes_a_newer_change(api):
    register(api, "c1")
    api("POST", "/segments", {"name": "VIP tagged", "rule": {"attr": "tags", "op": "contains", "value": "vip"}})
    added = {"add": ["vip"], "occurred_at": "2026-11-19T10:00:00Z"}
    api("POST", "/customers/c1/tags", added)
    _, removed = api("POST", "/customers/c1/tags", {"remove": ["vip"], "occurred_at": "2026-11-19T11:00:00Z"})
    assert [c["change"] for c in removed["changes"]] == ["exited"]

    _, late = api("POST", "/customers/c1/tags", added)  # the first change, delivered again after the second

    assert late["changes"] == []
    assert api("GET", "/customers/c1")[1]["profile"]["tags"] == []
