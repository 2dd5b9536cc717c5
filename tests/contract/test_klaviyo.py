"""Klaviyo adapter against its fake: the shared contract plus Klaviyo's own rules."""

from __future__ import annotations

from typing import Any

from tests.contract.harness import LIST, ChannelContract, Harness


class TestKlaviyo(ChannelContract):
    channel = "klaviyo"
    supports_partial = False  # list relationship calls are all-or-nothing

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "api_key": "pk_revoked"}

    def test_an_unknown_profile_is_isolated_and_upserted_again(self, h: Harness) -> None:
        for cid in ("c1", "c2", "c3"):
            h.customer(cid)
        h.settle(["c1", "c2", "c3"])
        h.state.set_member("vip", "c2", False)
        h.settle(["c2"])
        pid = h.state.cache["klaviyo"]["c2"][0]
        del h.fake.contacts[pid]  # deleted in Klaviyo: our cached id is unknown there now
        h.fake.by_email.pop("c2@example.com")
        h.state.set_member("vip", "c2", True)
        report = h.settle(["c1", "c2", "c3"])
        assert report.added == ["c2"] and h.fake.member_emails(LIST) == {f"c{i}@example.com" for i in (1, 2, 3)}

    def test_custom_fields_go_to_properties(self, h: Harness) -> None:
        h.fields = {"first_name": "first_name", "Favourite scent": "custom.scent"}
        h.customer("c1", first_name="Ada", custom={"scent": "lavender"})
        h.settle(["c1"])
        profile = next(iter(h.fake.contacts.values()))
        assert profile["first_name"] == "Ada" and profile["properties"] == {"Favourite scent": "lavender"}
