"""Constant Contact adapter against its fake: the shared contract plus Constant Contact's own rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from local_runtime.fakes.constant_contact import FakeConstantContact
from segmentation.sync.adapters.base import Contact, Target, Throttled
from segmentation.sync.adapters.constant_contact import quota_reset_wait
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def cc(h: Harness) -> FakeConstantContact:
    return cast(FakeConstantContact, h.fake)


class TestConstantContact(ChannelContract):
    channel = "constant_contact"
    supports_partial = False  # a membership activity is accepted or refused as a whole

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "access_token": "revoked"}

    def test_a_contact_unsubscribed_there_is_never_written_or_added(self, h: Harness) -> None:
        cid = cc(h).contact("c1@example.com", permission="unsubscribed")
        h.fields = {"first_name": "first_name"}
        h.customer("c1", first_name="Ada")
        report = h.settle(["c1"])
        assert report.added == [] and "unsubscribed" in report.terminal["c1"]
        assert h.fake.contacts[cid] == {
            "contact_id": cid,
            "email": "c1@example.com",
            "permission_to_send": "unsubscribed",
        }
        assert h.fake.requests["POST sign_up_form"] == 0 and h.at_destination() == set()

    def test_an_existing_contact_is_used_as_is_unless_fields_are_mapped(self, h: Harness) -> None:
        first = cc(h).contact("c1@example.com", permission="explicit")
        cc(h).contact("c2@example.com", permission="explicit")
        h.customer("c1")
        h.settle(["c1"])
        assert h.fake.requests["POST sign_up_form"] == 0 and h.fake.members(LIST) == {first}
        h.fields = {"first_name": "first_name"}
        h.customer("c2", first_name="Ada")
        h.settle(["c2"])
        assert h.fake.requests["POST sign_up_form"] == 1 and len(h.fake.contacts) == 2
        assert {r.get("first_name") for r in h.fake.contacts.values()} == {None, "Ada"}
        assert {r["permission_to_send"] for r in h.fake.contacts.values()} == {"explicit"}

    def test_batches_are_cut_to_the_platform_limits(self, h: Harness) -> None:
        # The shared version upserts 501 customers one by one (a lookup each at 4 per second), which is most of
        # this file's run time; the cut itself is the engine's, so 501 known contacts go straight to it here.
        from segmentation.sync.engine import DeliveryEngine

        contacts = [
            Contact(f"c{i}", email=f"c{i}@example.com", platform_id=cc(h).contact(f"c{i}@example.com"))
            for i in range(501)
        ]
        engine = DeliveryEngine(h.adapter, h.limiter, h.clock, deadline=h.clock.time() + 300)
        assert set(engine.run("add", Target(SEGMENT, LIST), contacts)) == {c.customer_id for c in contacts}
        assert (
            h.fake.requests["POST add_memberships"] == 2 and len(h.at_destination()) == 501 and h.fake.over_limit == 0
        )

    def test_five_hundred_contacts_share_one_activity(self, h: Harness) -> None:
        h.limiter.current_bucket = "default"
        contacts = [
            Contact(f"c{i}", email=f"c{i}@example.com", platform_id=cc(h).contact(f"c{i}@example.com"))
            for i in range(500)
        ]
        h.adapter.add(Target(SEGMENT, LIST), contacts)
        assert h.fake.requests["POST add_memberships"] == 1 and len(h.at_destination()) == 500
        h.adapter.remove(Target(SEGMENT, LIST), contacts)
        assert h.fake.requests["POST remove_memberships"] == 1 and h.at_destination() == set()

    def test_throttled_and_quota_exceeded_wait_differently(self, h: Harness) -> None:
        target = Target(SEGMENT, LIST)
        h.fake.inject("throttle")
        with pytest.raises(Throttled) as per_second:
            h.adapter.upsert(target, [Contact("c1", email="c1@example.com")])
        assert per_second.value.retry_after == 1.0
        cc(h).quota_exhausted = True
        h.fake.inject("throttle")
        with pytest.raises(Throttled, match="daily quota") as daily:
            h.adapter.upsert(target, [Contact("c1", email="c1@example.com")])
        assert daily.value.retry_after is not None and daily.value.retry_after > 1.0

    def test_the_daily_quota_resets_at_midnight_utc(self) -> None:
        at = datetime(2026, 11, 22, 23, 59, 30, tzinfo=UTC).timestamp()
        assert quota_reset_wait(at) == 30.0

    def test_members_are_listed_across_pages(self, h: Harness) -> None:
        h.limiter.current_bucket = "default"  # calls made outside the engine are paced all the same
        contacts = [
            Contact(f"c{i}", email=f"c{i}@example.com", platform_id=cc(h).contact(f"c{i}@example.com"))
            for i in range(501)
        ]
        h.adapter.add(Target(SEGMENT, LIST), contacts[:500])
        h.adapter.add(Target(SEGMENT, LIST), contacts[500:])
        assert set(h.adapter.list_members(Target(SEGMENT, LIST))) == {c.platform_id for c in contacts}
        assert h.fake.requests["GET get_contacts"] == 2

    def test_rate_limit_is_never_exceeded(self, h: Harness) -> None:
        # 40 customers: a lookup and a sign-up form each, then one activity, over some 20 simulated seconds.
        cids = [f"c{i:03d}" for i in range(40)]
        for cid in cids:
            h.customer(cid)
        h.settle(cids)
        assert len(h.fake.member_emails(LIST)) == 40
        assert h.fake.over_limit == 0 and h.stats.throttled == 0 and h.fake.peak["default:4/1s"] == 4
