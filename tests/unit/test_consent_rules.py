"""Consent: only a consent source upgrades; any source downgrades; an older change never wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from segmentation.domain.models import (
    CONSENT_RANK,
    ConsentChannel,
    ConsentState,
    ConsentStatus,
    CustomerProfile,
    CustomerUpsert,
    apply_consent,
    consent_change_allowed,
)
from segmentation.segments.realtime import ConsentFact, ProfileFact, _consent_change
from segmentation.segments.realtime import apply_consent as engine_apply

T0 = datetime(2026, 11, 1, tzinfo=UTC)
EMAIL = ConsentChannel.EMAIL


def state(status: ConsentStatus, at: datetime = T0, source: str = "api") -> ConsentState:
    return ConsentState(status=status, source=source, updated_at=at)


def test_consent_non_consent_source_cannot_subscribe_a_never_asked_channel() -> None:
    assert not consent_change_allowed(None, ConsentStatus.SUBSCRIBED, T0, consent_source=False)
    assert consent_change_allowed(None, ConsentStatus.SUBSCRIBED, T0, consent_source=True)


def test_consent_any_source_can_unsubscribe() -> None:
    current = state(ConsentStatus.SUBSCRIBED)
    assert consent_change_allowed(current, ConsentStatus.UNSUBSCRIBED, T0 + timedelta(1), consent_source=False)


def test_consent_non_consent_source_cannot_lift_an_opt_out_to_never_asked() -> None:
    current = state(ConsentStatus.UNSUBSCRIBED)
    later = T0 + timedelta(days=1)
    assert not consent_change_allowed(current, ConsentStatus.NEVER_ASKED, later, consent_source=False)
    assert consent_change_allowed(current, ConsentStatus.SUBSCRIBED, later, consent_source=True)


def test_consent_older_change_never_overwrites_newer_even_from_a_consent_source() -> None:
    current = state(ConsentStatus.UNSUBSCRIBED, T0)
    assert not consent_change_allowed(current, ConsentStatus.SUBSCRIBED, T0 - timedelta(1), consent_source=True)
    assert not consent_change_allowed(current, ConsentStatus.UNSUBSCRIBED, T0 - timedelta(1), consent_source=False)


statuses = st.sampled_from(list(ConsentStatus))
offsets = st.integers(min_value=-5, max_value=5)


@given(st.lists(st.tuples(statuses, offsets, st.booleans()), min_size=1, max_size=8), statuses)
def test_consent_invariant_non_consent_sources_never_raise_the_status(
    changes: list[tuple[ConsentStatus, int, bool]], start: ConsentStatus
) -> None:
    # Given any sequence of changes, each from a consent source or not, applied in any order
    consent = {EMAIL: state(start)}
    for status, offset, is_consent_source in changes:
        before = consent[EMAIL]
        consent = apply_consent(
            consent, {EMAIL: status}, "x", T0 + timedelta(hours=offset), consent_source=is_consent_source
        )
        after = consent[EMAIL]
        # Then a change not from a consent source never raised the status, and no change moved time back
        if not is_consent_source:
            assert CONSENT_RANK[after.status] <= CONSENT_RANK[before.status]
        assert after.updated_at >= before.updated_at


def test_consent_fact_from_an_import_that_is_not_a_consent_source_only_downgrades() -> None:
    profile = CustomerProfile(customer_id="c1", consent={EMAIL: state(ConsentStatus.NEVER_ASKED)})
    upgrade = ConsentFact({EMAIL: ConsentStatus.SUBSCRIBED}, "import:j1", T0 + timedelta(1), consent_source=False)
    assert _consent_change(upgrade)(profile).consent[EMAIL].status == ConsentStatus.NEVER_ASKED
    downgrade = ConsentFact({EMAIL: ConsentStatus.UNSUBSCRIBED}, "import:j1", T0 + timedelta(1), consent_source=False)
    assert _consent_change(downgrade)(profile).consent[EMAIL].status == ConsentStatus.UNSUBSCRIBED


def test_consent_api_is_a_consent_source_by_default() -> None:
    profile = CustomerProfile(customer_id="c1")
    updated = engine_apply(profile, {EMAIL: ConsentStatus.SUBSCRIBED}, "api", T0)
    assert updated.consent[EMAIL].status == ConsentStatus.SUBSCRIBED


def test_profile_apply_records_provenance_and_keeps_newer_fields() -> None:
    profile = CustomerProfile(customer_id="c1").apply(CustomerUpsert(first_name="Ana"), T0, "api")
    older = CustomerUpsert(first_name="Anna", city="Leeds")
    merged = profile.apply(older, T0 - timedelta(days=1), "import:j1")
    assert merged.first_name == "Ana" and merged.field_sources["first_name"] == "api"
    assert merged.city == "Leeds" and merged.field_sources["city"] == "import:j1"
    assert isinstance(ProfileFact(older, "import:j1").consent_source, bool)
