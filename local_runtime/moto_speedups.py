"""Keep moto's DynamoDB fast enough for a shop-sized local run.

moto 5's ``Table.query`` builds the candidate list from ``Table.all_items()``, which sorts the *whole table*
on every call: a Query costs O(n log n) in the table size (25 ms at 3k items, hundreds of ms at the demo's
70k). For a query on the table's own key the candidates are exactly one partition, so while such a query
runs, ``all_items`` answers with that partition alone. Results, order, pagination and filters are moto's
own; only the candidate list is cut to what DynamoDB itself would read.

A query on a global secondary index sorts the whole table too; while one runs, ``all_items`` answers with the
items whose index key matches (one pass, no sort), which are the only ones moto keeps.

``Table.scan`` has the same cost per page, and walks the whole sorted table to find where the previous page
ended: a full parallel scan is quadratic. While a scan of the table itself runs, ``all_items`` answers with the
partitions of the requested scan segment (one hash per partition, as moto decides it) that sort after the
page's start key: exactly the items moto would have gone on to read.

Reading items back is the other cost: moto 5 serialises every response through a generic, shape-driven
serialiser that spends milliseconds per item. For the reads that return items (GetItem, BatchGetItem, Query,
Scan), DynamoDB's JSON protocol is the result dict itself, so it is written with ``json.dumps``; anything that
is not plain JSON (binary values come back as bytes) still goes through moto's serialiser.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

_state = threading.local()
_PLAIN_JSON_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
_applied = False


def apply() -> None:
    """Install the partition lookup once per process (idempotent)."""
    global _applied
    if _applied:
        return
    original_all_items = Table.all_items
    original_query = Table.query
    original_scan = Table.scan
    original_execute = DynamoResult.execute_result

    def all_items(self: Table) -> list[Any]:
        override = getattr(_state, "partition", None)
        if override is not None and override[0] is self:
            return list(override[1])
        return original_all_items(self)

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # index_name is the eighth parameter; moto's backend passes it positionally.
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name and kwargs.get("hash_key_conditions"):
            # An index query: the candidates are the items whose index key matches (moto sorts them itself).
            conditions = kwargs["hash_key_conditions"]
            _state.partition = (self, _index_candidates(self, conditions))
            try:
                return original_query(self, hash_key, *args, **kwargs)
            finally:
                _state.partition = None
        if index_name or not self.range_key_attr or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key, {})
        _state.partition = (self, list(partition.values()) if isinstance(partition, dict) else [partition])
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _state.partition = None

    def scan(self: Table, filters: Any, limit: Any, exclusive_start_key: Any, *args: Any, **kwargs: Any) -> Any:
        # index_name is the fifth parameter (after filter_expression); moto's backend passes it positionally.
        index_name = args[1] if len(args) > 1 else kwargs.get("index_name")
        if index_name or not self.range_key_attr:
            return original_scan(self, filters, limit, exclusive_start_key, *args, **kwargs)
        _state.partition = (self, _scan_candidates(self, exclusive_start_key, kwargs.get("segments", (None, None))))
        try:
            return original_scan(self, filters, limit, exclusive_start_key, *args, **kwargs)
        finally:
            _state.partition = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]

    def execute_result(self: DynamoResult, context: Any) -> Any:
        if context.operation_model.name in _PLAIN_JSON_READS:
            try:
                body = json.dumps(self.result)
            except (TypeError, ValueError):
                pass
            else:
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original_execute(self, context)

    Table.scan = scan  # type: ignore[method-assign]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign, assignment]
    _complete_s3_events()
    _fast_partiql_inserts()
    _applied = True


def _scan_candidates(table: Table, start: dict[str, Any] | None, segments: Any) -> list[Any]:
    """The items a scan page may return, in moto's order: in the segment, and after the start key."""
    start_hash = DynamoType(start[table.hash_key_attr]) if start else None
    start_range = DynamoType(start[table.range_key_attr]) if start and table.range_key_attr in start else None
    candidates: list[Any] = []
    for hash_value, partition in table.items.items():
        if start_hash is not None and hash_value < start_hash:
            continue
        items = list(partition.values())
        if not items or not items[0].is_within_segment(segments):
            continue
        if start_hash is not None and hash_value == start_hash and start_range is not None:
            items = [item for item in items if item.range_key > start_range]
        candidates.extend(items)
    return sorted(candidates, key=lambda x: (x.hash_key, x.range_key))


def _index_candidates(table: Table, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items whose index hash key attributes equal the query's (what moto filters the sorted table down to)."""
    out = []
    for partition in table.items.values():
        for item in partition.values() if isinstance(partition, dict) else [partition]:
            attrs = item.attrs
            if all(name in attrs and attrs[name] == value for name, value in conditions):
                out.append(item)
    return out


_INSERT = re.compile(r'\s*INSERT\s+INTO\s+"?([A-Za-z0-9_.-]+)"?\s+VALUE\s+\{(.*)\}\s*', re.S | re.I)
_VALUE_BODY = re.compile(r"\s*'[^']+'\s*:\s*\?\s*(?:,\s*'[^']+'\s*:\s*\?\s*)*")
_NAME = re.compile(r"'([^']+)'\s*:")


def _fast_partiql_inserts() -> None:
    """moto runs every PartiQL statement by copying *every table* into the parser (O(n) per statement), and
    its INSERT overwrites an existing item where DynamoDB refuses it with ``DuplicateItem``. A parameterised
    ``INSERT INTO "t" VALUE {'a': ?, ...}`` in ``BatchExecuteStatement`` is applied here as DynamoDB does
    it: a put on the condition that the key does not exist, one result per statement. Other statements go to
    moto unchanged."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.batch_execute_statement

    def batch_execute_statement(self: Any, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for statement in statements:
            match = _INSERT.fullmatch(statement["Statement"])
            parameters = statement.get("Parameters") or []
            names = _NAME.findall(match.group(2)) if match and _VALUE_BODY.fullmatch(match.group(2)) else []
            table = self.tables.get(match.group(1)) if match else None
            if table is None or not names or len(names) != len(parameters):
                out.extend(original(self, [statement]))
                continue
            item = dict(zip(names, parameters, strict=True))
            key = item.get(table.hash_key_attr)
            sort = item.get(table.range_key_attr) if table.range_key_attr else None
            if key is None or (table.range_key_attr and sort is None):
                out.extend(original(self, [statement]))
                continue
            # The existence check moto's condition parser would make, without parsing a condition per item.
            if table.get_item(DynamoType(key), DynamoType(sort) if sort is not None else None) is not None:
                out.append(
                    {
                        "TableName": table.name,
                        "Error": {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"},
                    }
                )
                continue
            table.put_item(item)
            out.append({"TableName": table.name})
        return out

    DynamoDBBackend.batch_execute_statement = batch_execute_statement  # type: ignore[method-assign]


def _complete_s3_events() -> None:
    """moto's S3 notification lacks two fields AWS sends: ``versionId`` (on a versioned bucket) and
    ``sequencer``. Importers key their work on the version, so the local event carries both, as in AWS."""
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = original(event_name, bucket, key, notification_id)
        for record in event["Records"]:
            obj = record["s3"]["object"]
            if getattr(bucket, "is_versioned", False) and getattr(key, "version_id", None):
                obj["versionId"] = key.version_id
            # Hex, growing with each change to the key, as S3's sequencer does (used to order events).
            obj["sequencer"] = format(int(key.last_modified.timestamp() * 1_000_000), "016X")
        return event

    notifications._get_s3_event = get_s3_event
