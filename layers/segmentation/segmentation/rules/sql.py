"""Compile rules to one SQL statement over columnar tables: the bulk evaluator's vectorised form.

The statement reads a ``customers`` table (a ``row`` number and one column per attribute facet used, see
:mod:`segmentation.rules.columnar`) and one ``events:<name>`` table per event kind used (``row``, ``seq``, the
order of the event in the customer's history, ``at`` and one column per property facet). It returns ``row``
and one non-null BOOLEAN per segment. The SQL is DuckDB's dialect; nothing here imports DuckDB.

**Exact agreement with the per-customer evaluator** rests on four choices:

* Two-valued leaves. SQL's NULL would make ``NOT (country = 'gb')`` unknown for a customer without a country,
  where the rule language says true. Rules are compiled in negation normal form: ``not`` is pushed down to the
  leaves, a positive leaf is left as plain SQL (a NULL there means false, as in a WHERE clause: with only AND and
  OR above it this cannot turn into a wrong true), and a negated leaf becomes ``(leaf) IS NOT TRUE``.
* Facets. Each leaf reads the facet its per-customer twin tests (casefolded text, a double, a boolean, a UTC
  instant, casefolded list elements, kind-tagged tokens for mixed-kind ``in``), so a value of the wrong kind is
  a null and the leaf false. Case-insensitivity is Python's full casefolding, done once when the value is
  encoded, and once for each operand here.
* The clock. Windows and date operands are resolved here with :class:`~segmentation.rules.evaluate.Clock`, the
  very code the per-customer evaluator uses, and written as UTC timestamp literals to the microsecond.
* Aggregates in order. A sum of floats depends on the order of the additions. ``sum`` and ``avg`` fold the
  values in the customer's event order (``list_sum`` over ``list(... ORDER BY seq)``), the order in which the
  per-customer evaluator adds them; ``min``, ``max`` and counts do not depend on order.

A rule that cannot be compiled exactly (an integer operand too large for a double, text that SQL cannot carry)
is reported in :attr:`SqlPlan.fallback` and left to the per-customer evaluator.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from segmentation.features.catalogue import EVENT_PROPERTIES, AttrType, lookup
from segmentation.rules.columnar import MAX_EXACT_INT, SQL_TYPES, Exceptional, Facet, column_name, token
from segmentation.rules.evaluate import Clock, number_test
from segmentation.rules.nodes import AttrLeaf, BehaviourLeaf, Comparison, Group, Node, SegmentRef

CUSTOMERS = "customers"
EVENT_TABLE_PREFIX = "events:"
_TIME_OPS = frozenset({"within_last_days", "more_than_days_ago", "before", "after"})
_ORDER_SQL = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class Unsupported(Exception):
    """A construct that this compiler cannot express exactly; the rule falls back to per-customer evaluation."""


def quote(identifier: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def text_literal(text: str) -> str:
    if "\x00" in text:
        raise Unsupported("a NUL character in a text operand")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Unsupported("a text operand that is not valid Unicode") from exc
    return "'" + text.replace("'", "''") + "'"


def number_literal(value: Any) -> str:
    if isinstance(value, int) and not -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
        raise Unsupported("an integer operand beyond 2**53")
    # repr round-trips a double exactly; DuckDB parses it back to the same double.
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def time_literal(instant: datetime) -> str:
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    return f"TIMESTAMP '{naive.isoformat(sep=' ', timespec='microseconds')}'"


def event_table(event: str) -> str:
    return EVENT_TABLE_PREFIX + event


def membership_column(segment_id: str) -> str:
    """The BOOLEAN column of ``customers`` holding the stored membership of a referenced segment."""
    return "@" + segment_id


@dataclass(frozen=True)
class Column:
    """One column a plan needs: ``source`` (an attribute or event property) encoded in ``facet``."""

    source: str
    type: AttrType
    facet: Facet

    @property
    def name(self) -> str:
        return column_name(self.source, self.type, self.facet)

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.facet]


@dataclass
class SqlPlan:
    """A compiled set of rules: the statement, the columns it reads, and the rules left to the per-customer path."""

    statement: str
    outputs: dict[str, str]  # segment id -> its BOOLEAN output column in the statement's result
    customer_columns: list[Column]
    event_columns: dict[str, list[Column]]  # event name -> its property columns (``row``, ``seq``, ``at`` implied)
    memberships: list[str]  # referenced segments read from stored membership columns
    fallback: dict[str, str] = field(default_factory=dict)  # segment id -> why it is evaluated per customer


class _Table:
    """The columns of one table that the compiled expressions read, in first-use order."""

    def __init__(self, alias: str | None, types: Mapping[str, AttrType] | None) -> None:
        self.alias = alias
        self.types = types  # event property types; ``None`` for the customers' catalogue attributes
        self.columns: dict[str, Column] = {}

    def ref(self, source: str, facet: Facet) -> str:
        if self.types is not None:
            type_ = self.types[source]
        else:
            entry = lookup(source)
            assert entry is not None, f"unknown attribute {source}"
            type_ = entry.type
        column = Column(source, type_, facet)
        self.columns.setdefault(column.name, column)
        name = quote(column.name)
        return f"{self.alias}.{name}" if self.alias else name


class _Aggregates:
    """The per-customer aggregates over one event kind: one GROUP BY whose columns every leaf shares."""

    def __init__(self, event: str, alias: str) -> None:
        self.event = event
        self.alias = alias
        self.table = _Table(None, EVENT_PROPERTIES[event])
        self.expressions: dict[str, str] = {}  # SQL aggregate -> column name
        self.starts: list[datetime | None] = []  # window starts of the leaves; None = no window

    def column(self, expression: str) -> str:
        name = self.expressions.get(expression)
        if name is None:
            name = self.expressions[expression] = f"a{len(self.expressions)}"
        return f"{self.alias}.{name}"

    def sql(self, now: datetime) -> str:
        columns = ", ".join(f"{expression} AS {name}" for expression, name in self.expressions.items())
        bounds = [f'"at" <= {time_literal(now)}']
        if self.starts and all(start is not None for start in self.starts):
            # Every leaf has a window: rows older than the widest one cannot matter.
            earliest = min(start for start in self.starts if start is not None)
            bounds.append(f'"at" >= {time_literal(earliest)}')
        # Identifiers are quoted and every literal escaped: nothing from a rule reaches the SQL unquoted.
        table = quote(event_table(self.event))
        return f'SELECT "row", {columns} FROM {table} WHERE {" AND ".join(bounds)} GROUP BY "row"'  # noqa: S608


def _is_time_operand(operand: Any) -> bool:
    # The same test as the per-customer compiler's: a date (or date-time) operand makes a time comparison.
    if isinstance(operand, tuple):
        return bool(operand) and all(isinstance(item, date) for item in operand)
    return isinstance(operand, date)


class _Compiler:
    def __init__(self, clock: Clock, stored: Set[str]) -> None:
        self.clock = clock
        self.stored = stored
        self.customers = _Table("c", None)
        self.aggregates: dict[str, _Aggregates] = {}
        self.memberships: dict[str, str] = {}

    # -- boolean structure ---------------------------------------------------------------------------------

    def node(self, node: Node, positive: bool, table: _Table) -> str:
        """SQL that is TRUE exactly when ``node``'s verdict is ``positive`` (and FALSE or NULL otherwise)."""
        if isinstance(node, Group):
            if node.kind == "not":
                return self.node(node.children[0], not positive, table)
            # De Morgan: a negated 'all' is an 'any' of negations, and the other way round.
            joiner = " AND " if (node.kind == "all") is positive else " OR "
            return "(" + joiner.join(self.node(child, positive, table) for child in node.children) + ")"
        if isinstance(node, SegmentRef):
            if node.segment_id in self.stored:
                column = self.memberships.setdefault(node.segment_id, membership_column(node.segment_id))
                name = f"c.{quote(column)}"
                return name if positive else f"(NOT {name})"
            # Evaluated inline at the same ``now``, as the per-customer evaluator does.
            return self.node(node.root, positive, table)
        if isinstance(node, BehaviourLeaf):
            expression, nullable = self.behaviour(node)
        else:
            expression, nullable = self.leaf(node, table)
        if positive:
            return expression
        return f"(({expression}) IS NOT TRUE)" if nullable else f"(NOT ({expression}))"

    # -- attribute and property leaves ---------------------------------------------------------------------

    def leaf(self, leaf: AttrLeaf, table: _Table) -> tuple[str, bool]:
        """The leaf as SQL that is TRUE when it holds, and whether that SQL can be NULL."""
        name, op, operand, kind = leaf.name, leaf.op, leaf.operand, leaf.type
        if op in ("exists", "not_exists"):
            present = table.ref(name, Facet.PRESENT)
            return (present if op == "exists" else f"NOT {present}"), False
        if kind in (AttrType.DATETIME, AttrType.DATE) or op in _TIME_OPS or _is_time_operand(operand):
            return self.time_leaf(table.ref(name, Facet.TIME), op, operand), True
        if kind is AttrType.STRING_LIST:
            return _list_leaf(table.ref(name, Facet.LIST), op, operand), True
        if kind is AttrType.ANY:
            if op in ("in", "not_in"):
                return _mixed_in(table.ref(name, Facet.TOKEN), table.ref(name, Facet.TOKENS), op, operand), True
            if op in ("contains", "not_contains"):
                text, items = table.ref(name, Facet.TEXT), table.ref(name, Facet.LIST)
                folded = text_literal(operand.casefold())
                if op == "contains":
                    return f"(contains({text}, {folded}) OR list_contains({items}, {folded}))", True
                return f"((NOT contains({text}, {folded})) OR (NOT list_contains({items}, {folded})))", True
            sample = operand[0] if op == "between" else operand
            if isinstance(sample, str):
                return _text_leaf(table.ref(name, Facet.TEXT), op, operand), True
            if isinstance(sample, bool):
                return _bool_leaf(table.ref(name, Facet.BOOL), op, operand), True
            return _number_leaf(table.ref(name, Facet.NUMBER), op, operand), True
        if kind is AttrType.STRING:
            return _text_leaf(table.ref(name, Facet.TEXT), op, operand), True
        if kind is AttrType.BOOLEAN:
            return _bool_leaf(table.ref(name, Facet.BOOL), op, operand), True
        return _number_leaf(table.ref(name, Facet.NUMBER), op, operand), True

    def time_leaf(self, column: str, op: str, operand: Any) -> str:
        clock = self.clock
        if op == "within_last_days":
            return f"({column} BETWEEN {time_literal(clock.start(operand))} AND {time_literal(clock.now)})"
        if op == "more_than_days_ago":
            return f"({column} < {time_literal(clock.start(operand))})"
        if op == "between":
            low, high = (clock.instant(item) for item in operand)
            return f"({column} BETWEEN {time_literal(low)} AND {time_literal(high)})"
        compare = {"before": "lt", "after": "gt"}.get(op, op)
        return f"({column} {_ORDER_SQL[compare]} {time_literal(clock.instant(operand))})"

    # -- behaviour -----------------------------------------------------------------------------------------

    def behaviour(self, leaf: BehaviourLeaf) -> tuple[str, bool]:
        aggregates = self.aggregates.get(leaf.event)
        if aggregates is None:
            aggregates = self.aggregates[leaf.event] = _Aggregates(leaf.event, f"e{len(self.aggregates)}")
        start = self.clock.start(leaf.within_last_days) if leaf.within_last_days is not None else None
        aggregates.starts.append(start)
        conditions = []
        if start is not None:
            conditions.append(f'"at" >= {time_literal(start)}')
        if leaf.where is not None:
            conditions.append(self.node(leaf.where, True, aggregates.table))
        matched = " AND ".join(conditions)
        parts: list[str] = []
        nullable = False
        if leaf.count is not None:
            counted = aggregates.column(f"count(*) FILTER (WHERE {matched})" if matched else "count(*)")
            test, can_be_null = _comparison(counted, leaf.count, missing_means=0)
            parts.append(test)
            nullable = nullable or can_be_null
        if leaf.aggregate is not None:
            assert leaf.prop is not None and leaf.aggregate_test is not None
            value = aggregates.table.ref(leaf.prop, Facet.NUMBER)
            numeric = f"{matched} AND {value} IS NOT NULL" if matched else f"{value} IS NOT NULL"
            in_order = f'list_sum(list({value} ORDER BY "seq") FILTER (WHERE {numeric}))'
            if leaf.aggregate == "sum":
                test, can_be_null = _comparison(aggregates.column(in_order), leaf.aggregate_test, missing_means=0)
            elif leaf.aggregate == "avg":
                average = aggregates.column(f"{in_order} / count({value}) FILTER (WHERE {numeric})")
                test, can_be_null = _comparison(average, leaf.aggregate_test, missing_means=None)
            else:
                extreme = aggregates.column(f"{leaf.aggregate}({value}) FILTER (WHERE {numeric})")
                test, can_be_null = _comparison(extreme, leaf.aggregate_test, missing_means=None)
            parts.append(test)
            nullable = nullable or can_be_null
        return "(" + " AND ".join(parts) + ")", nullable


def _comparison(column: str, comparison: Comparison, *, missing_means: int | None) -> tuple[str, bool]:
    """A count or aggregate test on an aggregate column that is NULL for customers without such events.

    ``missing_means`` is what the per-customer evaluator sees for them: 0 for a count or a sum, nothing (so the
    test is false) for an average, minimum or maximum.
    """
    op, operand = comparison.op, comparison.operand
    subject = column
    nullable = True
    if missing_means is not None and number_test(comparison)(missing_means):
        subject, nullable = f"coalesce({column}, 0)", False
    if op == "between":
        low, high = operand
        return f"({subject} BETWEEN {number_literal(low)} AND {number_literal(high)})", nullable
    return f"({subject} {_ORDER_SQL[op]} {number_literal(operand)})", nullable


def _text_leaf(column: str, op: str, operand: Any) -> str:
    if op in ("in", "not_in"):
        items = ", ".join(text_literal(item.casefold()) for item in operand)
        return f"({column} {'IN' if op == 'in' else 'NOT IN'} ({items}))"
    folded = text_literal(operand.casefold())
    if op == "eq":
        return f"({column} = {folded})"
    if op == "neq":
        return f"({column} <> {folded})"
    if op == "contains":
        return f"contains({column}, {folded})"
    if op == "not_contains":
        return f"(NOT contains({column}, {folded}))"
    if op == "starts_with":
        return f"starts_with({column}, {folded})"
    raise Unsupported(f"operator {op!r} on text")


def _number_leaf(column: str, op: str, operand: Any) -> str:
    if op == "between":
        low, high = operand
        return f"({column} BETWEEN {number_literal(low)} AND {number_literal(high)})"
    if op in ("in", "not_in"):
        items = ", ".join(number_literal(item) for item in operand)
        return f"({column} {'IN' if op == 'in' else 'NOT IN'} ({items}))"
    if op in _ORDER_SQL:
        return f"({column} {_ORDER_SQL[op]} {number_literal(operand)})"
    raise Unsupported(f"operator {op!r} on a number")


def _bool_leaf(column: str, op: str, operand: Any) -> str:
    if op == "eq":
        return f"({column} = {'true' if operand else 'false'})"
    if op == "neq":
        return f"({column} = {'false' if operand else 'true'})"
    if op in ("in", "not_in"):
        items = ", ".join("true" if item else "false" for item in operand)
        return f"({column} {'IN' if op == 'in' else 'NOT IN'} ({items}))"
    raise Unsupported(f"operator {op!r} on true/false")


def _list_leaf(column: str, op: str, operand: Any) -> str:
    # Some element matches for 'in' and 'contains'; none does for their negations (and the list must exist).
    if isinstance(operand, str):
        hit = f"list_contains({column}, {text_literal(operand.casefold())})"
    else:
        items = ", ".join(text_literal(item.casefold()) for item in operand)
        hit = f"list_has_any({column}, [{items}])"
    return hit if op in ("in", "contains") else f"(NOT {hit})"


def _mixed_in(scalar: str, items: str, op: str, operand: Any) -> str:
    try:
        tokens = [token(item) for item in operand]
    except Exceptional as exc:
        raise Unsupported(f"an operand of 'in' that cannot be encoded: {exc}") from exc
    listed = ", ".join(text_literal(item) for item in tokens if item is not None)
    if op == "in":
        return f"(({scalar} IN ({listed})) OR list_has_any({items}, [{listed}]))"
    return f"(({scalar} NOT IN ({listed})) OR (NOT list_has_any({items}, [{listed}])))"


def compile_rules(roots: Mapping[str, Node], clock: Clock, *, stored: Set[str] = frozenset()) -> SqlPlan:
    """Compile each segment's rule (by id) into one statement evaluated at ``clock``.

    A reference to a segment in ``stored`` reads that segment's stored membership (a column named by
    :func:`membership_column`); any other reference is expanded inline, evaluated at the same ``now``.
    """
    compiler = _Compiler(clock, stored)
    outputs: dict[str, str] = {}
    predicates: list[str] = []
    fallback: dict[str, str] = {}
    for segment_id, root in roots.items():
        # Compile into a scratch state first, so a rule that falls back leaves no columns behind.
        attempt = _Compiler(clock, stored)
        attempt.customers, attempt.aggregates, attempt.memberships = (
            _copy_table(compiler.customers),
            {event: _copy_aggregates(found) for event, found in compiler.aggregates.items()},
            dict(compiler.memberships),
        )
        try:
            predicate = attempt.node(root, True, attempt.customers)
        except Unsupported as exc:
            fallback[segment_id] = str(exc)
            continue
        compiler = attempt
        alias = f"s{len(outputs)}"
        outputs[segment_id] = alias
        predicates.append(f"coalesce({predicate}, false) AS {alias}")

    joins = "".join(
        f' LEFT JOIN {found.alias} ON {found.alias}."row" = c."row"' for found in compiler.aggregates.values()
    )
    ctes = ", ".join(f"{found.alias} AS ({found.sql(clock.now)})" for found in compiler.aggregates.values())
    selected = ", ".join(['c."row"', *predicates])
    prefix = f"WITH {ctes} " if ctes else ""
    statement = f"{prefix}SELECT {selected} FROM {CUSTOMERS} c{joins}"  # noqa: S608 - quoted and escaped
    return SqlPlan(
        statement=statement,
        outputs=outputs,
        customer_columns=list(compiler.customers.columns.values()),
        event_columns={event: list(found.table.columns.values()) for event, found in compiler.aggregates.items()},
        memberships=list(compiler.memberships),
        fallback=fallback,
    )


def _copy_table(table: _Table) -> _Table:
    copy = _Table(table.alias, table.types)
    copy.columns = dict(table.columns)
    return copy


def _copy_aggregates(found: _Aggregates) -> _Aggregates:
    copy = _Aggregates(found.event, found.alias)
    copy.table = _copy_table(found.table)
    copy.expressions = dict(found.expressions)
    copy.starts = list(found.starts)
    return copy
