"""Refresh runs and the boundary schedule's cursor, in the single table.

A run item holds its immutable definition as JSON in ``doc`` and its progress as native attributes, so that
shards update it atomically: counters with ``ADD``/``SET x = x + :n``, and the set of finished shards
(``done_shards``) as the guard that makes recording a shard idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from segmentation.domain.types import iso
from segmentation.refresh.models import RefreshRun, RunState, SegmentCounts, ShardCounts
from segmentation.store import items as it
from segmentation.store.clients import client
from segmentation.store.dynamo import _conditional_failed
from segmentation.store.errors import Conflict

RUN_RETENTION = timedelta(days=30)
SAMPLE_SIZE = 10
_DEFINITION_FIELDS = (
    "run_id",
    "kind",
    "trigger",
    "segment_ids",
    "segment_versions",
    "features",
    "rule",
    "shards_total",
)


class RunStore:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def _key(self, run_id: str) -> dict[str, Any]:
        return {"PK": it.S(it.run_pk(run_id)), "SK": it.S(it.RUN_SK)}

    def create(self, run: RefreshRun) -> None:
        doc = run.model_dump(mode="json", include=set(_DEFINITION_FIELDS))
        segments = {segment_id: {"M": {"entered": it.N(0), "left": it.N(0)}} for segment_id in run.segment_ids}
        item = {
            **self._key(run.run_id),
            "doc": it.S(it.dumps(doc)),
            "state": it.S(run.state.value),
            "shards_total": it.N(run.shards_total),
            "shards_done": it.N(0),
            "evaluated": it.N(0),
            "entered": it.N(0),
            "left": it.N(0),
            "segments": {"M": segments},
            "sample_enter": {"L": []},
            "sample_leave": {"L": []},
            "started_at": it.S(iso(run.started_at)),
            "expires_at": it.N(int((run.started_at + RUN_RETENTION).timestamp())),
        }
        try:
            self._ddb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if _conditional_failed(exc):
                raise Conflict(f"refresh run {run.run_id} already exists") from exc
            raise

    def get(self, run_id: str) -> RefreshRun | None:
        out = self._ddb.get_item(TableName=self.table, Key=self._key(run_id), ConsistentRead=True)
        return _run(out["Item"]) if "Item" in out else None

    def complete_shard(self, run_id: str, shard: int, counts: ShardCounts, now: datetime) -> RefreshRun | None:
        """Add one shard's counts to the run, exactly once; ``None`` if the shard was already recorded
        (a redelivered message whose first delivery finished)."""
        # Placeholders throughout: several of these names (left, segments) are DynamoDB reserved words.
        names: dict[str, str] = {"#left": "left"}
        values: dict[str, Any] = {
            ":one": it.N(1),
            ":shard": {"NS": [str(shard)]},
            ":shard_n": it.N(shard),
            ":evaluated": it.N(counts.evaluated),
            ":entered": it.N(sum(c.entered for c in counts.segments.values())),
            ":left": it.N(sum(c.left for c in counts.segments.values())),
            ":now": it.S(iso(now)),
        }
        sets = ["updated_at = :now"]
        if counts.segments:
            names.update({"#segs": "segments", "#entered": "entered"})
        for index, (segment_id, segment) in enumerate(sorted(counts.segments.items())):
            names[f"#s{index}"] = segment_id
            for field, value in (("entered", segment.entered), ("left", segment.left)):
                values[f":{field}{index}"] = it.N(value)
                path = f"#segs.#s{index}.#{field}"
                sets.append(f"{path} = {path} + :{field}{index}")
        try:
            out = self._ddb.update_item(
                TableName=self.table,
                Key=self._key(run_id),
                UpdateExpression="SET "
                + ", ".join(sets)
                + " ADD shards_done :one, done_shards :shard, evaluated :evaluated, entered :entered, #left :left",
                ConditionExpression="attribute_exists(PK) AND NOT contains(done_shards, :shard_n)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        run = _run(out["Attributes"])
        self._add_samples(run, counts)
        return run

    def _add_samples(self, run: RefreshRun, counts: ShardCounts) -> None:
        # Best effort and bounded: a sample is for people to look at, and an item must stay far below 400 KB.
        for field, ids, have in (
            ("sample_enter", counts.sample_enter, run.sample_enter),
            ("sample_leave", counts.sample_leave, run.sample_leave),
        ):
            room = SAMPLE_SIZE - len(have)
            if room <= 0 or not ids:
                continue
            try:
                self._ddb.update_item(
                    TableName=self.table,
                    Key=self._key(run.run_id),
                    UpdateExpression=f"SET {field} = list_append({field}, :ids)",
                    ConditionExpression=f"size({field}) < :cap",
                    ExpressionAttributeValues={":ids": {"L": [it.S(i) for i in ids[:room]]}, ":cap": it.N(SAMPLE_SIZE)},
                )
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
            have.extend(ids[:room])

    def finish(self, run_id: str, now: datetime) -> None:
        """Mark a run whose every shard is done; a no-op if another shard's worker got there first."""
        self._set_state(run_id, RunState.SUCCEEDED, now, "shards_done = shards_total")

    def fail_shard(self, run_id: str, shard: int, now: datetime) -> None:
        """A shard gave up (its message goes to the DLQ): the run is failed, its other counts stay."""
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(run_id),
                UpdateExpression="SET #state = :failed, finished_at = :now ADD failed_shards :shard",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":failed": it.S(RunState.FAILED.value),
                    ":now": it.S(iso(now)),
                    ":shard": {"NS": [str(shard)]},
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def _set_state(self, run_id: str, state: RunState, now: datetime, condition: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=self._key(run_id),
                UpdateExpression="SET #state = :state, finished_at = :now",
                ConditionExpression=f"#state = :running AND {condition}",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":state": it.S(state.value),
                    ":running": it.S(RunState.RUNNING.value),
                    ":now": it.S(iso(now)),
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    # -- the boundary schedule's cursor --------------------------------------------------------------

    def boundary_cursor(self) -> str | None:
        """The oldest GSI2 hour bucket that may still hold due customers, as the last boundary run left it."""
        out = self._ddb.get_item(
            TableName=self.table,
            Key={"PK": it.S(it.BOUNDARY_CURSOR_PK), "SK": it.S(it.BOUNDARY_CURSOR_SK)},
            ConsistentRead=True,
        )
        item = out.get("Item")
        return item["bucket"]["S"] if item else None

    def set_boundary_cursor(self, bucket: str, now: datetime) -> None:
        self._ddb.put_item(
            TableName=self.table,
            Item={
                "PK": it.S(it.BOUNDARY_CURSOR_PK),
                "SK": it.S(it.BOUNDARY_CURSOR_SK),
                "bucket": it.S(bucket),
                "updated_at": it.S(iso(now)),
            },
        )


def _run(item: dict[str, Any]) -> RefreshRun:
    doc = it.loads(item["doc"]["S"])
    segments = {
        segment_id: SegmentCounts(entered=int(counts["M"]["entered"]["N"]), left=int(counts["M"]["left"]["N"]))
        for segment_id, counts in item.get("segments", {}).get("M", {}).items()
    }
    return RefreshRun.model_validate(
        {
            **doc,
            "state": item["state"]["S"],
            "shards_done": int(item["shards_done"]["N"]),
            "evaluated": int(item["evaluated"]["N"]),
            "entered": int(item["entered"]["N"]),
            "left": int(item["left"]["N"]),
            "segments": segments,
            "sample_enter": [v["S"] for v in item.get("sample_enter", {}).get("L", [])],
            "sample_leave": [v["S"] for v in item.get("sample_leave", {}).get("L", [])],
            "failed_shards": sorted(int(v) for v in item.get("failed_shards", {}).get("NS", [])),
            "done_shards": sorted(int(v) for v in item.get("done_shards", {}).get("NS", [])),
            "started_at": item["started_at"]["S"],
            "finished_at": item["finished_at"]["S"] if "finished_at" in item else None,
        }
    )
