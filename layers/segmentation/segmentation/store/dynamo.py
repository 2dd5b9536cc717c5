"""boto3 implementation of the customer, membership and segment stores."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from segmentation.domain.models import (
    CustomerProfile,
    OrderLine,
    StoredEngagement,
    StoredOrder,
)
from segmentation.domain.types import iso
from segmentation.features.compute import CustomerHistory
from segmentation.segments.models import MembershipChange, MembershipRecord, MembershipTransition, SegmentDefinition
from segmentation.store import items as it
from segmentation.store.clients import client
from segmentation.store.errors import ConcurrentUpdate, Conflict, NotFound

ENGAGEMENT_RETENTION = timedelta(days=800)
EMAIL_CLAIM_GRACE = timedelta(minutes=15)
HISTORY_LIMIT = 100  # transitions kept per membership; every transition is also an EventBridge event


Fact = tuple[str, dict[str, Any], datetime | None]  # sort key, document, expiry


def order_fact(order: StoredOrder) -> Fact:
    doc = order.model_dump(mode="json", exclude={"refunded", "refunded_at"})
    return it.order_sk(order.placed_at, order.order_id), doc, None


def refund_fact(order_id: str, amount: float, at: datetime) -> Fact:
    return it.refund_sk(order_id, at), {"order_id": order_id, "amount": amount, "at": iso(at)}, None


def engagement_fact(event: StoredEngagement) -> Fact:
    sort_key = it.engagement_sk(event.occurred_at, event.event_id)
    return sort_key, event.model_dump(mode="json"), event.occurred_at + ENGAGEMENT_RETENTION


@dataclass
class LoadedCustomer:
    """A customer's partition as one Query returned it."""

    history: CustomerHistory
    memberships: dict[str, MembershipRecord] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # 0: no profile stored yet
    next_boundary_at: datetime | None = None

    @property
    def exists(self) -> bool:
        return self.version > 0


def _conditional_failed(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons", [])
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


class DynamoStore:
    """Customer facts, profiles, memberships and segment definitions in the single table."""

    def __init__(self, table_name: str) -> None:
        self.table = table_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    # -- facts -------------------------------------------------------------------------------------

    def put_fact(
        self, customer_id: str, sort_key: str, document: dict[str, Any], *, ttl: datetime | None = None
    ) -> bool:
        """Append an immutable fact; False when it was already stored (a redelivery)."""
        item = {"PK": it.S(it.customer_pk(customer_id)), "SK": it.S(sort_key), "doc": it.S(it.dumps(document))}
        if ttl is not None:
            item["expires_at"] = it.N(int(ttl.timestamp()))
        try:
            self._ddb.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def put_facts(self, customer_id: str, facts: list[Fact]) -> None:
        """Append many facts with ``BatchWriteItem`` (25 per call).

        Unconditional: fact keys are deterministic and facts immutable, so rewriting one is a no-op.
        """
        self.put_facts_of([(customer_id, fact) for fact in facts])

    def put_facts_of(self, facts: list[tuple[str, Fact]]) -> None:
        """``put_facts`` for the facts of many customers at once (a bulk import fills every request)."""
        requests = []
        for customer_id, (sort_key, document, ttl) in facts:
            item = {"PK": it.S(it.customer_pk(customer_id)), "SK": it.S(sort_key), "doc": it.S(it.dumps(document))}
            if ttl is not None:
                item["expires_at"] = it.N(int(ttl.timestamp()))
            requests.append({"PutRequest": {"Item": item}})
        # A batch may not hold the same key twice: a fact delivered twice in one batch is written once.
        unique = list(
            {(r["PutRequest"]["Item"]["PK"]["S"], r["PutRequest"]["Item"]["SK"]["S"]): r for r in requests}.values()
        )
        for start in range(0, len(unique), 25):
            pending: dict[str, Any] = {self.table: unique[start : start + 25]}
            while pending:
                out = self._ddb.batch_write_item(RequestItems=pending)
                pending = out.get("UnprocessedItems") or {}

    def put_order(self, customer_id: str, order: StoredOrder) -> bool:
        return self.put_fact(customer_id, *order_fact(order)[:2])

    def put_refund(self, customer_id: str, order_id: str, amount: float, at: datetime) -> bool:
        return self.put_fact(customer_id, *refund_fact(order_id, amount, at)[:2])

    def put_engagement(self, customer_id: str, event: StoredEngagement) -> bool:
        sort_key, doc, ttl = engagement_fact(event)
        return self.put_fact(customer_id, sort_key, doc, ttl=ttl)

    # -- customers ---------------------------------------------------------------------------------

    def load_customer(self, customer_id: str, *, consistent: bool = True) -> LoadedCustomer:
        """Profile, orders, refunds, engagement and memberships in one Query (history excluded)."""
        raw: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND SK < :upper",
            "ExpressionAttributeValues": {
                ":pk": it.S(it.customer_pk(customer_id)),
                ":upper": it.S(it.LOAD_UPPER_BOUND),
            },
            "ConsistentRead": consistent,
        }
        while True:
            page = self._ddb.query(**kwargs)
            raw.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return _assemble(customer_id, raw)

    def save_profile(
        self,
        profile: CustomerProfile,
        snapshot: dict[str, Any],
        expected_version: int,
        *,
        next_boundary_at: datetime | None = None,
    ) -> int:
        """Write profile and feature snapshot if nobody else wrote since ``expected_version``."""
        new_version = expected_version + 1
        item = profile_item(profile, snapshot, new_version, next_boundary_at=next_boundary_at)
        if expected_version == 0:
            condition, values = "attribute_not_exists(PK)", None
        else:
            condition, values = "version = :expected", {":expected": it.N(expected_version)}
        try:
            kwargs: dict[str, Any] = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
            if values:
                kwargs["ExpressionAttributeValues"] = values
            self._ddb.put_item(**kwargs)
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConcurrentUpdate(profile.customer_id) from exc
            raise
        return new_version

    def touch_profile(
        self,
        customer_id: str,
        expected_version: int,
        *,
        next_boundary_at: datetime | None,
        snapshot: dict[str, Any] | None = None,
    ) -> int:
        """Move the profile to the next version without changing what the customer told us: record a new time
        boundary (and, optionally, a fresh feature snapshot). Guarded like ``save_profile``.

        A refresh writes memberships and then touches the profile: any real-time run that read the profile before
        the touch fails its own commit and starts again from a fresh read, so the two cannot overwrite each other
        with what they read before (see docs/freshness.md, "Concurrency").
        """
        new_version = expected_version + 1
        names = {"#v": "version"}
        values: dict[str, Any] = {":expected": it.N(expected_version), ":next": it.N(new_version)}
        sets = ["#v = :next"]
        removes: list[str] = []
        boundary = _boundary_attributes(customer_id, next_boundary_at)
        for name in ("next_boundary_at", "GSI2PK", "GSI2SK"):
            if name in boundary:
                sets.append(f"{name} = :{name.lower()}")
                values[f":{name.lower()}"] = boundary[name]
            else:
                removes.append(name)
        if snapshot is not None:
            sets.append("features = :features")
            values[":features"] = it.S(it.dumps(snapshot))
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key={"PK": it.S(it.customer_pk(customer_id)), "SK": it.S(it.PROFILE_SK)},
                UpdateExpression=expression,
                ConditionExpression="#v = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConcurrentUpdate(customer_id) from exc
            raise
        return new_version

    def due_customers(self, bucket: str, shard: int, now: datetime) -> list[str]:
        """Customers of one GSI2 partition whose next time boundary is at or before ``now``."""
        out: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "GSI2",
            "KeyConditionExpression": "GSI2PK = :pk AND GSI2SK <= :now",
            "ExpressionAttributeValues": {":pk": it.S(it.boundary_gsi_pk(bucket, shard)), ":now": it.S(iso(now))},
        }
        while True:
            page = self._ddb.query(**kwargs)
            out.extend(row["PK"]["S"][2:] for row in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan_shard(self, segment: int, total_segments: int, page_size: int | None = None) -> Iterator[LoadedCustomer]:
        """Every customer of one parallel-scan segment, one at a time, as ``load_customer`` would return her.

        DynamoDB assigns whole partitions to scan segments and returns a partition's items together, so a customer
        is complete when the next partition key starts (a partition may still span two pages).
        """
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Segment": segment,
            "TotalSegments": total_segments,
            "FilterExpression": "begins_with(PK, :c) AND SK < :upper",
            "ExpressionAttributeValues": {":c": it.S("C#"), ":upper": it.S(it.LOAD_UPPER_BOUND)},
        }
        if page_size:
            kwargs["Limit"] = page_size
        current: str | None = None
        rows: list[dict[str, Any]] = []
        while True:
            page = self._ddb.scan(**kwargs)
            for row in page.get("Items", []):
                pk = row["PK"]["S"]
                if pk != current:
                    if rows:
                        loaded = _assemble(current[2:], rows)  # type: ignore[index]
                        if loaded.exists:
                            yield loaded
                    current, rows = pk, []
                rows.append(row)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if rows and current is not None:
            loaded = _assemble(current[2:], rows)
            if loaded.exists:
                yield loaded

    def profile_names(self, customer_ids: list[str]) -> dict[str, str]:
        """First and last name of each customer, for samples shown to the shop (never logged)."""
        keys = [{"PK": it.S(it.customer_pk(cid)), "SK": it.S(it.PROFILE_SK)} for cid in dict.fromkeys(customer_ids)]
        names: dict[str, str] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": keys[start : start + 100], "ProjectionExpression": "PK, doc"}
            }
            while request:
                out = self._ddb.batch_get_item(RequestItems=request)
                for row in out.get("Responses", {}).get(self.table, []):
                    doc = it.loads(row["doc"]["S"])
                    name = " ".join(part for part in (doc.get("first_name"), doc.get("last_name")) if part)
                    names[row["PK"]["S"][2:]] = name
                request = out.get("UnprocessedKeys") or {}
        return names

    def claim_email(self, email: str, customer_id: str, previous_email: str | None) -> None:
        """Point ``email`` at ``customer_id``; Conflict if another customer holds it.

        Two conditional writes rather than a transaction: if the release of the old address is lost, the
        stale pointer is harmless (lookups check the profile's current email) and is reclaimed on reuse.
        """
        now = datetime.now(UTC)
        item = {
            "PK": it.S(it.email_pk(email)),
            "SK": it.S(it.EMAIL_SK),
            "customer_id": it.S(customer_id),
            "claimed_at": it.N(int(now.timestamp())),
        }
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item=item,
                ConditionExpression="attribute_not_exists(PK) OR customer_id = :me",
                ExpressionAttributeValues={":me": it.S(customer_id)},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            holder = self.find_by_email(email)
            # A claim younger than the grace period may belong to an update still in flight.
            settled = it.N(int((now - EMAIL_CLAIM_GRACE).timestamp()))
            if holder is None or self._current_email(holder) == email:
                raise Conflict("email is already used by another customer") from exc
            try:  # a stale pointer left by an interrupted email change: take it over
                self._ddb.put_item(
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="customer_id = :holder AND claimed_at < :settled",
                    ExpressionAttributeValues={":holder": it.S(holder), ":settled": settled},
                )
            except ClientError as retry_exc:
                if _conditional_failed(retry_exc):
                    raise Conflict("email is already used by another customer") from retry_exc
                raise
        if previous_email and previous_email != email:
            try:
                self._ddb.delete_item(
                    TableName=self.table,
                    Key={"PK": it.S(it.email_pk(previous_email)), "SK": it.S(it.EMAIL_SK)},
                    ConditionExpression="customer_id = :me",
                    ExpressionAttributeValues={":me": it.S(customer_id)},
                )
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise

    def _current_email(self, customer_id: str) -> str | None:
        out = self._ddb.get_item(
            TableName=self.table,
            Key={"PK": it.S(it.customer_pk(customer_id)), "SK": it.S(it.PROFILE_SK)},
            ProjectionExpression="email",
            ConsistentRead=True,
        )
        return out.get("Item", {}).get("email", {}).get("S")

    def find_by_email(self, email: str) -> str | None:
        out = self._ddb.get_item(
            TableName=self.table, Key={"PK": it.S(it.email_pk(email)), "SK": it.S(it.EMAIL_SK)}, ConsistentRead=True
        )
        found = out.get("Item")
        return found["customer_id"]["S"] if found else None

    # -- memberships -------------------------------------------------------------------------------

    def apply_membership_changes(
        self, changes: list[tuple[MembershipChange, MembershipRecord | None]], *, profile_version: int = 0
    ) -> None:
        """Record entries and exits, one conditional ``PutItem`` each, guarded by the membership's version.

        The transition history lives on the membership item itself (the last ``HISTORY_LIMIT`` entries), so
        a change is one request and never half-written. (A transaction would also do, but costs twice.)
        """
        for change, current in changes:
            self._put_membership(change, current, profile_version)

    def apply_membership_change(
        self, change: MembershipChange, current: MembershipRecord | None, *, profile_version: int = 0
    ) -> None:
        self._put_membership(change, current, profile_version)

    def _put_membership(self, change: MembershipChange, current: MembershipRecord | None, profile_version: int) -> None:
        expected = current.version if current else 0
        item = membership_item(change, current, profile_version)
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item}
        if expected == 0:
            kwargs["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            kwargs["ConditionExpression"] = "version = :expected"
            kwargs["ExpressionAttributeValues"] = {":expected": it.N(expected)}
        try:
            self._ddb.put_item(**kwargs)
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ConcurrentUpdate(f"{change.customer_id}/{change.segment_id}") from exc
            raise

    def insert_items(self, items: list[dict[str, Any]]) -> list[bool]:
        """Create items that must not exist yet, 25 per request; per item, True if created, False if an item
        with its key already existed (nothing is overwritten).

        ``BatchExecuteStatement`` with PartiQL ``INSERT``: unlike ``BatchWriteItem`` each insert is
        conditional, and unlike a transaction one existing item does not fail the others. Bulk creation
        (imports) uses it to write new customers at batch cost without ever overwriting a concurrent writer.
        """
        results: list[bool] = []
        for start in range(0, len(items), 25):
            chunk = items[start : start + 25]
            statements = [_insert_statement(self.table, item) for item in chunk]
            outcome: list[bool | None] = [None] * len(chunk)
            pending = list(range(len(chunk)))
            for attempt in range(8):
                out = self._ddb.batch_execute_statement(Statements=[statements[i] for i in pending])
                retry = []
                for index, response in zip(pending, out["Responses"], strict=True):
                    code = (response.get("Error") or {}).get("Code")
                    if code is None:
                        outcome[index] = True
                    elif code in ("DuplicateItem", "ConditionalCheckFailed"):
                        outcome[index] = False
                    elif code in (
                        "ProvisionedThroughputExceeded",
                        "ThrottlingError",
                        "RequestLimitExceeded",
                        "TransactionConflict",
                        "InternalServerError",
                    ):
                        retry.append(index)
                    else:
                        raise RuntimeError(f"insert failed: {code}")
                if not retry:
                    break
                pending = retry
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise RuntimeError("inserts still throttled after retries")
            results.extend(bool(o) for o in outcome)
        return results

    def list_members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": it.S(it.members_gsi_pk(segment_id))},
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor)
        page = self._ddb.query(**kwargs)
        ids = [row["GSI1SK"]["S"] for row in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return ids, _encode_cursor(last) if last else None

    def count_members(self, segment_id: str) -> int:
        total, kwargs = (
            0,
            {
                "TableName": self.table,
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": it.S(it.members_gsi_pk(segment_id))},
                "Select": "COUNT",
            },
        )
        while True:
            page = self._ddb.query(**kwargs)
            total += page.get("Count", 0)
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list_segments(self, *, consistent: bool = False) -> list[SegmentDefinition]:
        out: list[SegmentDefinition] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": it.S(it.SEGMENTS_PK)},
            "ConsistentRead": consistent,
        }
        while True:
            page = self._ddb.query(**kwargs)
            out.extend(SegmentDefinition.model_validate_json(row["doc"]["S"]) for row in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_segment(self, segment_id: str) -> SegmentDefinition:
        out = self._ddb.get_item(
            TableName=self.table, Key={"PK": it.S(it.SEGMENTS_PK), "SK": it.S(segment_id)}, ConsistentRead=True
        )
        if "Item" not in out:
            raise NotFound(f"segment {segment_id} not found")
        return SegmentDefinition.model_validate_json(out["Item"]["doc"]["S"])

    def put_segment(self, definition: SegmentDefinition, expected_version: int) -> None:
        """Save a new version of a definition and keep the old one; guarded by the version."""
        doc = definition.model_dump_json()
        current = {
            "PK": it.S(it.SEGMENTS_PK),
            "SK": it.S(definition.segment_id),
            "doc": it.S(doc),
            "version": it.N(definition.version),
        }
        if expected_version == 0:
            guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
        else:
            guard = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": it.N(expected_version)}}
        versioned = {
            "PK": it.S(it.segment_version_pk(definition.segment_id)),
            "SK": it.S(f"V#{definition.version:06d}"),
            "doc": it.S(doc),
        }
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": current, **guard}},
                    {"Put": {"TableName": self.table, "Item": versioned}},
                ]
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                if expected_version == 0:
                    raise Conflict(f"segment {definition.segment_id} already exists") from exc
                raise ConcurrentUpdate(definition.segment_id) from exc
            raise

    def segment_versions(self, segment_id: str) -> list[SegmentDefinition]:
        page = self._ddb.query(
            TableName=self.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :v)",
            ExpressionAttributeValues={":pk": it.S(it.segment_version_pk(segment_id)), ":v": it.S("V#")},
        )
        return [SegmentDefinition.model_validate_json(row["doc"]["S"]) for row in page.get("Items", [])]


def profile_item(
    profile: CustomerProfile, snapshot: dict[str, Any], version: int, *, next_boundary_at: datetime | None = None
) -> dict[str, Any]:
    """The stored shape of a profile with its feature snapshot at ``version`` and its next time boundary."""
    item: dict[str, Any] = {
        "PK": it.S(it.customer_pk(profile.customer_id)),
        "SK": it.S(it.PROFILE_SK),
        "doc": it.S(it.dumps(profile.model_dump(mode="json"))),
        "features": it.S(it.dumps(snapshot)),
        "version": it.N(version),
    }
    if profile.email:
        item["email"] = it.S(profile.email)
    item.update(_boundary_attributes(profile.customer_id, next_boundary_at))
    return item


def membership_item(change: MembershipChange, current: MembershipRecord | None, profile_version: int) -> dict[str, Any]:
    """The stored shape of a membership after ``change`` (its history on the item, see ``HISTORY_LIMIT``)."""
    expected = current.version if current else 0
    transition = MembershipTransition(
        entered=change.entered, at=change.at, segment_version=change.segment_version, run=change.run_id
    )
    history = [*(current.history if current else []), transition][-HISTORY_LIMIT:]
    record = MembershipRecord(
        segment_id=change.segment_id,
        customer_id=change.customer_id,
        member=change.entered,
        entered_at=change.at if change.entered else (current.entered_at if current else None),
        exited_at=None if change.entered else change.at,
        segment_version=change.segment_version,
        version=expected + 1,
        profile_version=profile_version,
        trace=change.trace,
        history=history,
    )
    item: dict[str, Any] = {
        "PK": it.S(it.customer_pk(change.customer_id)),
        "SK": it.S(it.membership_sk(change.segment_id)),
        "doc": it.S(it.dumps(record.model_dump(mode="json"))),
        "version": it.N(record.version),
    }
    if record.member:
        item["GSI1PK"] = it.S(it.members_gsi_pk(change.segment_id))
        item["GSI1SK"] = it.S(change.customer_id)
    return item


def _insert_statement(table: str, item: dict[str, Any]) -> dict[str, Any]:
    names = list(item)
    body = ", ".join(f"'{name}': ?" for name in names)
    return {"Statement": f'INSERT INTO "{table}" VALUE {{{body}}}', "Parameters": [item[name] for name in names]}


def _assemble(customer_id: str, raw: list[dict[str, Any]]) -> LoadedCustomer:
    profile: CustomerProfile | None = None
    snapshot: dict[str, Any] = {}
    version = 0
    orders: dict[str, StoredOrder] = {}
    refunds: list[dict[str, Any]] = []
    engagements: list[StoredEngagement] = []
    memberships: dict[str, MembershipRecord] = {}
    boundary: datetime | None = None
    for row in raw:
        sk = row["SK"]["S"]
        doc = row["doc"]["S"]
        if sk == it.PROFILE_SK:
            profile = CustomerProfile.model_validate_json(doc)
            snapshot = it.loads(row["features"]["S"]) if "features" in row else {}
            version = int(row["version"]["N"])
            if "next_boundary_at" in row:
                boundary = datetime.fromisoformat(row["next_boundary_at"]["S"].replace("Z", "+00:00"))
        elif sk.startswith("O#"):
            data = it.loads(doc)
            orders[data["order_id"]] = StoredOrder(
                order_id=data["order_id"],
                placed_at=data["placed_at"],
                currency=data.get("currency", "EUR"),
                total=data["total"],
                lines=[OrderLine.model_validate(line) for line in data["lines"]],
            )
        elif sk.startswith("R#"):
            refunds.append(it.loads(doc))
        elif sk.startswith("V#"):
            engagements.append(StoredEngagement.model_validate_json(doc))
        elif sk.startswith("M#"):
            record = MembershipRecord.model_validate_json(doc)
            memberships[record.segment_id] = record
    for refund in sorted(refunds, key=lambda r: r["at"]):
        order = orders.get(refund["order_id"])
        if order is not None:  # a refund for an order we never saw cannot change features
            order.refunded = min(order.total, order.refunded + float(refund["amount"]))
            order.refunded_at = datetime.fromisoformat(refund["at"].replace("Z", "+00:00")).astimezone(UTC)
    history = CustomerHistory(
        profile=profile or CustomerProfile(customer_id=customer_id),
        orders=sorted(orders.values(), key=lambda o: o.placed_at),
        engagements=sorted(engagements, key=lambda e: e.occurred_at),
    )
    return LoadedCustomer(
        history=history, memberships=memberships, snapshot=snapshot, version=version, next_boundary_at=boundary
    )


def _boundary_attributes(customer_id: str, at: datetime | None) -> dict[str, Any]:
    """The profile's boundary and its sparse GSI2 keys; none at all when time cannot change anything for her."""
    if at is None:
        return {}
    stamp = iso(at)
    return {
        "next_boundary_at": it.S(stamp),
        "GSI2PK": it.S(it.boundary_gsi_pk(it.boundary_bucket(at), it.boundary_shard(customer_id))),
        "GSI2SK": it.S(stamp),
    }


def _encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(key, dict) or "GSI1PK" not in key:
        raise ValueError("invalid cursor")
    return key


def scan_customers(store: DynamoStore, *, segment: int = 0, total_segments: int = 1) -> list[LoadedCustomer]:
    """Every customer's partition from one paginated Scan: the straightforward full pass.

    Sized for previews and initial membership of a shop's base; the sharded refresh workers replace it at scale.
    With ``total_segments`` > 1 it reads one segment of a parallel Scan; a customer's items share a partition
    key, so every segment holds whole customers.
    """
    partitions: dict[str, list[dict[str, Any]]] = {}
    kwargs: dict[str, Any] = {
        "TableName": store.table,
        "FilterExpression": "begins_with(PK, :c) AND SK < :upper",
        "ExpressionAttributeValues": {":c": it.S("C#"), ":upper": it.S(it.LOAD_UPPER_BOUND)},
    }
    if total_segments > 1:
        kwargs.update(Segment=segment, TotalSegments=total_segments)
    while True:
        page = store._ddb.scan(**kwargs)
        for row in page.get("Items", []):
            partitions.setdefault(row["PK"]["S"], []).append(row)
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    loaded = [_assemble(pk[2:], rows) for pk, rows in partitions.items()]
    return [c for c in loaded if c.exists]
