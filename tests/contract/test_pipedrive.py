"""Pipedrive adapter against its fake: the shared contract plus Pipedrive's read-modify-write of labels."""

from __future__ import annotations

from typing import Any, cast

from local_runtime.fakes.pipedrive import FakePipedrive
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def pd(h: Harness) -> FakePipedrive:
    return cast(FakePipedrive, h.fake)


class TestPipedrive(ChannelContract):
    channel = "pipedrive"
    supports_partial = False  # one person per call

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "api_token": "revoked"}

    def test_other_labels_and_marketing_status_are_kept(self, h: Harness) -> None:
        other = pd(h).label_option("Wholesale")
        pid = pd(h).person("c1@example.com", label_ids=[1, other], marketing_status="unsubscribed")
        h.customer("c1")
        h.settle(["c1"])
        ours = int(h.fake.list_key(LIST))
        assert h.fake.contacts[pid]["label_ids"] == [1, other, ours]
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        record = h.fake.contacts[pid]
        assert record["label_ids"] == [1, other] and record["marketing_status"] == "unsubscribed"

    def test_a_label_already_set_is_not_written_again(self, h: Harness) -> None:
        ours = pd(h).label_option(LIST)
        pd(h).person("c1@example.com", label_ids=[ours])
        h.customer("c1")
        assert h.settle(["c1"]).added == ["c1"]
        assert h.fake.requests["GET get_person"] == 1 and h.fake.requests["PATCH update_person"] == 0

    def test_a_new_label_option_keeps_the_existing_ones(self, h: Harness) -> None:
        pid = pd(h).person("c1@example.com", label_ids=[1])
        h.customer("c1")
        h.settle(["c1"])
        assert [o["label"] for o in pd(h).options] == ["Customer", LIST] and h.fake.contacts[pid]["label_ids"][0] == 1
        h.customer("c2")
        h.settle(["c2"])
        assert h.fake.requests["PUT update_person_field"] == 1 and h.fake.requests["GET person_fields"] == 1

    def test_duplicates_by_email_always_resolve_to_the_oldest_person(self, h: Harness) -> None:
        first = pd(h).person("c1@example.com")
        pd(h).person("C1@example.com")
        h.fields = {"name": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        assert h.fake.members(LIST) == {first} and h.fake.contacts[first]["name"] == "Ada"

    def test_custom_fields_go_under_their_key(self, h: Harness) -> None:
        key = "a" * 40
        h.fields = {key: "custom.scent"}
        h.customer("c1", custom={"scent": "oud"})
        h.settle(["c1"])
        (record,) = h.fake.contacts.values()
        assert record["custom_fields"] == {key: "oud"} and record["name"] == "c1@example.com"

    def test_a_person_deleted_in_pipedrive_is_found_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        old = next(iter(h.fake.contacts))
        h.state.set_member(SEGMENT, "c1", False)
        del h.fake.contacts[old]
        assert h.settle(["c1"]).removed == ["c1"]
        h.state.set_member(SEGMENT, "c1", True)
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}

    def test_rate_limit_is_never_exceeded(self, h: Harness) -> None:
        # 30 customers: search + create + read + write each, over some 12 simulated seconds of 20 per 2 s.
        cids = [f"c{i:03d}" for i in range(30)]
        for cid in cids:
            h.customer(cid)
        h.settle(cids)
        assert len(h.fake.member_emails(LIST)) == 30 and sum(h.fake.requests.values()) == 122
        assert h.fake.over_limit == 0 and h.stats.throttled == 0 and h.fake.peak == {"default:20/2s": 20}
