"""Evaluate many segments over a shard of customers at once: every rule compiled into one DuckDB statement.

    evaluator = BulkEvaluator(rules, now, tz)
    members = evaluator.evaluate(views)             # segment id -> ids of the matching customers

The views are encoded column by column into in-memory DuckDB tables (one column per attribute facet a rule
reads, one table per event kind; see ``segmentation.rules.columnar``), in chunks, so ``views`` may be a
generator and a large shard never has to sit in memory as Python objects. The rules are compiled by
``segmentation.rules.sql`` into one statement that returns every segment's verdict for every customer.

The result agrees exactly with ``Rule.evaluate`` for every customer. Two escape hatches keep it exact:

* a rule the SQL compiler cannot express exactly (``SqlPlan.fallback``) is evaluated per customer, for
  every customer, while the views stream past;
* a customer with a value the columns cannot represent faithfully (a NaN, an integer beyond 2**53, text that
  is not valid Unicode, an event time without an offset, ...) is decided per customer for every rule.

Segment references: a reference to a segment that is not in ``rules`` but has an entry in ``memberships``
reads that stored membership; every other reference is evaluated inline, at the same ``now``, from the rule
embedded in the referencing rule, exactly as ``Rule.evaluate`` does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np

from segmentation.features.compute import CustomerView
from segmentation.rules import Rule
from segmentation.rules.columnar import Facet, encode_column, encode_event_times
from segmentation.rules.evaluate import Clock, Compiled, Pred, compile_node
from segmentation.rules.nodes import SegmentRef, walk
from segmentation.rules.sql import CUSTOMERS, Column, SqlPlan, compile_rules, event_table, membership_column, quote

CHUNK = 8192
"""Views encoded at a time: large enough for fast column-wise encoding, small enough to bound memory."""

_SOURCE = "_chunk"
_database: duckdb.DuckDBPyConnection | None = None
_schemas = itertools.count()


def _connect() -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection to the process's in-memory database, working in a schema of its own.

    Opening a database costs tens of milliseconds; a warm container (or a test run) evaluating many shards
    opens it once, and each shard's tables live in their own schema, dropped with the shard.
    """
    global _database
    if _database is None:
        _database = duckdb.connect()
    connection = _database.cursor()
    schema = f"shard_{next(_schemas)}"
    connection.execute(f"CREATE SCHEMA {schema}")
    connection.execute(f"SET schema = '{schema}'")
    return connection, schema


class _Current:
    """The customer being evaluated per customer, for predicates that read a stored membership by id."""

    __slots__ = ("id",)

    def __init__(self) -> None:
        self.id = ""


@dataclass
class Shard:
    """A shard loaded into DuckDB, plus what was decided per customer while loading it."""

    connection: duckdb.DuckDBPyConnection
    schema: str
    plan: SqlPlan
    ids: list[str] = field(default_factory=list)
    exceptional: list[int] = field(default_factory=list)  # rows decided per customer for every rule
    decided: dict[str, set[str]] = field(default_factory=dict)  # per-customer verdicts: those rows, fallback rules

    def close(self) -> None:
        """Drop the shard's tables and close its connection."""
        self.connection.execute(f"DROP SCHEMA {self.schema} CASCADE")
        self.connection.close()


class BulkEvaluator:
    """Evaluates ``rules`` (segment id -> rule) at ``now`` in the shop's time zone ``tz``, for many customers."""

    def __init__(self, rules: Mapping[str, Rule], now: datetime, tz: ZoneInfo) -> None:
        self._rules = dict(rules)
        self._tz = tz
        self._clock = Clock(now, tz)
        self._referenced = frozenset(
            node.segment_id for rule in self._rules.values() for node in walk(rule.root) if isinstance(node, SegmentRef)
        )
        self._plans: dict[frozenset[str], SqlPlan] = {}

    def plan(self, stored: Set[str] = frozenset()) -> SqlPlan:
        """The compiled statement, when the references to the segments in ``stored`` read stored membership."""
        key = frozenset(stored)
        found = self._plans.get(key)
        if found is None:
            roots = {segment_id: rule.root for segment_id, rule in self._rules.items()}
            found = self._plans[key] = compile_rules(roots, self._clock, stored=key)
        return found

    def stored_references(self, memberships: Mapping[str, Set[str]] | None) -> frozenset[str]:
        """The referenced segments that will read ``memberships``: those given there and not in ``rules``."""
        if not memberships:
            return frozenset()
        return frozenset(s for s in self._referenced if s not in self._rules and s in memberships)

    def evaluate(
        self, views: Iterable[CustomerView], *, memberships: Mapping[str, Set[str]] | None = None
    ) -> dict[str, set[str]]:
        """segment id -> ids of the customers among ``views`` who match its rule.

        ``views`` may be any iterable, a generator included. ``memberships`` (segment id -> member ids) is
        the stored membership of segments referenced with ``in_segment`` but not evaluated here; a reference
        to a segment in neither ``rules`` nor ``memberships`` is evaluated inline from its rule.
        """
        shard = self.load(views, memberships=memberships)
        try:
            return self.run(shard)
        finally:
            shard.close()

    # -- the two phases, separately, for callers that time them -------------------------------------------

    def load(self, views: Iterable[CustomerView], *, memberships: Mapping[str, Set[str]] | None = None) -> Shard:
        """Encode ``views`` into DuckDB tables; decide fallback rules and exceptional customers per customer."""
        stored = self.stored_references(memberships)
        plan = self.plan(stored)
        shard = open_shard(plan, self._rules)
        try:
            current = _Current()
            predicates = self._predicates(stored, memberships or {}, current)
            fallback = [(segment_id, predicates[segment_id]) for segment_id in plan.fallback]
            seq = 0
            for chunk in _chunks(views, CHUNK):
                base = len(shard.ids)
                ids = [view.customer_id for view in chunk]
                shard.ids.extend(ids)
                exceptional = self._load_customers(shard, plan, chunk, ids, base, memberships or {})
                for event, columns in plan.event_columns.items():
                    seq, bad = self._load_events(shard.connection, event, columns, chunk, base, seq)
                    exceptional.update(bad)
                for position in sorted(exceptional):
                    view = chunk[position]
                    current.id = view.customer_id
                    shard.exceptional.append(base + position)
                    for segment_id, predicate in predicates.items():
                        if segment_id not in plan.fallback and predicate(view.attributes, view.events):
                            shard.decided[segment_id].add(view.customer_id)
                for segment_id, predicate in fallback:
                    members = shard.decided[segment_id]
                    for view in chunk:
                        current.id = view.customer_id
                        if predicate(view.attributes, view.events):
                            members.add(view.customer_id)
        except BaseException:
            shard.close()  # a warm container keeps the database: drop what this shard created
            raise
        return shard

    def run(self, shard: Shard) -> dict[str, set[str]]:
        """Run the compiled statement over a loaded shard and combine it with the per-customer verdicts."""
        plan = shard.plan
        result = {segment_id: set(found) for segment_id, found in shard.decided.items()}
        if not plan.outputs or not shard.ids:
            return result
        columns = shard.connection.execute(plan.statement).fetchnumpy()
        rows = np.asarray(columns["row"])
        keep = np.ones(len(rows), dtype=bool)
        if shard.exceptional:
            decided_here = np.zeros(len(shard.ids), dtype=bool)
            decided_here[shard.exceptional] = True
            keep = ~decided_here[rows]
        ids = np.fromiter(shard.ids, dtype=object, count=len(shard.ids))
        for segment_id, alias in plan.outputs.items():
            matched = rows[np.asarray(columns[alias], dtype=bool) & keep]
            result[segment_id].update(ids[matched].tolist())
        return result

    # -- loading ---------------------------------------------------------------------------------------------

    def _load_customers(
        self,
        shard: Shard,
        plan: SqlPlan,
        chunk: Sequence[CustomerView],
        ids: list[str],
        base: int,
        memberships: Mapping[str, Set[str]],
    ) -> set[int]:
        exceptional: set[int] = set()
        arrays: dict[str, np.ndarray[Any, Any]] = {"row": np.arange(base, base + len(chunk), dtype=np.int32)}
        attributes = [view.attributes for view in chunk]
        raw: dict[str, list[Any]] = {}
        for column in plan.customer_columns:
            values = raw.get(column.source)
            if values is None:
                values = raw[column.source] = [found.get(column.source) for found in attributes]
            encoded, bad = encode_column(values, column.facet, self._tz)
            exceptional.update(bad)
            arrays[column.name] = to_array(encoded, column.facet)
        for segment_id in plan.memberships:
            members = memberships[segment_id]
            arrays[membership_column(segment_id)] = np.fromiter((i in members for i in ids), dtype=bool, count=len(ids))
        insert(shard.connection, CUSTOMERS, arrays, customer_schema(plan))
        return exceptional

    def _load_events(
        self,
        connection: duckdb.DuckDBPyConnection,
        event: str,
        columns: list[Column],
        chunk: Sequence[CustomerView],
        base: int,
        seq: int,
    ) -> tuple[int, set[int]]:
        histories = [(view.events or {}).get(event) or () for view in chunk]
        counts = np.fromiter((len(found) for found in histories), dtype=np.int64, count=len(histories))
        facts = [fact for found in histories for fact in found]
        if not facts:
            return seq, set()
        owners = np.repeat(np.arange(len(chunk), dtype=np.int32), counts)
        times, bad_times = encode_event_times([fact.at for fact in facts], self._tz)
        bad = set(bad_times)
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "row": owners + np.int32(base),
            "seq": np.arange(seq, seq + len(facts), dtype=np.int64),
            "at": to_array(times, Facet.TIME),
        }
        raw: dict[str, list[Any]] = {}
        for column in columns:
            values = raw.get(column.source)
            if values is None:
                values = raw[column.source] = [fact.props.get(column.source) for fact in facts]
            encoded, positions = encode_column(values, column.facet, self._tz, event=True)
            bad.update(positions)
            arrays[column.name] = to_array(encoded, column.facet)
        insert(connection, event_table(event), arrays, event_schema(columns))
        return seq + len(facts), {int(owners[position]) for position in bad}

    def _predicates(
        self, stored: frozenset[str], memberships: Mapping[str, Set[str]], current: _Current
    ) -> dict[str, Pred]:
        """Per-customer predicates, compiled by the per-customer compiler itself, with stored references."""
        memo = {segment_id: _stored_membership(memberships[segment_id], current) for segment_id in stored}
        return {segment_id: compile_node(rule.root, memo).bind(self._clock) for segment_id, rule in self._rules.items()}


def _stored_membership(members: Set[str], current: _Current) -> Compiled:
    def is_member(attributes: Any, events: Any) -> bool:
        return current.id in members

    return Compiled(is_member, lambda clock: is_member, 1)


def open_shard(plan: SqlPlan, segment_ids: Iterable[str]) -> Shard:
    """An empty shard: its own schema in the process's database, with the tables ``plan`` reads.

    ``BulkEvaluator.load`` fills it from views; a caller with columnar data at hand (a benchmark, a future
    export reader) can ``insert`` numpy columns into it directly and then ``BulkEvaluator.run`` it.
    """
    connection, schema = _connect()
    shard = Shard(connection, schema, plan, decided={segment_id: set() for segment_id in segment_ids})
    try:
        create_tables(connection, plan)
    except BaseException:
        shard.close()
        raise
    return shard


# -- tables ------------------------------------------------------------------------------------------------


def customer_schema(plan: SqlPlan) -> list[tuple[str, str]]:
    """(column, SQL type) of the ``customers`` table a plan reads."""
    return [
        ("row", "INTEGER"),
        *((column.name, column.sql_type) for column in plan.customer_columns),
        *((membership_column(segment_id), "BOOLEAN") for segment_id in plan.memberships),
    ]


def event_schema(columns: Sequence[Column]) -> list[tuple[str, str]]:
    """(column, SQL type) of one event table."""
    return [
        ("row", "INTEGER"),
        ("seq", "BIGINT"),
        ("at", "TIMESTAMP"),
        *((column.name, column.sql_type) for column in columns),
    ]


def create_tables(connection: duckdb.DuckDBPyConnection, plan: SqlPlan) -> None:
    """Create the empty tables a plan reads."""
    schemas = {CUSTOMERS: customer_schema(plan)}
    schemas.update({event_table(event): event_schema(columns) for event, columns in plan.event_columns.items()})
    for table, schema in schemas.items():
        listed = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in schema)
        connection.execute(f"CREATE TABLE {quote(table)} ({listed})")


def insert(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    arrays: Mapping[str, np.ndarray[Any, Any]],
    schema: Sequence[tuple[str, str]],
) -> None:
    """Append numpy columns (one per schema entry, by name) to ``table``, cast to the schema's types."""
    connection.register(_SOURCE, dict(arrays))
    try:
        selected = ", ".join(f"CAST({quote(name)} AS {sql_type})" for name, sql_type in schema)
        connection.execute(f"INSERT INTO {quote(table)} SELECT {selected} FROM {_SOURCE}")  # noqa: S608 - quoted
    finally:
        connection.unregister(_SOURCE)


def to_array(encoded: list[Any], facet: Facet) -> np.ndarray[Any, Any]:
    """Encoded values (see ``segmentation.rules.columnar``) as the numpy array DuckDB reads for the facet."""
    if facet is Facet.NUMBER:
        return np.array(encoded, dtype=np.float64)  # None becomes NaN, which DuckDB reads as NULL
    if facet is Facet.TIME:
        return np.array(encoded, dtype=np.int64).view("datetime64[us]")  # MISSING_TIME is NaT, read as NULL
    if facet is Facet.PRESENT:
        return np.array(encoded, dtype=bool)
    # Text, booleans with nulls and lists: Python objects (fromiter keeps equal-length lists one-dimensional).
    return np.fromiter(encoded, dtype=object, count=len(encoded))


def _chunks(views: Iterable[CustomerView], size: int) -> Iterator[list[CustomerView]]:
    iterator = iter(views)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
