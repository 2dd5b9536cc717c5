"""WooCommerce adapter against its fake: the shared contract plus the read-modify-write of customer meta."""

from __future__ import annotations

from typing import Any, cast

from local_runtime.fakes.woocommerce import FakeWooCommerce
from segmentation.sync import adapters
from segmentation.sync.http import JsonHttp
from segmentation.sync.ratelimit import PacedHttp
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def wc(h: Harness) -> FakeWooCommerce:
    return cast(FakeWooCommerce, h.fake)


class TestWooCommerce(ChannelContract):
    channel = "woocommerce"
    supports_partial = False  # one customer per call

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "consumer_secret": "cs_revoked"}

    def test_other_meta_is_kept_and_the_flag_is_updated_in_place(self, h: Harness) -> None:
        cid = wc(h).customer("c1@example.com")
        h.fake.contacts[cid]["meta_data"] = [{"id": 7, "key": "mailpoet_subscribed", "value": "no"}]
        h.customer("c1")
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", True)
        h.settle(["c1"])
        meta = h.fake.contacts[cid]["meta_data"]
        assert meta[0] == {"id": 7, "key": "mailpoet_subscribed", "value": "no"}
        assert [m for m in meta if m["key"] == f"_seg_{LIST}"] == [{"id": 100, "key": f"_seg_{LIST}", "value": "1"}]

    def test_a_flag_already_set_is_not_written_again(self, h: Harness) -> None:
        cid = wc(h).customer("c1@example.com")
        h.fake.contacts[cid]["meta_data"] = [{"id": 5, "key": f"_seg_{LIST}", "value": "1"}]
        h.customer("c1")
        assert h.settle(["c1"]).added == ["c1"]
        assert h.fake.requests["GET get_customer"] == 1 and h.fake.requests["PUT update_customer"] == 0

    def test_customers_are_not_created_unless_the_store_allows_it(self, h: Harness) -> None:
        known = wc(h).customer("known@example.com")
        h.adapter = adapters.load("woocommerce").create(
            {**h.config, "create_customers": False}, PacedHttp(JsonHttp(timeout=5), h.limiter)
        )
        h.customer("known")
        h.customer("guest")
        report = h.settle(["known", "guest"])
        assert report.added == ["known"] and report.terminal == {"guest": "no registered customer with this address"}
        assert set(h.fake.contacts) == {known}

    def test_mapped_names_are_written_to_existing_customers(self, h: Harness) -> None:
        cid = wc(h).customer("c1@example.com", first_name="A")
        h.fields = {"first_name": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        assert h.fake.contacts[cid]["first_name"] == "Ada" and len(h.fake.contacts) == 1

    def test_a_customer_deleted_in_the_store_is_looked_up_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        del h.fake.contacts[next(iter(h.fake.contacts))]
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"]
        h.state.set_member(SEGMENT, "c1", True)
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}
