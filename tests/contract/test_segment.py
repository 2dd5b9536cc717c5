"""Segment adapter against its fake: the shared contract plus Segment's own rules."""

from __future__ import annotations

import re
from typing import Any, cast

from local_runtime.fakes.segment import FakeSegment
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness
from tests.contract.test_bigquery import ByCustomerId


def seg(h: Harness) -> FakeSegment:
    return cast(FakeSegment, h.fake)


class TestSegment(ByCustomerId, ChannelContract):
    channel = "segment"
    supports_partial = False  # a batch is accepted or refused as a whole

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "write_key": "revoked"}

    def test_membership_is_a_boolean_trait_and_fields_go_with_adds_only(self, h: Harness) -> None:
        h.fake.contacts["c1"] = {"userId": "c1", "traits": {"plan": "gold", "unsubscribed": True}}
        h.fields = {"first_name": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        assert h.fake.contacts["c1"]["traits"] == {
            "plan": "gold",
            "unsubscribed": True,
            "first_name": "Ada",
            LIST: True,
        }
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        assert h.fake.contacts["c1"]["traits"][LIST] is False and seg(h).calls[-1]["traits"] == {LIST: False}

    def test_a_resend_keeps_the_message_id_and_a_new_change_gets_a_new_one(self, h: Harness) -> None:
        h.customer("c1")
        h.fake.inject("timeout_applied")  # received, answer lost: the resend must be recognised as the same call
        h.settle(["c1"])
        assert seg(h).duplicates == 1 and len(seg(h).calls) == 1
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", True)
        h.settle(["c1"])  # re-added after the removal: must not be dropped as a duplicate of the first add
        assert [c["traits"][LIST] for c in seg(h).calls] == [True, False, True] and h.at_destination() == {"c1"}
        assert len({c["messageId"] for c in seg(h).calls}) == 3

    def test_oversized_events_are_terminal_and_oversized_batches_are_split(self, h: Harness) -> None:
        h.fields = {"notes": "custom.notes"}
        cids = [f"c{i:03d}" for i in range(100)]
        for cid in cids:
            h.customer(cid, custom={"notes": "x" * 6_000})  # 100 x 6 KB: over 500 KB in one batch
        h.customer("huge", custom={"notes": "x" * 40_000})
        report = h.settle(cids)
        report_huge = h.settle(["huge"])
        assert len(report.added) == 100 and h.fake.requests["POST batch"] == 2  # refused whole, sent as two halves
        assert report_huge.terminal == {"huge": "identify call larger than Segment's 32 KB per event"}
        assert "huge" not in h.fake.contacts

    def test_consent_traits_cannot_be_mapped(self, h: Harness) -> None:
        pattern = re.compile(h.spec.field_pattern)
        assert pattern.fullmatch("first_name") and pattern.fullmatch("email")
        for name in ("unsubscribed", "email_subscribed", "consent_marketing", "optIn", "opt_out"):
            assert not pattern.fullmatch(name), name
