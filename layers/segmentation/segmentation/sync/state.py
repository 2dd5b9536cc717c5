"""What sync remembers per (segment, channel, customer), and the port the delivery code reads it through.

* A **sync record** marks a contact we put (or are putting) into a destination. It is written *before* the
  add request, so a crash after the platform applied the add still leaves a mark, and we only ever remove
  contacts that carry one: we remove what we added, never what someone else put there.
* The **platform id cache** holds the platform's record id per customer and channel, with a hash of the
  identity (email/phone) it was obtained for, so an address change triggers a fresh upsert.
* The **status** per (segment, channel) feeds ``GET /segments/{id}/sync``.

``segmentation.store.sync_state.DynamoSyncState`` is the implementation the functions use; tests and
benchmarks use an in-memory one with the same contract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from segmentation.domain.models import CustomerProfile


class RecordState(StrEnum):
    PENDING_ADD = "pending_add"  # add requested, not yet confirmed
    PRESENT = "present"  # the platform confirmed the add
    PENDING_REMOVE = "pending_remove"  # remove requested, not yet confirmed
    REJECTED = "rejected"  # the platform refused the add for good (e.g. an address it considers invalid)


PENDING_PREFIX = "pending_"


@dataclass(frozen=True)
class SyncRecord:
    state: RecordState
    platform_id: str | None = None  # the id we added, so a later removal targets exactly that record
    error: str | None = None


@dataclass(frozen=True)
class ContactView:
    """One customer as a delivery sees them, all read at delivery time."""

    customer_id: str
    member: bool
    profile: CustomerProfile | None
    record: SyncRecord | None = None
    cached_id: str | None = None
    cached_identity: str | None = None


@dataclass
class StatusUpdate:
    added: int = 0
    removed: int = 0
    skipped: int = 0  # not sent: no consent for the purpose, or no address for the platform's identity
    failures: int = 0  # terminal per-record failures, plus failed runs
    error: str | None = None
    success: bool = False  # the run finished (possibly with per-record failures)
    drift: dict[str, Any] | None = None


def identity_hash(value: str) -> str:
    """Stored next to a cached id instead of the address itself: the cache must not copy personal data."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class SyncState(Protocol):
    def views(self, segment_id: str, channel: str, customer_ids: list[str]) -> dict[str, ContactView]: ...

    def set_records(self, segment_id: str, channel: str, records: Mapping[str, SyncRecord | None]) -> None:
        """Write (or, for None, delete) sync records."""
        ...

    def cache_ids(self, channel: str, ids: Mapping[str, tuple[str, str]]) -> None:
        """customer id -> (platform id, identity hash)."""
        ...

    def forget_ids(self, channel: str, customer_ids: Iterable[str]) -> None: ...

    def owned(self, segment_id: str, channel: str) -> dict[str, SyncRecord]:
        """Every sync record of the destination."""
        ...

    def members(self, segment_id: str) -> list[str]:
        """The segment's current members."""
        ...

    def record_status(self, segment_id: str, channel: str, update: StatusUpdate) -> None: ...

    def status(self, segment_id: str) -> list[dict[str, Any]]: ...

    def load_limiter(self, channel: str) -> dict[str, list[float]]: ...

    def save_limiter(self, channel: str, snapshot: Mapping[str, list[float]]) -> None: ...


@dataclass
class ChannelStatus:
    """The status document of one (segment, channel), as the API shows it."""

    channel: str
    added: int = 0
    removed: int = 0
    skipped: int = 0
    failures: int = 0
    pending: int = 0
    last_success_at: str | None = None
    last_attempt_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    last_reconcile_at: str | None = None
    drift: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "delivered": self.added + self.removed,
            "added": self.added,
            "removed": self.removed,
            "skipped": self.skipped,
            "failures": self.failures,
            "pending": self.pending,
            "last_success_at": self.last_success_at,
            "last_attempt_at": self.last_attempt_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_reconcile_at": self.last_reconcile_at,
            "drift": self.drift,
        }
