"""Marketo adapter against its fake: the shared contract plus Marketo's own rules."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from local_runtime.fakes.marketo import LIST_ID, FakeMarketo
from segmentation.sync.adapters.base import Contact, NotConfigured, Target, Throttled
from segmentation.sync.adapters.marketo import create, until_quota_reset
from segmentation.sync.http import JsonHttp
from segmentation.sync.ratelimit import PacedHttp
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def marketo(h: Harness) -> FakeMarketo:
    return cast(FakeMarketo, h.fake)


class TestMarketo(ChannelContract):
    channel = "marketo"

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "client_secret": "revoked"}

    def test_an_expired_token_is_renewed_and_the_request_resent(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        h.clock.advance(3700)  # the hour-long token expired at Marketo (602 inside a 200)
        report = h.settle(["c2"])
        assert report.added == ["c2"] and marketo(h).tokens_issued == 2
        assert h.fake.member_emails(LIST) == {"c1@example.com", "c2@example.com"}

    def test_rate_limit_error_in_a_200_waits_out_the_window(self, h: Harness) -> None:
        h.customer("c1")
        h.fake.inject("throttle")
        started = h.clock.time()
        assert h.settle(["c1"]).added == ["c1"]
        assert h.stats.throttled == 1 and h.clock.time() - started >= 20.0

    def test_daily_quota_waits_until_the_reset(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        marketo(h).daily_quota_left = 0
        contact = Contact("c1", email="c1@example.com", platform_id=next(iter(h.fake.contacts)))
        with pytest.raises(Throttled, match="607") as caught:
            h.adapter.remove(Target(SEGMENT, LIST), [contact])
        assert caught.value.retry_after == pytest.approx(until_quota_reset(), abs=5)
        assert until_quota_reset(1_800_000_000.0 - 1_800_000_000.0 % 86_400 + 6 * 3600) == 86_400  # at the reset
        assert until_quota_reset(1_800_000_000.0 - 1_800_000_000.0 % 86_400 + 5 * 3600) == 3600

    def test_consent_fields_are_never_written(self, h: Harness) -> None:
        lead = marketo(h).lead("c1@example.com", unsubscribed=True)
        h.fields = {"firstName": "first_name"}
        h.customer("c1", first_name="Ada")
        assert h.settle(["c1"]).added == ["c1"]
        assert h.fake.contacts[lead] == {
            "id": lead,
            "email": "c1@example.com",
            "unsubscribed": True,
            "firstName": "Ada",
        }
        pattern = re.compile(h.spec.field_pattern)
        assert pattern.fullmatch("firstName") and not pattern.fullmatch("unsubscribed")
        assert not pattern.fullmatch("marketingSuspended") and not pattern.fullmatch("emailInvalid")

    def test_skipped_leads_with_a_permanent_reason_are_terminal(self, h: Harness) -> None:
        h.fields = {"favouriteScent": "custom.scent"}
        h.customer("c1", custom={"scent": "lavender"})
        report = h.settle(["c1"])
        assert report.terminal == {"c1": "1006 Field 'favouriteScent' not found"} and h.at_destination() == set()

    def test_a_deleted_lead_is_upserted_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        old = next(iter(h.fake.contacts))
        del h.fake.contacts[old]  # merged or deleted in Marketo: adding the cached id is skipped with 1004
        marketo(h).by_email.clear()
        h.fake.lists[LIST_ID].clear()
        h.state.set_records(SEGMENT, "marketo", {"c1": None})
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}

    def test_lists_come_from_the_secret_or_are_found_by_name(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        assert h.fake.requests["GET find_lists"] == 1
        with pytest.raises(NotConfigured, match="no static list named 'other'"):
            h.adapter.add(Target(SEGMENT, "other"), [Contact("c1", platform_id="1")])
        mapped = create({**h.config, "lists": {"renamed": int(LIST_ID)}}, PacedHttp(JsonHttp(timeout=5), h.limiter))
        lead = next(iter(h.fake.contacts))
        assert mapped.remove(Target(SEGMENT, "renamed"), [Contact("c1", platform_id=lead)])["c1"].verdict == "ok"
        assert h.at_destination() == set()
        assert h.fake.requests["GET find_lists"] == 2  # the "other" lookup; the mapped id needed none
