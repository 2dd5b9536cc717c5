"""Salesforce Marketing Cloud adapter against its fake: the shared contract plus SFMC's own rules."""

from __future__ import annotations

from typing import Any, cast

import pytest

from local_runtime.fakes.sfmc import FakeSfmc
from segmentation.sync.adapters.base import Contact, Target, Throttled
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness
from tests.contract.test_bigquery import ByCustomerId


def sfmc(h: Harness) -> FakeSfmc:
    return cast(FakeSfmc, h.fake)


class TestSfmc(ByCustomerId, ChannelContract):
    channel = "sfmc"
    supports_partial = False  # a rowset is written or refused as a whole

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "client_secret": "revoked"}

    def test_removal_clears_the_flag_and_keeps_the_row(self, h: Harness) -> None:
        h.fields = {"EmailAddress": "email", "FirstName": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        row = sfmc(h).rows[("c1", LIST)]
        assert row["IsMember"] == "true" and row["EmailAddress"] == "c1@example.com" and row["FirstName"] == "Ada"
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"]
        assert sfmc(h).rows[("c1", LIST)]["IsMember"] == "false" and h.at_destination() == set()

    def test_the_token_names_the_rest_host_and_is_renewed(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        h.clock.advance(1200)  # the 20-minute token expired at Salesforce
        assert h.settle(["c2"]).added == ["c2"] and sfmc(h).tokens_issued == 2

    def test_blocked_requests_wait_a_minute(self, h: Harness) -> None:
        sfmc(h).blocked = True
        with pytest.raises(Throttled, match="temporarily blocked") as caught:
            h.adapter.add(Target(SEGMENT, LIST), [Contact("c1", platform_id="c1")])
        assert caught.value.retry_after == 60.0

    def test_retry_after_is_honoured(self, h: Harness) -> None:
        h.adapter.add(Target(SEGMENT, LIST), [Contact("c0", platform_id="c0")])  # token fetched
        h.fake.inject("throttle")
        with pytest.raises(Throttled) as caught:
            h.adapter.add(Target(SEGMENT, LIST), [Contact("c1", platform_id="c1")])
        assert caught.value.retry_after == 1.0  # the Retry-After header, not the 50200 pause

    def test_an_unknown_column_is_terminal(self, h: Harness) -> None:
        h.fields = {"Scent": "custom.scent"}
        h.customer("c1", custom={"scent": "oud"})
        report = h.settle(["c1"])
        assert list(report.terminal) == ["c1"] and "Invalid column name" in report.terminal["c1"]
        assert ("c1", LIST) not in sfmc(h).rows
