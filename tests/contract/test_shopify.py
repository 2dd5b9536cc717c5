"""Shopify adapter against its fake: the shared contract plus Shopify's own rules."""

from __future__ import annotations

from typing import Any, cast

import pytest

from local_runtime.fakes.shopify import FakeShopify
from segmentation.sync.adapters.base import Contact, Target, Throttled
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


class DeterministicPartial:
    """The shared partial-failure test draws its faults at random, seeded: on a platform that sends nine customers
    in one or two requests, the draws can miss every request and the test proves nothing. Here the next
    ``partial_requests`` requests fail for some of their records, always."""

    partial_requests = 2

    def warm_up(self, h: Harness) -> None:
        """Requests to make before the faults are scripted (a token, a tag created on first use)."""

    def test_partial_failures_are_retried_per_record(self, h: Harness) -> None:
        cids = [f"c{i}" for i in range(9)]
        for cid in cids:
            h.customer(cid)
        self.warm_up(h)
        h.fake.inject("partial", self.partial_requests)
        report = h.settle(cids, rounds=30)
        assert (
            not report.retrying and not report.terminal and h.fake.faults_injected["partial"] == self.partial_requests
        )
        assert h.at_destination() == h.ours() and len(h.ours()) == 9


def shop(h: Harness) -> FakeShopify:
    return cast(FakeShopify, h.fake)


class TestShopify(DeterministicPartial, ChannelContract):
    channel = "shopify"

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "access_token": "shpat_revoked"}

    def test_tagging_keeps_other_tags_and_never_touches_consent(self, h: Harness) -> None:
        gid = shop(h).customer(
            "c1@example.com", tags=["wholesale"], emailMarketingConsent={"marketingState": "PENDING"}
        )
        h.fields = {"firstName": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        customer = h.fake.contacts[gid]
        assert customer["tags"] == ["wholesale", LIST] and customer["firstName"] == "Ada"
        assert customer["emailMarketingConsent"] == {"marketingState": "PENDING"}
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"]
        assert customer["tags"] == ["wholesale"] and len(h.fake.contacts) == 1

    def test_throttled_in_a_200_waits_until_the_cost_is_restored(self, h: Harness) -> None:
        contacts = [Contact(f"c{i}", email=f"c{i}@example.com") for i in range(4)]
        shop(h).available, shop(h)._refilled_at = 0.0, h.clock.time()  # another app drained the bucket
        with pytest.raises(Throttled) as caught:
            h.adapter.upsert(Target(SEGMENT, LIST), contacts)
        assert caught.value.retry_after == pytest.approx(0.4)  # 4 mutations cost 40 points, 100 restored per second
        for contact in contacts:
            h.customer(contact.customer_id)
        report = h.settle([c.customer_id for c in contacts])
        assert len(report.added) == 4 and h.stats.throttled == 1 and h.fake.over_limit == 2

    def test_user_errors_are_terminal_for_that_customer_only(self, h: Harness) -> None:
        h.fields = {"phone": "phone"}
        h.customer("good", phone="+442071838750")
        h.customer("bad", phone="12-34")
        report = h.settle(["good", "bad"])
        assert report.added == ["good"] and report.terminal == {"bad": "Phone is invalid"}
        assert h.fake.member_emails(LIST) == {"good@example.com"}

    def test_a_customer_deleted_in_shopify_is_upserted_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        old = next(iter(h.fake.contacts))
        del h.fake.contacts[old]  # deleted by a merchant; our cached GID is stale now
        shop(h).by_email.clear()
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", True)
        report = h.settle(["c1"])
        assert report.added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}
        assert next(iter(h.fake.contacts)) != old

    def test_aliases_share_one_request(self, h: Harness) -> None:
        cids = [f"c{i}" for i in range(10)]
        for cid in cids:
            h.customer(cid)
        h.settle(cids)
        assert h.fake.requests["POST graphql"] == 2  # one customerSet document, one tagsAdd document
