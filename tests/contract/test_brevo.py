"""Brevo adapter against its fake: the shared contract plus Brevo's own rules."""

from __future__ import annotations

from typing import Any, cast

import pytest

from local_runtime.fakes.brevo import FakeBrevo
from segmentation.sync.adapters.base import Contact, NotConfigured, Target, Throttled
from segmentation.sync.adapters.brevo import create
from segmentation.sync.http import JsonHttp
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness


def brevo(h: Harness) -> FakeBrevo:
    return cast(FakeBrevo, h.fake)


class TestBrevo(ChannelContract):
    channel = "brevo"

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "api_key": "xkeysib-revoked"}

    def test_upsert_never_unblocks_a_blocked_contact(self, h: Harness) -> None:
        brevo(h).contact("c1@example.com", emailBlacklisted=True)
        h.fields = {"FIRSTNAME": "first_name"}
        h.customer("c1", first_name="Ada")
        assert h.settle(["c1"]).added == ["c1"]
        record = h.fake.contacts["c1@example.com"]
        assert record["emailBlacklisted"] is True and record["attributes"] == {"FIRSTNAME": "Ada"}

    def test_reset_header_is_the_wait(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        h.fake.inject("throttle")
        with pytest.raises(Throttled) as caught:
            h.adapter.remove(Target(SEGMENT, LIST), [Contact("c1", platform_id="c1@example.com")])
        assert caught.value.retry_after == 1.0

    def test_removing_someone_not_in_the_list_is_done(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        h.fake.lists[h.fake.list_key(LIST)].clear()  # taken out by hand in Brevo
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"]

    def test_a_contact_deleted_in_brevo_is_upserted_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        del h.fake.contacts["c1@example.com"]
        h.fake.lists[h.fake.list_key(LIST)].clear()
        h.state.set_records(SEGMENT, "brevo", {"c1": None})
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}
        assert h.fake.requests["POST upsert"] == 2

    def test_list_is_found_by_name_or_created_in_the_folder_once(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        h.settle(["c2"])
        assert list(brevo(h).list_ids) == [LIST] and h.fake.requests["POST create_list"] == 1
        fresh = create({k: v for k, v in h.config.items() if k != "folder_id"}, JsonHttp(timeout=5))
        assert fresh.add(Target(SEGMENT, LIST), [Contact("c1", platform_id="c1@example.com")])["c1"].verdict == "ok"
        with pytest.raises(NotConfigured, match="no list named 'other'"):
            fresh.add(Target(SEGMENT, "other"), [Contact("c1", platform_id="c1@example.com")])
