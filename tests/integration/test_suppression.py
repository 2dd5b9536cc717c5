"""The suppression list keeps fingerprints only, and lets a person back only with consent given since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from local_runtime import Router
from segmentation.privacy.suppression import SuppressionList

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _suppressions(stack: Router, salt: str = "pepper") -> SuppressionList:
    return SuppressionList(str(stack.env.physical_ids["SegmentationTable"]), salt)


def test_a_suppressed_address_is_refused_until_fresh_consent(stack: Router) -> None:
    suppressions = _suppressions(stack)
    assert suppressions.admits("ana@example.com")

    suppressions.add(" Ana@Example.com ", reason="erasure", source="api", at=T0)

    assert not suppressions.admits("ana@example.com")
    assert not suppressions.admits("ana@example.com", consent_at=T0 - timedelta(days=3))
    assert suppressions.admits("ana@example.com", consent_at=T0 + timedelta(seconds=1))
    assert suppressions.admits("bob@example.com")


def test_only_a_salted_fingerprint_is_stored(stack: Router) -> None:
    table = str(stack.env.physical_ids["SegmentationTable"])
    _suppressions(stack).add("ana@example.com", reason="erasure", source="api", at=T0)

    items = stack.env.client("dynamodb").scan(TableName=table)["Items"]
    assert len(items) == 1
    assert "ana" not in repr(items).lower()
    # Another salt gives another fingerprint: the stored value cannot be matched without the stack's salt.
    assert _suppressions(stack, "other").get("ana@example.com") is None


def test_a_redelivered_older_suppression_never_moves_the_date_back(stack: Router) -> None:
    suppressions = _suppressions(stack)
    suppressions.add("ana@example.com", reason="unsubscribed", source="import:a", at=T0)
    suppressions.add("ana@example.com", reason="erasure", source="api", at=T0 - timedelta(days=1))

    entry = suppressions.get("ana@example.com")
    assert entry is not None and entry.at == T0 and entry.reason == "unsubscribed"

    suppressions.lift("ana@example.com")
    assert suppressions.get("ana@example.com") is None


def test_the_stack_salt_comes_from_secrets_manager(stack: Router, monkeypatch) -> None:
    from segmentation import wiring

    monkeypatch.setenv("TABLE_NAME", str(stack.env.physical_ids["SegmentationTable"]))
    monkeypatch.setenv("SUPPRESSION_SALT_ARN", str(stack.env.physical_ids["SuppressionSalt"]))
    wiring.reset()
    suppressions = wiring.suppression_list()
    suppressions.add("ana@example.com", reason="erasure", source="api", at=T0)
    assert _suppressions(stack).fingerprint("x") != suppressions.fingerprint("x")
    assert not wiring.suppression_list().admits("ana@example.com")
