"""Account Engagement (Pardot) adapter against its fake: the shared contract plus Pardot's own rules."""

from __future__ import annotations

from typing import Any, cast

import pytest

from local_runtime.fakes.pardot import FakePardot
from segmentation.sync.adapters.base import Contact, Rate, Target, Throttled
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def pa(h: Harness) -> FakePardot:
    return cast(FakePardot, h.fake)


class TestPardot(ChannelContract):
    channel = "pardot"
    supports_partial = False  # one membership per call

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "client_secret": "revoked"}

    def test_removal_looks_up_the_membership_id_first(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"] and h.at_destination() == set()
        assert h.fake.requests["GET find_memberships"] == 1 and h.fake.requests["DELETE delete_membership"] == 1

    def test_an_opted_out_membership_is_never_deleted_or_touched(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        (mid,) = pa(h).memberships
        pa(h).memberships[mid]["optedOut"] = True  # the prospect opted out of this list in Pardot
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"]
        assert pa(h).memberships[mid]["optedOut"] is True and h.fake.requests["DELETE delete_membership"] == 0

    def test_an_existing_membership_counts_as_added(self, h: Harness) -> None:
        pid = pa(h).prospect("c1@example.com", optedOut=True)
        pa(h).list_ids[LIST] = 77
        pa(h).membership(77, pid)
        h.fields = {"firstName": "first_name"}
        h.customer("c1", first_name="Ada")
        assert h.settle(["c1"]).added == ["c1"]
        assert len(pa(h).memberships) == 1 and h.fake.contacts[pid] == {
            "id": int(pid),
            "email": "c1@example.com",
            "optedOut": True,
            "firstName": "Ada",
        }

    def test_limit_codes_in_the_body_are_throttles(self, h: Harness) -> None:
        h.customer("c1")
        h.fake.inject("throttle")
        assert h.settle(["c1"]).added == ["c1"] and h.stats.throttled == 1
        h.fake.rates = {"default": (Rate(1, 86_400.0),)}  # the day's calls are spent
        with pytest.raises(Throttled, match="daily") as caught:
            h.adapter.upsert(Target(SEGMENT, LIST), [Contact("c2", email="c2@example.com")])
        assert caught.value.retry_after == 3600.0

    def test_an_expired_token_is_renewed_once(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        pa(h).expire_tokens()
        assert h.settle(["c2"]).added == ["c2"] and pa(h).tokens_issued == 2

    def test_the_latest_prospect_with_the_address_is_used(self, h: Harness) -> None:
        pa(h).prospect("c1@example.com")
        latest = pa(h).prospect("c1@example.com")
        h.customer("c1")
        h.settle(["c1"])
        assert h.fake.members(LIST) == {latest}
