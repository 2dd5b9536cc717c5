"""Active segment definitions with their compiled rules, cached per container for a short time.

Real-time handlers evaluate every event against the active segments; listing them from DynamoDB on every
event would double the per-event cost, so the list is cached for ``ttl_seconds`` (default 60 s). A new or
edited segment computes its own membership when saved, so the cache only delays which segments later events
are evaluated against, never the membership of the segment itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from segmentation.rules import Rule, parse_rule
from segmentation.segments.boundaries import BoundaryPlan
from segmentation.segments.models import SegmentDefinition, SegmentStatus


class SegmentSource(Protocol):
    def list_segments(self) -> list[SegmentDefinition]: ...


@dataclass(frozen=True)
class ActiveSegment:
    definition: SegmentDefinition
    rule: Rule

    @property
    def segment_id(self) -> str:
        return self.definition.segment_id


def compile_definitions(definitions: list[SegmentDefinition]) -> dict[str, ActiveSegment]:
    """Compile every active definition, resolving ``in_segment`` references among them."""
    trees = {d.segment_id: d.rule for d in definitions if d.status == SegmentStatus.ACTIVE}

    def lookup(segment_id: str) -> dict[str, Any] | None:
        return trees.get(segment_id)

    out: dict[str, ActiveSegment] = {}
    for definition in definitions:
        if definition.status != SegmentStatus.ACTIVE:
            continue
        rule = parse_rule(definition.rule, segment_lookup=lookup, self_id=definition.segment_id)
        out[definition.segment_id] = ActiveSegment(definition, rule)
    return out


class SegmentRegistry:
    def __init__(self, source: SegmentSource, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._source = source
        self._ttl = ttl_seconds
        self._clock = clock
        self._loaded_at = float("-inf")
        self._active: dict[str, ActiveSegment] = {}
        self._plan = BoundaryPlan()
        self._lock = threading.Lock()  # a boundary run re-evaluates customers on several threads: one reload

    def active(self) -> dict[str, ActiveSegment]:
        if self._clock() - self._loaded_at > self._ttl:
            with self._lock:
                if self._clock() - self._loaded_at > self._ttl:
                    active = compile_definitions(self._source.list_segments())
                    self._plan = BoundaryPlan.of(segment.rule for segment in active.values())
                    self._active = active
                    self._loaded_at = self._clock()
        return self._active

    def boundary_plan(self) -> BoundaryPlan:
        """What in the active rules can flip with time (see ``segments.boundaries``), for the same load."""
        self.active()
        return self._plan

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")
