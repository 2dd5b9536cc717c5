"""Reusable constrained types, so constraints live in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


class Model(BaseModel):
    """Base of every model here: schemas are built on first use, not at import, because import time is
    cold-start time and most invocations touch only a few of the models."""

    model_config = ConfigDict(defer_build=True)


def _valid_email(value: str) -> str:
    # Deferred import: email_validator compiles its grammar at import, ~60 ms of every cold start.
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None


CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]
SegmentId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True, to_lower=True)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_valid_email)]


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    # A naive timestamp is ambiguous across time zones; the service stores instants in UTC.
    if value.tzinfo is None:
        raise ValueError("timestamp must include a time zone offset, e.g. 2026-11-01T10:00:00Z")
    # Outside this range a timestamp is a data error, and would break time-zone arithmetic and key ordering.
    if not EARLIEST <= value <= LATEST:
        raise ValueError("timestamp must be between 1900-01-01 and 2200-01-01")
    return value.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_aware)]


def iso(value: datetime) -> str:
    """Canonical, sortable UTC timestamp used in keys and items."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
