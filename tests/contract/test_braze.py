"""Braze adapter against its fake: the shared contract plus Braze's own rules."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from segmentation.sync.adapters.base import Contact, Target, Throttled
from segmentation.sync.adapters.braze import create, reset_wait
from segmentation.sync.http import JsonHttp
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness
from tests.contract.test_bigquery import ByCustomerId
from tests.contract.test_shopify import DeterministicPartial


class TestBraze(ByCustomerId, DeterministicPartial, ChannelContract):
    channel = "braze"
    partial_requests = 1  # no upsert: one users/track request for the nine

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "api_key": "revoked"}

    def test_array_attribute_keeps_the_users_other_values(self, h: Harness) -> None:
        h.fake.contacts["c1"] = {"external_id": "c1", "segments": ["loyal"], "email_subscribe": "unsubscribed"}
        h.fields = {"email": "email"}
        h.customer("c1")
        h.settle(["c1"])
        user = h.fake.contacts["c1"]
        assert user == {
            "external_id": "c1",
            "segments": ["loyal", LIST],
            "email_subscribe": "unsubscribed",
            "email": "c1@example.com",
        }
        h.state.set_member(SEGMENT, "c1", False)
        assert h.settle(["c1"]).removed == ["c1"] and user["segments"] == ["loyal"]

    def test_boolean_representation_sets_one_attribute_per_list(self, h: Harness) -> None:
        adapter = create({**h.config, "representation": "boolean"}, JsonHttp(timeout=5))
        contact = Contact("c1", platform_id="c1")
        assert adapter.add(Target(SEGMENT, LIST), [contact])["c1"].verdict == "ok"
        assert h.fake.contacts["c1"][LIST] is True and h.at_destination() == {"c1"}
        adapter.remove(Target(SEGMENT, LIST), [contact])
        assert h.fake.contacts["c1"][LIST] is False and h.at_destination() == set()

    def test_consent_attributes_cannot_be_mapped(self, h: Harness) -> None:
        pattern = re.compile(h.spec.field_pattern)
        assert pattern.fullmatch("first_name") and pattern.fullmatch("email")
        for reserved in ("email_subscribe", "push_subscribe", "subscription_groups", "external_id"):
            assert not pattern.fullmatch(reserved)

    def test_rate_limit_reset_epoch_is_waited_out(self, h: Harness) -> None:
        h.fake.inject("throttle")
        with pytest.raises(Throttled) as caught:
            h.adapter.add(Target(SEGMENT, LIST), [Contact("c1", platform_id="c1")])
        assert caught.value.retry_after is not None and 1.0 <= caught.value.retry_after <= 2.0
        assert reset_wait({"x-ratelimit-reset": str(int(time.time()) + 30)}) == pytest.approx(30, abs=1.1)
        assert reset_wait({}) is None

    def test_per_object_validation_errors_are_terminal_others_go_through(self, h: Harness) -> None:
        h.fields = {"first_name": "first_name"}
        h.customer("ok")
        h.customer("long", first_name="x" * 300)
        report = h.settle(["ok", "long"])
        assert report.added == ["ok"] and report.terminal == {"long": "Value of 'first_name' exceeds 255 characters"}
        assert h.at_destination() == {"ok"}

    def test_update_existing_only_creates_no_user(self, h: Harness) -> None:
        adapter = create({**h.config, "update_existing_only": True}, JsonHttp(timeout=5))
        adapter.add(Target(SEGMENT, LIST), [Contact("stranger", platform_id="stranger")])
        assert "stranger" not in h.fake.contacts
