"""Segment definitions as callers and storage see them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from segmentation.domain.models import ConsentChannel
from segmentation.domain.types import Model, SegmentId


class SegmentStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class RefreshCadence(StrEnum):
    """How often a full refresh re-evaluates a segment over every customer, besides real time and exact-time
    exits. Every segment is also refreshed weekly (the safety net), and time-relative ones daily."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"


class Destination(Model):
    """Where a segment is synced. Consent for ``purpose`` is checked at delivery time."""

    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=r"^[a-z0-9_]{2,32}$", examples=["webhook"])
    list_name: str | None = Field(
        default=None, max_length=200, description="List, tag or audience name at the channel."
    )
    purpose: ConsentChannel | None = Field(
        default=ConsentChannel.EMAIL,
        description="Consent needed to be sent to this destination; null for internal destinations.",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        max_length=50,
        description="Field mapping: platform field name -> profile attribute (e.g. FNAME -> first_name).",
        examples=[{"FNAME": "first_name"}],
    )


class SegmentInput(Model):
    """Body of ``POST /segments`` and ``PUT /segments/{id}``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    segment_id: SegmentId | None = Field(default=None, description="Defaults to a slug of the name.")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=1000)
    rule: dict[str, Any]
    destinations: list[Destination] = Field(default_factory=list, max_length=20)
    refresh: RefreshCadence = Field(
        default=RefreshCadence.WEEKLY, description="Full-refresh cadence; memberships also change in real time."
    )
    expected_version: int | None = Field(default=None, ge=1, description="Optimistic lock for updates.")


class SegmentDefinition(Model):
    segment_id: SegmentId
    name: str
    description: str = ""
    rule: dict[str, Any]
    version: int = 1
    status: SegmentStatus = SegmentStatus.ACTIVE
    destinations: list[Destination] = Field(default_factory=list)
    refresh: RefreshCadence = RefreshCadence.WEEKLY
    template: str | None = None
    created_at: datetime
    updated_at: datetime
    member_count: int | None = Field(default=None, description="Members when the definition was last computed.")


class MembershipTransition(Model):
    entered: bool
    at: datetime
    segment_version: int
    run: str | None = Field(default=None, description="Refresh run that made the change; none in real time.")


class MembershipRecord(Model):
    """One customer's standing in one segment."""

    segment_id: str
    customer_id: str
    member: bool
    entered_at: datetime | None = None
    exited_at: datetime | None = None
    segment_version: int = 1
    version: int = 0
    profile_version: int = Field(default=0, description="Profile version of the run that wrote this record.")
    trace: dict[str, Any] | None = Field(default=None, description="Explanation recorded at the last change.")
    history: list[MembershipTransition] = Field(default_factory=list, description="Entries and exits, oldest first.")


class MembershipChange(Model):
    segment_id: str
    customer_id: str
    entered: bool
    at: datetime
    segment_version: int
    trace: dict[str, Any] | None = None
    run_id: str | None = None  # the refresh run that decided it, so a retried shard recognises its own work
