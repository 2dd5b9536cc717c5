"""Domain and API models for the facts the shop sends us.

Storage item shapes live in ``segmentation.store.items``; these models are what callers see.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from segmentation.domain.types import CountryCode, CustomerId, Email, Instant, Model, Slug


class Strict(Model):
    """Unknown fields are rejected: a typo in a payload must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ConsentChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    ADS = "ads"


class ConsentStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    NEVER_ASKED = "never_asked"
    PENDING = "pending"


class ConsentState(Strict):
    status: ConsentStatus
    source: str = Field(default="api", max_length=64)
    updated_at: Instant


# How much sending a status permits. Moving up the scale is an upgrade, which only a consent source may make;
# moving down (an opt-out, a bounce) is a downgrade, which any source may report. "never_asked" sits above
# "unsubscribed": turning an opt-out back into "we don't know" would quietly lift it.
CONSENT_RANK: dict[ConsentStatus, int] = {
    ConsentStatus.UNSUBSCRIBED: 0,
    ConsentStatus.NEVER_ASKED: 1,
    ConsentStatus.PENDING: 2,
    ConsentStatus.SUBSCRIBED: 3,
}


def consent_change_allowed(
    current: ConsentState | None, status: ConsentStatus, at: datetime, *, consent_source: bool
) -> bool:
    """Whether a change to ``status`` made at ``at`` may replace ``current`` on one channel.

    Two rules, in this order: an older change never overwrites a newer one (deliveries can be late or
    reordered); and only a consent source (the person themselves through the shop or the API, or an import
    declared to be a consent record) can upgrade a status. Any source can downgrade one.
    """
    if current is not None and current.updated_at > at:
        return False
    before = current.status if current is not None else ConsentStatus.NEVER_ASKED
    return consent_source or CONSENT_RANK[status] <= CONSENT_RANK[before]


def apply_consent(
    consent: dict[ConsentChannel, ConsentState],
    channels: dict[ConsentChannel, ConsentStatus],
    source: str,
    at: datetime,
    *,
    consent_source: bool,
) -> dict[ConsentChannel, ConsentState]:
    """The consent map after a change per channel; channels the rules refuse keep their state."""
    out = dict(consent)
    for channel, status in channels.items():
        if consent_change_allowed(out.get(channel), status, at, consent_source=consent_source):
            out[channel] = ConsentState(status=status, source=source[:64], updated_at=at)
    return out


class ConsentUpdate(Strict):
    """``PUT /customers/{id}/consent``: one or more channels, each with its new status."""

    channels: dict[ConsentChannel, ConsentStatus] = Field(min_length=1)
    source: str = Field(default="api", max_length=64)
    occurred_at: Instant | None = None


CustomValue = str | int | float | bool


class CustomerUpsert(Strict):
    """Registration or profile update. Omitted fields keep their stored value; ``null`` clears one."""

    email: Email | None = None
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    birth_date: date | None = None
    gender: Literal["female", "male", "non_binary", "unspecified"] | None = None
    country: CountryCode | None = None
    region: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    preferred_scents: list[Slug] | None = Field(default=None, max_length=50)
    preferred_categories: list[Slug] | None = Field(default=None, max_length=50)
    tags: list[Slug] | None = Field(default=None, max_length=100)
    custom: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")], CustomValue | None] | None = None
    registered_at: Instant | None = None
    consent: dict[ConsentChannel, ConsentStatus] | None = Field(
        default=None, description="Consent given at registration or in the profile form, per channel."
    )
    occurred_at: Instant | None = Field(default=None, description="When the change happened at the source.")

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("birth_date must be between 1900-01-01 and today")
        return value


class RfmMove(Model):
    """The customer's RFM group changed (observed when their features were last derived)."""

    at: datetime
    from_group: str | None = Field(default=None, description="Previous group; null the first time.")
    to_group: str
    model_version: str | None = None


class CustomerProfile(Model):
    """The stored profile: what the customer or the shop told us, not what we derived."""

    customer_id: CustomerId
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    postal_code: str | None = None
    preferred_scents: list[str] = Field(default_factory=list)
    preferred_categories: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    custom: dict[str, CustomValue] = Field(default_factory=dict)
    consent: dict[ConsentChannel, ConsentState] = Field(default_factory=dict)
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    field_times: dict[str, datetime] = Field(default_factory=dict, description="When each field was last set.")
    field_sources: dict[str, str] = Field(
        default_factory=dict, description="Who last set each field: 'api', 'shop', 'import:<job id>', ..."
    )
    rfm_history: list[RfmMove] = Field(
        default_factory=list, description="RFM group changes, oldest first (the most recent ones are kept)."
    )

    def apply(self, change: CustomerUpsert, at: datetime, source: str | None = None) -> CustomerProfile:
        """The profile after ``change`` made at ``at`` by ``source``; fields it did not mention are kept.

        Each field remembers when it was last set and by whom, and a change older than that loses for that
        field: a late or redelivered update, or an old spreadsheet, never overwrites newer data.
        """
        data = self.model_dump()
        times = dict(self.field_times)
        sources = dict(self.field_sources)

        def newer(field: str) -> bool:
            if field in times and times[field] > at:
                return False
            times[field] = at
            if source is not None:
                sources[field] = source
            else:
                sources.pop(field, None)
            return True

        for name in change.model_fields_set - {"occurred_at", "custom", "consent"}:
            if newer(name):
                data[name] = getattr(change, name)
        if "custom" in change.model_fields_set and change.custom is not None:
            custom = dict(self.custom)
            for key, value in change.custom.items():
                if not newer(f"custom.{key}"):
                    continue
                if value is None:
                    custom.pop(key, None)
                else:
                    custom[key] = value
            data["custom"] = custom
        data["field_times"] = times
        data["field_sources"] = sources
        for list_field in ("preferred_scents", "preferred_categories", "tags"):
            if data[list_field] is None:
                data[list_field] = []
            data[list_field] = sorted(set(data[list_field]))
        return CustomerProfile.model_validate(data)


class OrderLine(Strict):
    sku: str = Field(min_length=1, max_length=64)
    category: Slug
    scent: Slug | None = None
    quantity: int = Field(ge=1, le=10_000)
    unit_price: float = Field(ge=0, le=1_000_000)


class OrderInput(Strict):
    """A completed purchase. ``total`` is what the customer paid, in the shop currency."""

    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:#-]+$")
    placed_at: Instant
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    total: float = Field(ge=0, le=10_000_000)
    lines: list[OrderLine] = Field(min_length=1, max_length=500)


class OrderCompleted(OrderInput):
    customer_id: CustomerId


class RefundInput(Strict):
    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:#-]+$")
    refunded_at: Instant
    amount: float = Field(gt=0, le=10_000_000, description="Amount of this refund.")


class OrderRefunded(RefundInput):
    customer_id: CustomerId


class EngagementKind(StrEnum):
    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"
    SITE_VISITED = "site_visited"


class EngagementInput(Strict):
    event_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:#-]+$")
    kind: EngagementKind
    occurred_at: Instant
    campaign: str | None = Field(default=None, max_length=128)
    url: str | None = Field(default=None, max_length=2048)


class EngagementRecorded(EngagementInput):
    customer_id: CustomerId


class TagChange(Strict):
    add: list[Slug] = Field(default_factory=list, max_length=100)
    remove: list[Slug] = Field(default_factory=list, max_length=100)
    occurred_at: Instant | None = None


class CustomerTagged(TagChange):
    customer_id: CustomerId


class StoredOrder(Model):
    """An order as kept in the customer's history (refunds folded in)."""

    order_id: str
    placed_at: datetime
    currency: str = "EUR"
    total: float
    refunded: float = 0.0
    refunded_at: datetime | None = None
    lines: list[OrderLine]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def net_total(self) -> float:
        return max(self.total - self.refunded, 0.0)

    @property
    def fully_refunded(self) -> bool:
        return self.total > 0 and self.refunded >= self.total


class StoredEngagement(Model):
    event_id: str
    kind: EngagementKind
    occurred_at: datetime
    campaign: str | None = None
    url: str | None = None
