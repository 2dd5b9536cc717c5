"""Zoho CRM adapter against its fake: the shared contract plus Zoho's own rules."""

from __future__ import annotations

import re
from typing import Any, cast

from local_runtime.fakes.zoho import FakeZoho
from segmentation.sync.adapters.base import Contact, Target
from segmentation.sync.adapters.zoho import create
from segmentation.sync.http import JsonHttp
from tests.contract.harness import LIST, SEGMENT, ChannelContract, Harness
from tests.contract.test_shopify import DeterministicPartial


def zoho(h: Harness) -> FakeZoho:
    return cast(FakeZoho, h.fake)


class TestZoho(DeterministicPartial, ChannelContract):
    channel = "zoho"

    def bad_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "refresh_token": "1000.revoked"}

    def warm_up(self, h: Harness) -> None:
        h.adapter._access_token()  # type: ignore[attr-defined]
        h.adapter._ensure_tag(LIST)  # type: ignore[attr-defined]

    def test_tagging_keeps_other_tags_and_opt_out(self, h: Harness) -> None:
        rid = zoho(h).record("c1@example.com", Last_Name="Lovelace", Tag=["Wholesale"], Email_Opt_Out=True)
        h.fields = {"First_Name": "first_name"}
        h.customer("c1", first_name="Ada")
        h.settle(["c1"])
        record = h.fake.contacts[rid]
        assert record["Tag"] == ["Wholesale", LIST] and record["Email_Opt_Out"] is True
        assert record["Last_Name"] == "Lovelace" and record["First_Name"] == "Ada"  # no placeholder on an existing one
        h.state.set_member(SEGMENT, "c1", False)
        h.settle(["c1"])
        assert record["Tag"] == ["Wholesale"]

    def test_new_contacts_get_the_placeholder_last_name_only_when_configured(self, h: Harness) -> None:
        h.customer("c1")
        assert h.settle(["c1"]).added == ["c1"]
        assert next(iter(h.fake.contacts.values()))["Last_Name"] == "(unknown)"
        strict = create({k: v for k, v in h.config.items() if k != "placeholder_last_name"}, JsonHttp(timeout=5))
        outcome = strict.upsert(Target(SEGMENT, LIST), [Contact("c2", email="c2@example.com")])["c2"]
        assert outcome.verdict == "terminal" and outcome.reason == "MANDATORY_NOT_FOUND Last_Name"

    def test_the_token_is_renewed_and_names_the_data_centre(self, h: Harness) -> None:
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        h.clock.advance(3700)
        assert h.settle(["c2"]).added == ["c2"] and zoho(h).tokens_issued == 2

    def test_a_record_deleted_in_zoho_is_upserted_again(self, h: Harness) -> None:
        h.customer("c1")
        h.settle(["c1"])
        old = next(iter(h.fake.contacts))
        del h.fake.contacts[old]
        zoho(h).by_email.clear()
        h.state.set_records(SEGMENT, "zoho", {"c1": None})
        assert h.settle(["c1"]).added == ["c1"] and h.fake.member_emails(LIST) == {"c1@example.com"}

    def test_the_tag_is_created_once(self, h: Harness) -> None:
        zoho(h).tags.add(LIST)  # made by hand in Zoho already: DUPLICATE_DATA is fine
        h.customer("c1")
        h.customer("c2")
        h.settle(["c1"])
        h.settle(["c2"])
        assert h.fake.requests["POST create_tags"] == 1 and h.fake.member_emails(LIST) == {
            "c1@example.com",
            "c2@example.com",
        }

    def test_consent_fields_cannot_be_mapped(self, h: Harness) -> None:
        pattern = re.compile(h.spec.field_pattern)
        assert pattern.fullmatch("First_Name") and pattern.fullmatch("Mailing_Country")
        for name in ("Email_Opt_Out", "Data_Processing_Basis", "Email", "Tag"):
            assert not pattern.fullmatch(name), name
