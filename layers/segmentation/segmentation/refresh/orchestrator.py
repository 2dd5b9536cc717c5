"""Start a full refresh: record the run, then fan its parallel-scan shards out over SQS to the workers.

Starting costs one ``PutItem`` and one ``SendMessageBatch`` per ten shards, whatever the size of the base, so it
fits in an API call (segment saved, refresh requested) as well as in a scheduled tick.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from segmentation.observability import logger
from segmentation.refresh.models import RefreshRun, RunKind, ShardMessage
from segmentation.rules.nodes import AttrLeaf, walk
from segmentation.segments.models import RefreshCadence, SegmentDefinition
from segmentation.segments.registry import ActiveSegment, compile_definitions
from segmentation.store.clients import client
from segmentation.store.dynamo import DynamoStore
from segmentation.store.runs import RunStore


def new_run_id(now: datetime) -> str:
    """Sortable by start time, unique without coordination."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


class Refresher:
    def __init__(self, store: DynamoStore, runs: RunStore, queue_url: str, shards: int) -> None:
        self.store = store
        self.runs = runs
        self.queue_url = queue_url
        self.shards = shards

    def start(
        self,
        definitions: Iterable[SegmentDefinition],
        trigger: str,
        now: datetime,
        *,
        kind: RunKind = RunKind.REFRESH,
        rule: dict[str, Any] | None = None,
        features: bool = False,
    ) -> RefreshRun:
        """Record a run over ``definitions`` (as saved: their versions tell a shard whether it is superseded) and
        send one message per shard."""
        chosen = list(definitions)
        run = RefreshRun(
            run_id=new_run_id(now),
            kind=kind,
            trigger=trigger,
            segment_ids=[d.segment_id for d in chosen],
            segment_versions={d.segment_id: d.version for d in chosen},
            features=features,
            rule=rule,
            shards_total=self.shards,
            started_at=now,
        )
        self.runs.create(run)
        messages = [
            ShardMessage(run_id=run.run_id, shard=shard, total_shards=self.shards).model_dump_json()
            for shard in range(self.shards)
        ]
        for start in range(0, len(messages), 10):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(messages[start : start + 10])]
            out = client("sqs").send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failed in out.get("Failed", []):
                # The run cannot complete without that shard: say so on the run rather than leave it running.
                self.runs.fail_shard(run.run_id, start + int(failed["Id"]), now)
        logger.info(
            "refresh run started",
            extra={"run_id": run.run_id, "kind": kind.value, "trigger": trigger, "segments": run.segment_ids},
        )
        return run

    def for_cadence(self, cadence: RefreshCadence, now: datetime) -> RefreshRun | None:
        """The scheduled refresh of one cadence.

        - hourly: the segments whose cadence is hourly;
        - daily: the daily ones, every time-relative segment (a safety net under the exact-time path), and the
          stored time-dependent features and boundaries of every customer;
        - weekly: every active segment (the safety net under everything).
        """
        active = compile_definitions(self.store.list_segments(consistent=True))
        if cadence is RefreshCadence.HOURLY:
            chosen = [s for s in active.values() if s.definition.refresh is RefreshCadence.HOURLY]
        elif cadence is RefreshCadence.DAILY:
            chosen = [
                s for s in active.values() if s.definition.refresh is RefreshCadence.DAILY or s.rule.time_relative
            ]
        else:
            chosen = list(active.values())
        features = cadence is RefreshCadence.DAILY
        if not chosen and not features:
            return None
        return self.start([s.definition for s in chosen], f"schedule:{cadence.value}", now, features=features)

    def for_tag(self, tag: str, now: datetime) -> RefreshRun | None:
        """Refresh every active segment whose rule names ``tag`` (directly or through a segment it references)."""
        active = compile_definitions(self.store.list_segments(consistent=True))
        chosen = segments_using_tag(tag, active.values())
        if not chosen:
            return None
        return self.start([s.definition for s in chosen], f"tag:{tag}", now)

    def for_segment(self, definition: SegmentDefinition, trigger: str, now: datetime) -> RefreshRun:
        """Refresh a segment that was saved (or archived) and the active segments that reference it."""
        active = compile_definitions(self.store.list_segments(consistent=True))
        dependants = [
            s.definition
            for s in active.values()
            if definition.segment_id in s.rule.segments and s.segment_id != definition.segment_id
        ]
        return self.start([definition, *dependants], trigger, now)


def segments_using_tag(tag: str, segments: Iterable[ActiveSegment]) -> list[ActiveSegment]:
    wanted = tag.casefold()
    chosen = []
    for segment in segments:
        for node in walk(segment.rule.root):
            if not isinstance(node, AttrLeaf) or node.is_property or node.name != "tags":
                continue
            operand = node.operand
            values = operand if isinstance(operand, tuple | list) else (operand,)
            if any(isinstance(v, str) and v.casefold() == wanted for v in values):
                chosen.append(segment)
                break
    return chosen
