"""In-memory implementation of the sync state port, for contract tests, property tests and benchmarks.

Same contract as ``segmentation.store.sync_state.DynamoSyncState`` (a shared test runs both), without the
emulator's milliseconds per request, so a test can drive thousands of deliveries.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from segmentation.domain.models import ConsentChannel, ConsentState, ConsentStatus, CustomerProfile
from segmentation.sync.state import (
    ChannelStatus,
    ContactView,
    RecordState,
    StatusUpdate,
    SyncRecord,
)


class MemoryState:
    def __init__(self) -> None:
        self.segment_members: dict[str, set[str]] = defaultdict(set)
        self.profiles: dict[str, CustomerProfile] = {}
        self.records: dict[tuple[str, str], dict[str, SyncRecord]] = defaultdict(dict)
        self.cache: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
        self.statuses: dict[tuple[str, str], ChannelStatus] = {}
        self.limiters: dict[str, dict[str, list[float]]] = {}
        self.writes = 0

    # ------------------------------------------------------------------------------------ test setup

    def put_customer(
        self,
        customer_id: str,
        email: str | None = None,
        *,
        consent: dict[ConsentChannel, ConsentStatus] | None = None,
        **fields: Any,
    ) -> CustomerProfile:
        at = datetime(2026, 11, 20, tzinfo=UTC)
        profile = CustomerProfile(
            customer_id=customer_id,
            email=email,
            consent={c: ConsentState(status=s, updated_at=at) for c, s in (consent or {}).items()},
            **fields,
        )
        self.profiles[customer_id] = profile
        return profile

    def set_consent(self, customer_id: str, channel: ConsentChannel, status: ConsentStatus) -> None:
        profile = self.profiles[customer_id]
        consent = dict(profile.consent)
        consent[channel] = ConsentState(status=status, updated_at=datetime.now(UTC))
        self.profiles[customer_id] = profile.model_copy(update={"consent": consent})

    def set_member(self, segment_id: str, customer_id: str, member: bool) -> None:
        (self.segment_members[segment_id].add if member else self.segment_members[segment_id].discard)(customer_id)

    # ------------------------------------------------------------------------------------ the port

    def views(self, segment_id: str, channel: str, customer_ids: list[str]) -> dict[str, ContactView]:
        records = self.records[(segment_id, channel)]
        cache = self.cache[channel]
        return {
            cid: ContactView(
                customer_id=cid,
                member=cid in self.segment_members[segment_id],
                profile=self.profiles.get(cid),
                record=records.get(cid),
                cached_id=cache[cid][0] if cid in cache else None,
                cached_identity=cache[cid][1] if cid in cache else None,
            )
            for cid in customer_ids
        }

    def set_records(self, segment_id: str, channel: str, records: Mapping[str, SyncRecord | None]) -> None:
        stored = self.records[(segment_id, channel)]
        for cid, record in records.items():
            self.writes += 1
            if record is None:
                stored.pop(cid, None)
            else:
                stored[cid] = record

    def cache_ids(self, channel: str, ids: Mapping[str, tuple[str, str]]) -> None:
        self.writes += len(ids)
        self.cache[channel].update(ids)

    def forget_ids(self, channel: str, customer_ids: Iterable[str]) -> None:
        for cid in customer_ids:
            self.cache[channel].pop(cid, None)

    def owned(self, segment_id: str, channel: str) -> dict[str, SyncRecord]:
        return dict(self.records[(segment_id, channel)])

    def members(self, segment_id: str) -> list[str]:
        return sorted(self.segment_members[segment_id])

    def record_status(self, segment_id: str, channel: str, update: StatusUpdate) -> None:
        status = self.statuses.setdefault((segment_id, channel), ChannelStatus(channel=channel))
        now = datetime.now(UTC).isoformat()
        status.added += update.added
        status.removed += update.removed
        status.skipped += update.skipped
        status.failures += update.failures
        status.last_attempt_at = now
        if update.success:
            status.last_success_at = now
        if update.error:
            status.last_error, status.last_error_at = update.error, now
        if update.drift is not None:
            status.drift, status.last_reconcile_at = copy.deepcopy(update.drift), now

    def status(self, segment_id: str) -> list[dict[str, Any]]:
        out = []
        for (seg, channel), status in sorted(self.statuses.items()):
            if seg == segment_id:
                pending = sum(1 for r in self.records[(seg, channel)].values() if r.state.value.startswith("pending_"))
                out.append({**status.as_dict(), "pending": pending})
        return out

    def load_limiter(self, channel: str) -> dict[str, list[float]]:
        return copy.deepcopy(self.limiters.get(channel, {}))

    def save_limiter(self, channel: str, snapshot: Mapping[str, list[float]]) -> None:
        self.limiters[channel] = {k: list(v) for k, v in snapshot.items()}

    # ------------------------------------------------------------------------------------ assertions

    def present(self, segment_id: str, channel: str) -> dict[str, str | None]:
        """customer id -> platform id of the records the platform confirmed."""
        return {
            cid: r.platform_id
            for cid, r in self.records[(segment_id, channel)].items()
            if r.state == RecordState.PRESENT
        }
