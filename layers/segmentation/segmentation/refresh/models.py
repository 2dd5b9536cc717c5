"""Refresh runs and the messages that carry their shards to the workers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from segmentation.domain.types import Model


class RunKind(StrEnum):
    REFRESH = "refresh"  # evaluate, write the changes, publish them
    IMPACT = "impact"  # dry run of a proposed rule: count and sample who would enter and leave, write nothing


class RunState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a shard was dead-lettered; the others still count


class SegmentCounts(Model):
    entered: int = 0
    left: int = 0


class RefreshRun(Model):
    """One full pass over the customer base for some segments, split into parallel-scan shards."""

    run_id: str
    kind: RunKind = RunKind.REFRESH
    trigger: str = Field(description="What started it: created, updated, archived, api, schedule:<cadence>, tag:<tag>.")
    segment_ids: list[str] = Field(default_factory=list)
    segment_versions: dict[str, int] = Field(
        default_factory=dict, description="Definition versions at start; a shard skips a segment edited since."
    )
    features: bool = Field(default=False, description="Also store every customer's time-dependent features.")
    rule: dict[str, Any] | None = Field(default=None, description="The proposed rule of an impact preview.")
    state: RunState = RunState.RUNNING
    shards_total: int
    shards_done: int = 0
    evaluated: int = 0
    entered: int = 0
    left: int = 0
    segments: dict[str, SegmentCounts] = Field(default_factory=dict)
    sample_enter: list[str] = Field(default_factory=list)
    sample_leave: list[str] = Field(default_factory=list)
    failed_shards: list[int] = Field(default_factory=list)
    done_shards: list[int] = Field(default_factory=list)
    started_at: datetime
    finished_at: datetime | None = None


class ShardMessage(Model):
    """Body of a message on the refresh queue: one parallel-scan segment of one run."""

    run_id: str
    shard: int = Field(ge=0)
    total_shards: int = Field(ge=1)


class ShardCounts(Model):
    """What one shard found: added to the run once, when the shard is recorded as done."""

    evaluated: int = 0
    segments: dict[str, SegmentCounts] = Field(default_factory=dict)
    sample_enter: list[str] = Field(default_factory=list)
    sample_leave: list[str] = Field(default_factory=list)

    def add(self, segment_id: str, entered: bool) -> None:
        counts = self.segments.setdefault(segment_id, SegmentCounts())
        if entered:
            counts.entered += 1
        else:
            counts.left += 1
