"""Dynamics 365 adapter against its fake: the shared contract plus Dataverse's own rules."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from local_runtime.fakes.dynamics import LIST_ID, FakeDynamics
from segmentation.sync.adapters.base import Contact, NotConfigured, Target
from segmentation.sync.adapters.dynamics import create
from segmentation.sync.http import JsonHttp
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def dyn(h: Harness) -> FakeDynamics:
    return cast(FakeDynamics, h.fake)


class TestDynamics(ChannelContract):
    channel = "dynamics"
    supports_partial = False  # AddListMembersList is all or nothing

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "client_secret": "revoked"}

    def test_existing_contact_is_found_by_email_and_its_flags_kept(self, h: Harness) -> None:
        older = dyn(h).contact("c1@example.com", donotbulkemail=True)
        dyn(h).contact("C1@example.com")  # email is not unique in Dataverse: the oldest is used
        h.fields = {"firstname": "first_name"}
        h.customer("c1", first_name="Ada")
        assert h.settle(["c1"]).added == ["c1"]
        assert h.fake.members(LIST) == {older} and h.fake.contacts[older]["donotbulkemail"] is True
        assert h.fake.contacts[older]["firstname"] == "Ada" and len(h.fake.contacts) == 2

    def test_alternate_key_upserts_in_one_call(self, h: Harness) -> None:
        dyn(h).alternate_key = True
        adapter = create({**h.config, "alternate_key": True}, JsonHttp(timeout=5))
        outcome = adapter.upsert(Target(SEGMENT, LIST), [Contact("c1", email="o'brien@example.com")])["c1"]
        assert outcome.platform_id in h.fake.contacts and h.fake.requests["GET find_contacts"] == 0
        assert h.fake.contacts[str(outcome.platform_id)]["emailaddress1"] == "o'brien@example.com"

    def test_a_contact_deleted_in_dynamics_is_isolated_and_created_again(self, h: Harness) -> None:
        for cid in ("c1", "c2", "c3"):
            h.customer(cid)
        h.settle(["c1", "c2", "c3"])
        h.state.set_member(SEGMENT, "c2", False)
        h.settle(["c2"])
        del h.fake.contacts[h.state.cache["dynamics"]["c2"][0]]  # deleted by a user: the cached id is stale
        h.state.set_member(SEGMENT, "c2", True)
        assert h.settle(["c1", "c2", "c3"]).added == ["c2"]
        assert h.fake.member_emails(LIST) == {"c1@example.com", "c2@example.com", "c3@example.com"}

    def test_the_token_is_renewed(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        h.clock.advance(3600)
        assert h.settle(["c2"]).added == ["c2"] and dyn(h).tokens_issued == 2

    def test_only_static_contact_lists_are_used(self, h: Harness) -> None:
        dyn(h).marketing_lists["5f6a1c2e-0000-4000-8000-000000000002"] = {
            "listid": "5f6a1c2e-0000-4000-8000-000000000002",
            "listname": "dynamic-one",
            "type": True,
            "createdfromcode": 2,
        }
        contact = Contact("c1", platform_id=dyn(h).contact("c1@example.com"))
        with pytest.raises(NotConfigured, match="static list of contacts"):
            h.adapter.add(Target(SEGMENT, "dynamic-one"), [contact])
        with pytest.raises(NotConfigured, match="no marketing list named 'missing'"):
            h.adapter.add(Target(SEGMENT, "missing"), [contact])
        mapped = create({**h.config, "lists": {"renamed": LIST_ID}}, JsonHttp(timeout=5))
        assert mapped.add(Target(SEGMENT, "renamed"), [contact])["c1"].verdict == "ok"
        assert h.fake.lists[LIST_ID] == {contact.platform_id}

    def test_consent_fields_cannot_be_mapped(self, h: Harness) -> None:
        pattern = re.compile(h.spec.field_pattern)
        assert pattern.fullmatch("firstname") and pattern.fullmatch("address1_country")
        for name in ("donotbulkemail", "donotemail", "msdynmkt_consent", "emailaddress1"):
            assert not pattern.fullmatch(name), name

    def test_rate_limit_is_never_exceeded(self, h: Harness) -> None:
        # The documented window (6,000 requests in 5 minutes) cannot be filled in a unit test, and the shared version's
        # 600 one-contact requests cost most of this file's run time. What keeps Dataverse's window from filling is
        # the 20-per-second pace: 60 customers (some 120 requests) show it holds.
        cids = [f"c{i:03d}" for i in range(60)]
        for cid in cids:
            h.customer(cid)
        started = h.clock.time()
        h.settle(cids)
        sent = sum(h.fake.requests.values())
        assert h.fake.over_limit == 0 and h.stats.throttled == 0 and sent > 120
        assert h.clock.time() - started >= (sent - 20) / 20  # never faster than 20 per second
