"""Intercom adapter against its fake: the shared contract plus Intercom's own rules."""

from __future__ import annotations

from typing import Any, cast

import pytest

from local_runtime.fakes.intercom import FakeIntercom
from segmentation.sync import adapters
from segmentation.sync.adapters.base import Contact, Rate, Target, Throttled
from segmentation.sync.http import JsonHttp
from segmentation.sync.ratelimit import PacedHttp, RateLimiter
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def ic(h: Harness) -> FakeIntercom:
    return cast(FakeIntercom, h.fake)


class TestIntercom(ChannelContract):
    channel = "intercom"
    supports_partial = False  # one contact per call

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "access_token": "revoked"}

    def test_other_tags_and_email_subscription_are_left_alone(self, h: Harness) -> None:
        cid = ic(h).contact("c1@example.com", unsubscribed_from_emails=True, external_id="crm-9")
        ic(h).tag_ids["wholesale"] = "900"
        h.fake.lists["900"].add(cid)
        h.fields = {"name": "first_name", "scent": "custom.scent"}
        h.customer("c1", first_name="Ada", custom={"scent": "oud"})
        h.settle(["c1"])
        record = h.fake.contacts[cid]
        assert record["name"] == "Ada" and record["custom_attributes"] == {"scent": "oud"}
        assert record["unsubscribed_from_emails"] is True and record["external_id"] == "crm-9"
        assert len(h.fake.contacts) == 1 and h.fake.member_emails(LIST) == {"c1@example.com"}
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        assert h.fake.member_emails(LIST) == set() and h.fake.lists["900"] == {cid}

    def test_new_contacts_are_users_with_our_external_id(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        (record,) = h.fake.contacts.values()
        assert record["role"] == "user" and record["external_id"] == "c1"
        assert h.fake.requests["PUT update_contact"] == 0  # nothing mapped: an existing contact is not written

    def test_the_tag_is_found_or_created_once(self, h: Harness) -> None:
        ic(h).tag_ids[LIST] = "77"
        for cid in ("c1", "c2"):
            h.customer(cid)
        h.settle(["c1", "c2"])
        assert h.fake.requests["POST create_or_find_tag"] == 1 and h.fake.lists["77"] == h.ours()

    def test_throttle_waits_until_the_reset_time(self, h: Harness) -> None:
        h.adapter.upsert(Target(SEGMENT, LIST), [Contact("c0", email="c0@example.com")])
        h.fake.inject("throttle")
        with pytest.raises(Throttled) as caught:
            h.adapter.upsert(Target(SEGMENT, LIST), [Contact("c1", email="c1@example.com")])
        assert caught.value.retry_after is not None and 1.0 <= caught.value.retry_after <= 2.0

    def test_a_contact_deleted_in_intercom_is_created_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        old = next(iter(h.fake.contacts))
        del h.fake.contacts[old]
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"]  # nothing left to untag
        h.state.set_member(SEGMENT, "c1", True)
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}
        assert next(iter(h.fake.contacts)) != old

    def test_the_region_picks_the_host(self) -> None:
        for region, host in (("eu", "https://api.eu.intercom.io"), ("au", "https://api.au.intercom.io")):
            adapter = adapters.load("intercom").create({"access_token": "t", "region": region}, JsonHttp())
            assert adapter.base == host  # type: ignore[attr-defined]

    def test_rate_limit_is_never_exceeded(self, h: Harness) -> None:
        # 1,666 per 10 s is far above what a test sends, so the same pacing is checked against a window scaled
        # down to 20 per 10 s on both sides: 30 customers make 91 requests (search, create, tag; one tag lookup).
        scaled = {"default": (Rate(20, 10.0),)}
        h.fake.rates = dict(scaled)
        h.limiter = RateLimiter(scaled, h.clock)
        h.adapter = adapters.load("intercom").create(h.config, PacedHttp(JsonHttp(timeout=5), h.limiter))
        cids = [f"c{i:03d}" for i in range(30)]
        for cid in cids:
            h.customer(cid)
        h.settle(cids)
        assert sum(h.fake.requests.values()) == 91 and len(h.fake.member_emails(LIST)) == 30
        assert h.fake.over_limit == 0 and h.stats.throttled == 0 and h.fake.peak == {"default:20/10s": 20}
