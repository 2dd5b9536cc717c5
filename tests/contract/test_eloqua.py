"""Eloqua adapter against its fake: the shared contract plus Eloqua's own rules."""

from __future__ import annotations

from typing import Any, cast

from local_runtime.fakes.eloqua import FakeEloqua
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def el(h: Harness) -> FakeEloqua:
    return cast(FakeEloqua, h.fake)


class TestEloqua(ChannelContract):
    channel = "eloqua"
    supports_partial = False  # a list update is applied or refused as a whole

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "password": "revoked"}

    def test_subscription_is_never_sent_and_other_lists_are_kept(self, h: Harness) -> None:
        cid = el(h).contact("c1@example.com", isSubscribed="false")
        el(h).list_ids["Newsletter"] = "42"
        h.fake.lists["42"].add(cid)
        h.fields = {"firstName": "first_name", "100188": "custom.scent"}
        h.customer("c1", first_name="Ada", custom={"scent": "oud"})
        h.settle(["c1"])
        record = h.fake.contacts[cid]
        assert record["isSubscribed"] == "false" and record["firstName"] == "Ada"
        assert record["fieldValues"] == [{"type": "FieldValue", "id": "100188", "value": "oud"}]
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        assert h.fake.member_emails(LIST) == set() and h.fake.lists["42"] == {cid}

    def test_one_list_update_carries_the_whole_batch(self, h: Harness) -> None:
        cids = [f"c{i:02d}" for i in range(30)]
        for cid in cids:
            h.customer(cid)
        h.settle(cids)
        assert h.fake.requests["PUT update_list"] == 1 and len(h.at_destination()) == 30
        for cid in cids:
            h.state.set_member(SEGMENT, cid, False)
        h.settle(cids)
        assert h.fake.requests["PUT update_list"] == 2 and h.at_destination() == set()

    def test_the_pod_is_discovered_and_found_again_after_a_move(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        assert h.fake.requests["GET login"] == 1
        el(h).pod = "/pod07"  # the instance moved
        assert h.settle(["c2"]).added == ["c2"] and h.fake.requests["GET login"] == 2

    def test_a_contact_deleted_in_eloqua_is_created_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        old = next(iter(h.fake.contacts))
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        del h.fake.contacts[old]
        h.state.set_member(SEGMENT, "c1", True)
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}
        assert next(iter(h.fake.contacts)) != old
