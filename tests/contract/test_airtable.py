"""Airtable adapter against its fake: the shared contract plus the membership table's own rules."""

from __future__ import annotations

from typing import Any, cast

from local_runtime.fakes.airtable import FakeAirtable
from segmentation.sync.adapters.base import Contact, Target
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness
from tests.contract.test_bigquery import ByCustomerId


def at(h: Harness) -> FakeAirtable:
    return cast(FakeAirtable, h.fake)


class TestAirtable(ByCustomerId, ChannelContract):
    channel = "airtable"
    supports_partial = False  # an upsert request is applied or refused as a whole

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "token": "patREVOKED"}

    def test_removal_keeps_the_row_with_is_member_false(self, h: Harness) -> None:
        h.fields = {"first_name": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        (rec,) = h.fake.contacts
        row = at(h).row(rec)
        assert row["key"] == f"c1:{LIST}" and row["is_member"] is False and row["first_name"] == "Ada"
        h.state.set_member(SEGMENT, "c1", True)
        h.settle(["c1"])
        assert len(h.fake.contacts) == 1 and h.at_destination() == {"c1"}

    def test_ten_records_per_request(self, h: Harness) -> None:
        cids = [f"c{i:02d}" for i in range(25)]
        for cid in cids:
            h.customer(cid)
        h.settle(cids)
        assert h.fake.requests["PATCH upsert"] == 3 and h.at_destination() == set(cids)

    def test_a_bad_record_is_isolated_by_splitting(self, h: Harness) -> None:
        h.fields = {"region": "region"}  # the table has no region column
        h.customer("c1")
        h.customer("c2", region="IDF")
        report = h.settle(["c1", "c2"])
        assert report.added == ["c1"] and "Unknown field name" in report.terminal["c2"]

    def test_a_throttle_waits_thirty_seconds(self, h: Harness) -> None:
        h.customer("c1")
        h.fake.inject("throttle")
        start = h.clock.time()
        assert h.settle(["c1"]).added == ["c1"] and h.stats.throttled == 1
        assert h.clock.time() - start >= 30.0

    def test_list_names_with_quotes_are_escaped_in_the_formula(self, h: Harness) -> None:
        target = Target(SEGMENT, "it's vip")
        h.limiter.current_bucket = "default"
        h.adapter.add(target, [Contact("c1", platform_id="c1"), Contact("c2", platform_id="c2")])
        h.adapter.add(Target(SEGMENT, "its vip"), [Contact("c3", platform_id="c3")])
        assert sorted(h.adapter.list_members(target)) == ["c1", "c2"]
