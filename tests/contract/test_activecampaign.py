"""ActiveCampaign adapter against its fake: the shared contract plus ActiveCampaign's own rules."""

from __future__ import annotations

from typing import Any, cast

from local_runtime.fakes.activecampaign import FakeActiveCampaign
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def ac(h: Harness) -> FakeActiveCampaign:
    return cast(FakeActiveCampaign, h.fake)


class TestActiveCampaign(ChannelContract):
    channel = "activecampaign"
    supports_partial = False  # one contact per call

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "api_token": "revoked"}

    def test_other_tags_and_list_statuses_are_left_alone(self, h: Harness) -> None:
        cid = ac(h).contact("c1@example.com", listStatus={"2": 2})  # unsubscribed from list 2
        ac(h).tag_ids["wholesale"] = "7"
        h.fake.lists["7"].add(cid)
        h.fields = {"firstName": "first_name", "12": "custom.scent"}
        h.customer("c1", first_name="Ada", custom={"scent": "oud"})
        h.settle(["c1"])
        record = h.fake.contacts[cid]
        assert record["firstName"] == "Ada" and record["fieldValues"] == {"12": "oud"}
        assert record["listStatus"] == {"2": 2} and h.fake.member_emails(LIST) == {"c1@example.com"}
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        assert h.fake.member_emails(LIST) == set() and h.fake.lists["7"] == {cid}

    def test_removal_looks_up_the_tag_link_first(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"]
        assert h.fake.requests["GET contact_tags"] == 1 and h.fake.requests["DELETE remove_tag"] == 1

    def test_an_existing_tag_is_found_not_created(self, h: Harness) -> None:
        ac(h).tag_ids[LIST] = "55"
        ac(h).tag_ids[f"{LIST}-old"] = "56"
        h.customer("c1")
        h.settle(["c1"])
        assert h.fake.requests["POST create_tag"] == 0 and h.fake.lists["55"] == set(h.ours())

    def test_a_contact_deleted_in_activecampaign_is_synced_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        old = next(iter(h.fake.contacts))
        del h.fake.contacts[old]
        ac(h).by_email.clear()
        h.fake.lists[h.fake.list_key(LIST)].clear()
        h.state.set_records(SEGMENT, "activecampaign", {"c1": None})
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}
        h.state.set_member(SEGMENT, "c1", False)
        del h.fake.contacts[next(iter(h.fake.contacts))]  # gone again before the removal: nothing to remove
        assert h.settle(["c1"]).removed == ["c1"]

    def test_rate_limit_is_never_exceeded(self, h: Harness) -> None:
        # The shared version sends 300 customers; at one contact per call that is 600 requests and most of this
        # file's run time. 60 customers still make 120 requests over some 25 simulated seconds of 5 per second.
        cids = [f"c{i:03d}" for i in range(60)]
        for cid in cids:
            h.customer(cid)
        h.settle(cids)
        assert h.fake.over_limit == 0 and h.stats.throttled == 0 and h.fake.peak == {"default:5/1s": 5}
        assert h.stats.requests == 120
