"""HubSpot adapter against its fake: the shared contract plus HubSpot's own rules."""

from __future__ import annotations

from typing import Any

from tests.contract.harness import LIST, ChannelContract, Harness


class TestHubSpot(ChannelContract):
    channel = "hubspot"

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "token": "revoked"}

    def test_contacts_are_upserted_by_email_into_one_record(self, h: Harness) -> None:
        h.fields = {"firstname": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        h.customer("c1", first_name="Ada")
        h.state.set_member("vip", "c1", False)
        h.settle(["c1"])
        h.state.set_member("vip", "c1", True)
        h.settle(["c1"])
        assert len(h.fake.contacts) == 1 and next(iter(h.fake.contacts.values()))["firstname"] == "Ada"
        assert h.fake.member_emails(LIST) == {"c1@example.com"}

    def test_a_contact_deleted_in_hubspot_is_upserted_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        rid = next(iter(h.fake.contacts))
        del h.fake.contacts[rid]  # merged or deleted by a HubSpot user; our cached id is now stale
        h.fake.by_email.clear()
        h.fake.lists[h.fake.list_key(LIST)].clear()
        h.state.set_records("vip", "hubspot", {"c1": None})
        report = h.settle(["c1"])
        assert report.added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}

    def test_throttle_without_retry_after_waits_for_the_next_window(self, h: Harness) -> None:
        h.customer("c1")
        h.fake.inject("throttle")
        started = h.clock.time()
        h.settle(["c1"])
        assert h.clock.time() - started >= 10.0
