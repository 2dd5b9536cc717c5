"""DynamoDB implementation of the sync state port (``segmentation.sync.state``).

Items (single table):

* sync record: ``PK=C#<customer>``, ``SK=~D#<segment>#<channel>``; ``GSI1PK=D#<segment>#<channel>``,
  ``GSI1SK=<state>#<customer>``, so a destination's records (drift) and its pending ones (status) are one
  GSI query each. The ``~`` keeps them above ``LOAD_UPPER_BOUND``: the real-time path never reads them.
* platform id cache: ``PK=C#<customer>``, ``SK=~X#<channel>`` with ``platform_id`` and ``identity``
  (a hash of the address, never the address).
* status: ``PK=SEGV#<segment>``, ``SK=SYNC#<channel>``: atomic counters and the last success / error / drift.
* limiter: ``PK=CHANNEL#<channel>``, ``SK=LIMITER``: the channel's recent request times.

A delivery reads membership, profile, record and cache of its (at most 100) customers with BatchGetItem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from segmentation.domain.models import CustomerProfile
from segmentation.domain.types import iso
from segmentation.store import items as it
from segmentation.store.clients import client
from segmentation.sync.state import (
    PENDING_PREFIX,
    ChannelStatus,
    ContactView,
    RecordState,
    StatusUpdate,
    SyncRecord,
)


def record_sk(segment_id: str, channel: str) -> str:
    return f"~D#{segment_id}#{channel}"


def record_gsi_pk(segment_id: str, channel: str) -> str:
    return f"D#{segment_id}#{channel}"


def cache_sk(channel: str) -> str:
    return f"~X#{channel}"


def status_key(segment_id: str, channel: str) -> dict[str, Any]:
    return {"PK": it.S(it.segment_version_pk(segment_id)), "SK": it.S(f"SYNC#{channel}")}


class DynamoSyncState:
    def __init__(self, table_name: str) -> None:
        self.table = table_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    # ------------------------------------------------------------------------------------ delivery reads

    def views(self, segment_id: str, channel: str, customer_ids: list[str]) -> dict[str, ContactView]:
        wanted = (it.membership_sk(segment_id), it.PROFILE_SK, record_sk(segment_id, channel), cache_sk(channel))
        keys = [
            {"PK": it.S(it.customer_pk(cid)), "SK": it.S(sk)} for cid in dict.fromkeys(customer_ids) for sk in wanted
        ]
        rows: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                out = self._ddb.batch_get_item(RequestItems=request)
                rows.extend(out.get("Responses", {}).get(self.table, []))
                request = out.get("UnprocessedKeys") or {}
        member: dict[str, bool] = {}
        profiles: dict[str, CustomerProfile] = {}
        records: dict[str, SyncRecord] = {}
        cached: dict[str, tuple[str, str]] = {}
        for row in rows:
            cid, sk = row["PK"]["S"][2:], row["SK"]["S"]
            if sk == it.PROFILE_SK:
                profiles[cid] = CustomerProfile.model_validate_json(row["doc"]["S"])
            elif sk == wanted[0]:
                member[cid] = bool(it.loads(row["doc"]["S"]).get("member"))
            elif sk == wanted[2]:
                records[cid] = _record(row)
            else:
                cached[cid] = (row["platform_id"]["S"], row.get("identity", {}).get("S", ""))
        return {
            cid: ContactView(
                customer_id=cid,
                member=member.get(cid, False),
                profile=profiles.get(cid),
                record=records.get(cid),
                cached_id=cached[cid][0] if cid in cached else None,
                cached_identity=cached[cid][1] if cid in cached else None,
            )
            for cid in customer_ids
        }

    # ------------------------------------------------------------------------------------ writes

    def set_records(self, segment_id: str, channel: str, records: Mapping[str, SyncRecord | None]) -> None:
        now = it.S(iso(datetime.now(UTC)))
        requests: list[dict[str, Any]] = []
        for cid, record in records.items():
            key = {"PK": it.S(it.customer_pk(cid)), "SK": it.S(record_sk(segment_id, channel))}
            if record is None:
                requests.append({"DeleteRequest": {"Key": key}})
                continue
            item = {
                **key,
                "state": it.S(record.state.value),
                "updated_at": now,
                "GSI1PK": it.S(record_gsi_pk(segment_id, channel)),
                "GSI1SK": it.S(f"{record.state.value}#{cid}"),
            }
            if record.platform_id:
                item["platform_id"] = it.S(record.platform_id)
            if record.error:
                item["error"] = it.S(record.error[:300])
            requests.append({"PutRequest": {"Item": item}})
        self._write(requests)

    def cache_ids(self, channel: str, ids: Mapping[str, tuple[str, str]]) -> None:
        self._write(
            [
                {
                    "PutRequest": {
                        "Item": {
                            "PK": it.S(it.customer_pk(cid)),
                            "SK": it.S(cache_sk(channel)),
                            "platform_id": it.S(platform_id),
                            "identity": it.S(identity),
                        }
                    }
                }
                for cid, (platform_id, identity) in ids.items()
            ]
        )

    def forget_ids(self, channel: str, customer_ids: Iterable[str]) -> None:
        self._write(
            [
                {"DeleteRequest": {"Key": {"PK": it.S(it.customer_pk(cid)), "SK": it.S(cache_sk(channel))}}}
                for cid in customer_ids
            ]
        )

    def _write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            while pending:
                out = self._ddb.batch_write_item(RequestItems=pending)
                pending = out.get("UnprocessedItems") or {}

    # ------------------------------------------------------------------------------------ drift reads

    def owned(self, segment_id: str, channel: str) -> dict[str, SyncRecord]:
        out: dict[str, SyncRecord] = {}
        for row in self._gsi1(record_gsi_pk(segment_id, channel)):
            out[row["PK"]["S"][2:]] = _record(row)
        return out

    def members(self, segment_id: str) -> list[str]:
        return [row["GSI1SK"]["S"] for row in self._gsi1(it.members_gsi_pk(segment_id))]

    def _gsi1(self, pk: str, prefix: str | None = None, count: bool = False) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": it.S(pk)},
        }
        if prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(GSI1SK, :p)"
            kwargs["ExpressionAttributeValues"][":p"] = it.S(prefix)
        if count:
            kwargs["Select"] = "COUNT"
        rows: list[dict[str, Any]] = []
        total = 0
        while True:
            page = self._ddb.query(**kwargs)
            rows.extend(page.get("Items", []))
            total += page.get("Count", 0)
            if "LastEvaluatedKey" not in page:
                return [{"Count": total}] if count else rows
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------------------------ status

    def record_status(self, segment_id: str, channel: str, update: StatusUpdate) -> None:
        """Atomic counters, so concurrent runs for one channel never lose a count."""
        now = it.S(iso(datetime.now(UTC)))
        sets = ["segment_id = :seg", "channel = :ch", "last_attempt_at = :now"]
        values: dict[str, Any] = {
            ":seg": it.S(segment_id),
            ":ch": it.S(channel),
            ":now": now,
            ":a": it.N(update.added),
            ":r": it.N(update.removed),
            ":s": it.N(update.skipped),
            ":f": it.N(update.failures),
            ":d": it.N(update.added + update.removed),
        }
        if update.success:
            sets.append("last_success_at = :now")
        if update.error:
            sets += ["last_error = :err", "last_error_at = :now"]
            values[":err"] = it.S(update.error[:500])
        if update.drift is not None:
            sets += ["last_reconcile_at = :now", "drift = :drift"]
            values[":drift"] = it.S(json.dumps(update.drift, sort_keys=True))
        self._ddb.update_item(
            TableName=self.table,
            Key=status_key(segment_id, channel),
            UpdateExpression="SET "
            + ", ".join(sets)
            + " ADD added :a, removed :r, skipped :s, failures :f, delivered :d",
            ExpressionAttributeValues=values,
        )

    def status(self, segment_id: str) -> list[dict[str, Any]]:
        page = self._ddb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
            ExpressionAttributeValues={":pk": it.S(it.segment_version_pk(segment_id)), ":s": it.S("SYNC#")},
        )
        out = []
        for row in page.get("Items", []):
            channel = row["channel"]["S"]
            pending = self._gsi1(record_gsi_pk(segment_id, channel), PENDING_PREFIX, count=True)[0]["Count"]
            status = ChannelStatus(
                channel=channel,
                added=_n(row, "added"),
                removed=_n(row, "removed"),
                skipped=_n(row, "skipped"),
                failures=_n(row, "failures"),
                pending=pending,
                last_success_at=_s(row, "last_success_at"),
                last_attempt_at=_s(row, "last_attempt_at"),
                last_error=_s(row, "last_error"),
                last_error_at=_s(row, "last_error_at"),
                last_reconcile_at=_s(row, "last_reconcile_at"),
                drift=json.loads(row["drift"]["S"]) if "drift" in row else None,
            )
            out.append(status.as_dict())
        return out

    # ------------------------------------------------------------------------------------ limiter

    def load_limiter(self, channel: str) -> dict[str, list[float]]:
        row = self._ddb.get_item(
            TableName=self.table,
            Key={"PK": it.S(f"CHANNEL#{channel}"), "SK": it.S("LIMITER")},
            ConsistentRead=True,
        ).get("Item")
        return json.loads(row["doc"]["S"]) if row else {}

    def save_limiter(self, channel: str, snapshot: Mapping[str, list[float]]) -> None:
        self._ddb.put_item(
            TableName=self.table,
            Item={
                "PK": it.S(f"CHANNEL#{channel}"),
                "SK": it.S("LIMITER"),
                "doc": it.S(json.dumps(dict(snapshot), separators=(",", ":"))),
            },
        )


def _record(row: dict[str, Any]) -> SyncRecord:
    return SyncRecord(
        state=RecordState(row["state"]["S"]),
        platform_id=row.get("platform_id", {}).get("S"),
        error=row.get("error", {}).get("S"),
    )


def _n(row: dict[str, Any], name: str) -> int:
    return int(row.get(name, {}).get("N", 0))


def _s(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name, {}).get("S")
    return str(value) if value is not None else None
