"""BigQuery adapter against its fake: the shared contract plus the warehouse's own rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import unquote

import pytest

from local_runtime.fakes.bigquery import FakeBigQuery
from segmentation.sync.adapters.base import Contact, Target, Throttled
from tests.contract.harness import LIST, SEGMENT, UNSUBSCRIBED, ChannelContract, Harness


class ByCustomerId:
    """For platforms that know people by our customer id and never see an address: the shared consent and
    ownership checks, asserted on customer ids instead of on addresses (the same properties)."""

    def test_contact_without_consent_is_never_added(self, h: Harness) -> None:
        h.customer("yes")
        h.customer("no", consent=UNSUBSCRIBED)
        h.customer("never", consent={})
        report = h.settle(["yes", "no", "never"])
        assert report.added == ["yes"] and set(report.skipped) == {"no", "never"}
        assert h.at_destination() == {"yes"}

    def test_only_what_we_added_is_removed(self, h: Harness) -> None:
        from segmentation.sync.delivery import deliver
        from segmentation.sync.engine import DeliveryEngine
        from segmentation.sync.tasks import SyncTask

        h.customer("mine")
        h.customer("theirs", member=False)
        foreign = SyncTask(
            segment_id="other", channel=h.channel, list_name=LIST, customer_ids=["theirs"], created_at=datetime.now(UTC)
        )
        h.state.set_member("other", "theirs", True)
        engine = DeliveryEngine(h.adapter, h.limiter, h.clock, deadline=h.clock.time() + 300)
        assert deliver(foreign, h.state, h.adapter, engine).added == ["theirs"]
        h.settle(["mine", "theirs"])
        h.state.set_member(SEGMENT, "mine", False)
        h.settle(["mine", "theirs"])
        assert h.at_destination() == {"theirs"}


def bq(h: Harness) -> FakeBigQuery:
    return cast(FakeBigQuery, h.fake)


class TestBigQuery(ByCustomerId, ChannelContract):
    channel = "bigquery"

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "audience": config["audience"].replace("/providers/lambda", "/providers/revoked")}

    def test_changes_are_appended_never_updated(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        h.state.set_member(SEGMENT, "c1", True)
        h.settle(["c1"])
        rows = bq(h).rows
        assert [r["op"] for r in rows] == ["add", "remove", "add"] and h.at_destination() == {"c1"}
        assert {r["segment_id"] for r in rows} == {LIST} and len({r["sync_id"] for r in rows}) == 3
        assert rows[0]["event_ts"] < rows[1]["event_ts"] < rows[2]["event_ts"]

    def test_a_resend_repeats_the_insert_id_so_it_is_not_stored_twice(self, h: Harness) -> None:
        for cid in ("c0", "c1", "c2"):
            h.customer(cid)
        h.settle(["c0"])
        h.fake.inject("timeout_applied")  # the rows were written, the answer was lost
        report = h.settle(["c1", "c2"])
        assert sorted(report.added) == ["c1", "c2"] and len(bq(h).rows) == 3
        assert h.fake.requests["POST insert_all"] == 3

    def test_invalid_rows_are_terminal_and_the_rows_they_stopped_are_resent(self, h: Harness) -> None:
        h.fields = {"country": "country", "region": "region"}  # the table has no region column
        h.customer("c1", country="DE")
        h.customer("c2", country="FR", region="IDF")
        report = h.settle(["c1", "c2"])
        assert report.added == ["c1"] and report.terminal == {"c2": "invalid: no such field: region."}
        # c1 was stopped by c2's invalid row in the first request, then resent alone.
        assert [(r["customer_id"], r["country"], r["op"]) for r in bq(h).rows] == [("c1", "DE", "add")]
        assert h.fake.requests["POST insert_all"] == 2

    def test_rate_limit_403_is_a_throttle_not_a_credentials_error(self, h: Harness) -> None:
        h.adapter._access_token()  # type: ignore[attr-defined]
        h.fake.inject("throttle")
        with pytest.raises(Throttled, match="rateLimitExceeded"):
            h.adapter.add(Target(SEGMENT, LIST), [Contact("c1", platform_id="c1")])
        h.customer("c1")
        h.fake.inject("throttle", 2)
        assert h.settle(["c1"]).added == ["c1"] and h.stats.throttled == 2

    def test_federated_token_is_exchanged_for_a_service_account_token_and_renewed(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        assert bq(h).tokens_issued == 1 and h.fake.requests["POST sts_token"] == 1
        h.clock.advance(3700)  # the one-hour token expired at Google
        assert h.settle(["c2"]).added == ["c2"] and bq(h).tokens_issued == 2

    def test_subject_token_is_a_signed_caller_identity_request_for_the_provider(self, h: Harness) -> None:
        token = h.adapter._subject_token()  # type: ignore[attr-defined]
        signed = json.loads(unquote(token))
        headers = {item["key"].lower(): item["value"] for item in signed["headers"]}
        assert signed["method"] == "POST" and "Action=GetCallerIdentity" in signed["url"]
        assert headers["x-goog-cloud-target-resource"] == h.config["audience"]
        assert "x-goog-cloud-target-resource" in headers["authorization"].split("SignedHeaders=")[1]
        assert headers["host"].startswith("sts.") and headers["host"] in signed["url"]
