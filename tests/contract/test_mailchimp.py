"""Mailchimp adapter against its fake: the shared contract plus Mailchimp's own rules."""

from __future__ import annotations

from typing import Any

from local_runtime.fakes.mailchimp import LIST_ID
from segmentation.sync.adapters.mailchimp import subscriber_hash
from tests.contract.harness import LIST, ChannelContract, Harness


class TestMailchimp(ChannelContract):
    channel = "mailchimp"

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "api_key": "wrong-us6"}

    def test_upsert_never_changes_an_existing_subscription(self, h: Harness) -> None:
        # An existing member who unsubscribed in Mailchimp stays unsubscribed when we tag them.
        h.fake.contacts[subscriber_hash("c1@example.com")] = {
            "id": subscriber_hash("c1@example.com"),
            "email_address": "c1@example.com",
            "status": "unsubscribed",
        }
        h.customer("c1")
        h.settle(["c1"])
        assert h.fake.contacts[subscriber_hash("c1@example.com")]["status"] == "unsubscribed"

    def test_merge_fields_follow_the_mapping(self, h: Harness) -> None:
        h.fields = {"FNAME": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        assert h.fake.contacts[subscriber_hash("c1@example.com")]["merge_fields"] == {"FNAME": "Ada"}

    def test_address_change_moves_the_tag_to_the_new_member(self, h: Harness) -> None:
        h.customer("c1", email="old@example.com")
        h.settle(["c1"])
        h.customer("c1", email="new@example.com")
        report = h.settle(["c1"])
        assert report.added == ["c1"]
        assert h.fake.member_emails(LIST) == {"new@example.com"}

    def test_tag_is_created_once(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        h.settle(["c2"])
        assert list(h.fake.segment_ids) == [LIST] and h.config["list_id"] == LIST_ID
