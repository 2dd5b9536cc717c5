"""Validate a rule tree against the catalogue and turn it into typed nodes.

The parser never stops at the first problem: a marketer fixing a rule should see everything that is wrong
with it at once, each problem with the JSON path of the node at fault and, where we can guess, what they
probably meant.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from segmentation.features.catalogue import EVENT_PROPERTIES, AttrType, all_names, lookup
from segmentation.rules.issues import RuleIssue
from segmentation.rules.nodes import (
    RELATIVE_TIME_OPS,
    AttrLeaf,
    BehaviourLeaf,
    Comparison,
    Group,
    Node,
    SegmentRef,
)

SegmentLookup = Callable[[str], Mapping[str, Any] | None]
"""Returns the rule tree of the segment with the given id, or ``None`` when there is no such segment."""

OPERATORS: tuple[str, ...] = (
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "exists",
    "not_exists",
    "within_last_days",
    "more_than_days_ago",
    "before",
    "after",
)

_PRESENCE = frozenset({"exists", "not_exists"})
_ORDER = frozenset({"gt", "gte", "lt", "lte", "between"})
_TIME = frozenset({"before", "after"}) | RELATIVE_TIME_OPS

OPS_BY_TYPE: dict[AttrType, frozenset[str]] = {
    AttrType.STRING: frozenset({"eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with"}) | _PRESENCE,
    AttrType.NUMBER: frozenset({"eq", "neq", "in", "not_in"}) | _ORDER | _PRESENCE,
    AttrType.BOOLEAN: frozenset({"eq", "neq", "in", "not_in"}) | _PRESENCE,
    AttrType.DATETIME: frozenset({"eq", "neq"}) | _ORDER | _TIME | _PRESENCE,
    AttrType.DATE: frozenset({"eq", "neq"}) | _ORDER | _TIME | _PRESENCE,
    AttrType.STRING_LIST: frozenset({"in", "not_in", "contains", "not_contains"}) | _PRESENCE,
    AttrType.ANY: frozenset(OPERATORS),
}
"""Which operators apply to an attribute of each catalogue type."""

# Spellings from other tools (SQL, spreadsheets, other segment builders) and what they are called here.
_OP_SYNONYMS = {
    "=": "eq",
    "==": "eq",
    "equals": "eq",
    "equal": "eq",
    "is": "eq",
    "!=": "neq",
    "<>": "neq",
    "ne": "neq",
    "not_eq": "neq",
    "not_equals": "neq",
    ">": "gt",
    ">=": "gte",
    "ge": "gte",
    "<": "lt",
    "<=": "lte",
    "le": "lte",
    "one_of": "in",
    "any_of": "in",
    "none_of": "not_in",
    "includes": "contains",
    "has": "contains",
    "excludes": "not_contains",
    "startswith": "starts_with",
    "begins_with": "starts_with",
    "is_set": "exists",
    "present": "exists",
    "is_not_set": "not_exists",
    "missing": "not_exists",
    "in_last_days": "within_last_days",
    "older_than_days": "more_than_days_ago",
}

# What an author most likely meant when an operator does not fit the attribute's type.
_ALTERNATIVES: dict[tuple[AttrType, str], list[str]] = {
    (AttrType.STRING_LIST, "eq"): ["contains", "in"],
    (AttrType.STRING_LIST, "neq"): ["not_contains", "not_in"],
    (AttrType.STRING_LIST, "starts_with"): ["contains"],
    (AttrType.NUMBER, "before"): ["lt"],
    (AttrType.NUMBER, "after"): ["gt"],
    (AttrType.NUMBER, "contains"): ["eq", "in"],
    (AttrType.DATETIME, "in"): ["between"],
    (AttrType.DATE, "in"): ["between"],
}

COMPARISON_OPS: tuple[str, ...] = ("eq", "neq", "gt", "gte", "lt", "lte", "between")
"""Operators for a behaviour's ``count`` and for aggregates."""

AGGREGATES: tuple[str, ...] = ("sum", "avg", "min", "max")

MAX_DAYS = 36_500
"""Longest relative window, in days (a century): further back is not a window but a mistake."""

MAX_DEPTH = 32
"""Deepest nesting accepted, segment references included: deeper trees are mistakes, not segments."""

_KINDS = ("all", "any", "not", "attr", "event", "in_segment")
_ATTR_KEYS = ("attr", "op", "value")
_BEHAVIOUR_KEYS = ("event", "where", "within_last_days", "count", *AGGREGATES, "op", "value")
_COUNT_KEYS = ("op", "value")

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_NAIVE_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")

_TYPE_WORDS = {
    AttrType.STRING: "text",
    AttrType.NUMBER: "a number",
    AttrType.BOOLEAN: "true or false",
    AttrType.DATETIME: "a date-time",
    AttrType.DATE: "a date",
    AttrType.STRING_LIST: "a list of text values",
    AttrType.ANY: "a custom value",
}
_TIME_WORDS = "a date like 2026-01-31 or a date-time with an offset like 2026-01-31T09:00:00Z"


class _Invalid:
    """Marks an operand that failed validation (``None`` already means "no operand", for ``exists``)."""


_INVALID = _Invalid()

# The slack of the widest UTC offsets (-12:00 .. +14:00) when comparing a date with a date-time before a
# time zone is known.
_TZ_SLACK = timedelta(hours=14)


@dataclass
class Parsed:
    """The outcome of parsing: the typed root (when valid), its normalised JSON, and every issue found."""

    root: Node | None
    tree: dict[str, Any] | None
    issues: list[RuleIssue]


@dataclass
class _Shared:
    """State shared by the parsers of one rule and every segment it references."""

    lookup: SegmentLookup | None
    segments: dict[str, Node | list[RuleIssue]] = field(default_factory=dict)


def parse(tree: Any, *, segment_lookup: SegmentLookup | None = None, self_id: str | None = None) -> Parsed:
    """Validate ``tree`` and build its typed nodes; see :func:`segmentation.rules.parse_rule`."""
    shared = _Shared(segment_lookup)
    parser = _Parser(shared, stack=(self_id,) if self_id else ())
    root, normalised = parser.node(tree, "$", depth=0, props=None)
    if parser.issues:
        return Parsed(None, None, parser.issues)
    return Parsed(root, normalised, [])


def suggest_attributes(name: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` catalogue names close to ``name``, families (``custom.*``) included."""
    prefix = name.split(".", 1)[0]
    scored: list[tuple[float, str]] = []
    for candidate in all_names():
        score = difflib.SequenceMatcher(None, name, candidate).ratio()
        if candidate.endswith(".*"):
            # ``custm.tier`` should lead to ``custom.*``: compare the family with the part before the dot.
            family = candidate[:-2]
            score = max(score, difflib.SequenceMatcher(None, prefix, family).ratio())
            if "." in name and prefix == family:
                score = 1.0
        if score >= 0.6:
            scored.append((score, candidate))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [candidate for _, candidate in scored[:limit]]


def _close(word: Any, candidates: list[str] | tuple[str, ...], limit: int = 3) -> list[str]:
    if not isinstance(word, str):
        return []
    found = difflib.get_close_matches(word, list(candidates), n=limit, cutoff=0.6)
    # A truncated name ("within" for "within_last_days") is too short for difflib's ratio but clearly meant.
    if len(word) >= 3:
        found += [c for c in candidates if c.startswith(word) and c not in found]
    return found[:limit]


def _render(value: Any) -> str:
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _got(value: Any) -> str:
    return f"got {_render(value)} ({_json_kind(value)})"


def is_number(value: Any) -> bool:
    """JSON numbers only: booleans are not numbers here, and neither are NaN or infinities."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_time(value: Any) -> date | datetime | None:
    """An ISO date (``2026-01-31``) or an ISO date-time with an offset; ``None`` when ``value`` is neither."""
    if not isinstance(value, str):
        return None
    try:
        if _DATE_RE.match(value):
            parsed: date = date.fromisoformat(value)
        elif _DATETIME_RE.match(value):
            parsed = datetime.fromisoformat(value)
        else:
            return None
    except ValueError:
        return None
    # Years 1 and 9999 overflow once shifted into a time zone; no shop has customers there.
    return parsed if 1 < parsed.year < 9999 else None


def _time_bounds(value: date | datetime) -> tuple[datetime, datetime]:
    """The earliest and latest instant ``value`` can mean before the shop's time zone is known."""
    if isinstance(value, datetime):
        return value, value
    midnight = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return midnight - _TZ_SLACK, midnight + _TZ_SLACK


class _Parser:
    def __init__(self, shared: _Shared, stack: tuple[str, ...]) -> None:
        self.shared = shared
        self.stack = stack  # ids of the segments being parsed, outermost first: a repeat is a cycle
        self.issues: list[RuleIssue] = []

    def issue(self, path: str, message: str, suggestions: list[str] | None = None, code: str = "invalid") -> None:
        self.issues.append(RuleIssue(path, message, list(suggestions or []), code))

    # -- nodes ---------------------------------------------------------------------------------------------

    def node(
        self, raw: Any, path: str, *, depth: int, props: dict[str, AttrType] | None
    ) -> tuple[Node | None, dict[str, Any] | None]:
        """Parse one node. ``props`` is set inside a ``where`` clause: names are then event properties."""
        if depth > MAX_DEPTH:
            self.issue(path, f"the rule is nested more than {MAX_DEPTH} levels deep", code="too_deep")
            return None, None
        if not isinstance(raw, dict):
            self.issue(path, f"expected a condition object, {_got(raw)}", code="not_an_object")
            return None, None
        kinds = [key for key in _KINDS if key in raw]
        if not kinds:
            guesses = sorted({g for key in raw for g in _close(key, _KINDS)})
            listed = ", ".join(_KINDS)
            if not raw:
                self.issue(path, f"empty condition: expected one of {listed}", code="empty_group")
            else:
                self.issue(path, f"a condition needs one of {listed}", guesses, code="unknown_condition")
            return None, None
        if len(kinds) > 1:
            self.issue(
                path,
                f"a condition has exactly one of {', '.join(_KINDS)}; found {', '.join(kinds)}"
                " (combine several conditions with all or any)",
                code="ambiguous_condition",
            )
            return None, None
        kind = kinds[0]
        if kind in ("all", "any", "not"):
            return self.group(raw, kind, path, depth=depth, props=props)
        if kind == "attr":
            return self.attr_leaf(raw, path, props=props)
        if props is not None:
            what = "behaviour conditions" if kind == "event" else "segment references"
            self.issue(
                path,
                f"{what} are not allowed inside 'where': it filters one event by its properties",
                code="not_allowed_in_where",
            )
            return None, None
        if kind == "event":
            return self.behaviour_leaf(raw, path, depth=depth)
        return self.segment_ref(raw, path, depth=depth)

    def unknown_keys(self, raw: dict[Any, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in raw:
            if key not in allowed:
                self.issue(
                    _key_path(path, key),
                    f"unknown key {_render(key)}; allowed here: {', '.join(allowed)}",
                    _close(key, allowed),
                    code="unknown_key",
                )

    def group(
        self, raw: dict[str, Any], kind: str, path: str, *, depth: int, props: dict[str, AttrType] | None
    ) -> tuple[Node | None, dict[str, Any] | None]:
        self.unknown_keys(raw, path, (kind,))
        here = f"{path}.{kind}"
        body = raw[kind]
        if kind == "not":
            if isinstance(body, list):
                self.issue(
                    here,
                    '\'not\' takes one condition, not a list; wrap several in {"all": [...]} or {"any": [...]}',
                    code="not_takes_one",
                )
                return None, None
            if body == {}:
                self.issue(here, "empty 'not': it needs one condition", code="empty_group")
                return None, None
            child, child_tree = self.node(body, here, depth=depth + 1, props=props)
            if child is None or child_tree is None:
                return None, None
            return Group(path, kind, (child,)), {kind: child_tree}
        if not isinstance(body, list):
            self.issue(here, f"'{kind}' takes a list of conditions, {_got(body)}", code="not_a_list")
            return None, None
        if not body:
            self.issue(here, f"empty '{kind}' group: add at least one condition", code="empty_group")
            return None, None
        children: list[Node] = []
        trees: list[dict[str, Any]] = []
        ok = True
        for index, item in enumerate(body):
            child, child_tree = self.node(item, f"{here}[{index}]", depth=depth + 1, props=props)
            if child is None or child_tree is None:
                ok = False
            else:
                children.append(child)
                trees.append(child_tree)
        if not ok:
            return None, None
        return Group(path, kind, tuple(children)), {kind: trees}

    def attr_leaf(
        self, raw: dict[str, Any], path: str, *, props: dict[str, AttrType] | None
    ) -> tuple[Node | None, dict[str, Any] | None]:
        self.unknown_keys(raw, path, _ATTR_KEYS)
        errors_before = len(self.issues)
        name = raw["attr"]
        attr_type = self.resolve_name(name, f"{path}.attr", props)
        op = self.resolve_op(raw, path, attr_type, name)
        operand: Any = None
        if op is not None and attr_type is not None:
            operand = self.leaf_operand(raw, path, attr_type, op, str(name))
        if len(self.issues) > errors_before or attr_type is None or op is None:
            return None, None
        condition: dict[str, Any] = {"attr": name, "op": op}
        if op not in _PRESENCE:
            condition["value"] = _copy_json(raw["value"])
        entry = lookup(name) if props is None else None
        time_relative = op in RELATIVE_TIME_OPS or bool(entry and entry.time_relative)
        leaf = AttrLeaf(path, condition, name, attr_type, op, operand, time_relative, is_property=props is not None)
        return leaf, condition

    def resolve_name(self, name: Any, path: str, props: dict[str, AttrType] | None) -> AttrType | None:
        if not isinstance(name, str) or not name:
            self.issue(path, f"'attr' must name an attribute, {_got(name)}", code="bad_attribute")
            return None
        if props is not None:
            found = props.get(name)
            if found is None:
                self.issue(
                    path,
                    f"unknown event property {_render(name)}; this event has: {', '.join(props)}",
                    _close(name, tuple(props)),
                    code="unknown_property",
                )
            return found
        entry = lookup(name)
        if entry is None:
            if name.endswith(".*") or name.endswith("."):
                message = f"{_render(name)} is a family: name one member, e.g. custom.loyalty_tier"
            else:
                message = f"unknown attribute {_render(name)}"
            self.issue(path, message, suggest_attributes(name), code="unknown_attribute")
            return None
        return entry.type

    def resolve_op(self, raw: dict[str, Any], path: str, attr_type: AttrType | None, name: Any) -> str | None:
        if "op" not in raw:
            self.issue(f"{path}.op", "missing 'op'", code="missing_op")
            return None
        op = raw["op"]
        if not isinstance(op, str) or op not in OPERATORS:
            allowed = sorted(OPS_BY_TYPE[attr_type]) if attr_type is not None else list(OPERATORS)
            synonym = _OP_SYNONYMS.get(op.strip().lower()) if isinstance(op, str) else None
            guesses = [synonym] if synonym else _close(op, allowed)
            self.issue(f"{path}.op", f"unknown operator {_render(op)}", guesses, code="unknown_operator")
            return None
        if attr_type is not None and op not in OPS_BY_TYPE[attr_type]:
            allowed = [o for o in OPERATORS if o in OPS_BY_TYPE[attr_type]]
            self.issue(
                f"{path}.op",
                f"operator '{op}' does not apply to {_render(name)}, which is {_TYPE_WORDS[attr_type]}; "
                f"use one of: {', '.join(allowed)}",
                _ALTERNATIVES.get((attr_type, op)) or _close(op, allowed) or allowed[:3],
                code="operator_not_applicable",
            )
            return None
        return op

    def leaf_operand(self, raw: dict[str, Any], path: str, attr_type: AttrType, op: str, name: str) -> Any:
        here = f"{path}.value"
        if op in _PRESENCE:
            if "value" in raw:
                self.issue(here, f"'{op}' takes no value; remove 'value'", code="unexpected_value")
            return None
        if "value" not in raw:
            self.issue(here, f"missing 'value' for '{op}'", code="missing_value")
            return _INVALID
        return self.operand(raw["value"], here, attr_type, op, name)

    # -- operands ------------------------------------------------------------------------------------------

    def operand(self, value: Any, path: str, attr_type: AttrType, op: str, name: str) -> Any:
        """Check ``value`` against the operator and the attribute type; return it converted, or _INVALID."""
        subject = f"{_render(name)} is {_TYPE_WORDS[attr_type]}, so '{op}'"
        if op in RELATIVE_TIME_OPS:
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DAYS:
                return value
            hint = [value.strip()] if isinstance(value, str) and value.strip().isdigit() else []
            message = f"'{op}' needs a whole number of days from 0 to {MAX_DAYS}, {_got(value)}"
            self.issue(path, message, hint, code="bad_value")
            return _INVALID
        if op in ("before", "after"):
            return self.scalar(value, path, "time", f"'{op}'")
        if op == "between":
            return self.between(value, path, attr_type, subject)
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.issue(
                    path,
                    f"'{op}' needs a non-empty list of values, {_got(value)}",
                    [_render([value])] if isinstance(value, str | int | float) else [],
                    code="bad_value",
                )
                return _INVALID
            kind = _element_kind(attr_type)
            items = [self.scalar(item, f"{path}[{i}]", kind, subject) for i, item in enumerate(value)]
            return _INVALID if any(item is _INVALID for item in items) else tuple(items)
        if op in ("contains", "not_contains", "starts_with"):
            return self.scalar(value, path, "text", f"'{op}'")
        if op in ("eq", "neq"):
            return self.scalar(value, path, _eq_kind(attr_type), subject)
        # gt, gte, lt, lte
        return self.scalar(value, path, _order_kind(attr_type), subject)

    def between(self, value: Any, path: str, attr_type: AttrType, subject: str) -> Any:
        if not isinstance(value, list) or len(value) != 2:
            self.issue(path, f"'between' needs a list of two values [low, high], {_got(value)}", code="bad_value")
            return _INVALID
        kind = _order_kind(attr_type)
        lo = self.scalar(value[0], f"{path}[0]", kind, subject)
        hi = self.scalar(value[1], f"{path}[1]", kind, subject)
        if lo is _INVALID or hi is _INVALID:
            return _INVALID
        if is_number(lo) != is_number(hi):
            self.issue(path, "'between' needs two numbers or two dates, not one of each", code="bad_value")
            return _INVALID
        inverted = lo > hi if is_number(lo) else _time_bounds(lo)[0] > _time_bounds(hi)[1]
        if inverted:
            self.issue(
                path, f"'between' needs low <= high, got {_render(value)}", [_render(value[::-1])], code="bad_value"
            )
            return _INVALID
        return (lo, hi)

    def scalar(self, value: Any, path: str, kind: str, subject: str) -> Any:
        """One value of ``kind``: text, number, boolean, time, number_or_time or scalar (any of the first three)."""
        if kind == "text":
            if isinstance(value, str):
                return value
            self.issue(
                path,
                f"{subject} needs text, {_got(value)}",
                [_render(str(value))] if is_number(value) else [],
                code="bad_value",
            )
            return _INVALID
        if kind == "number":
            if is_number(value):
                return value
            self.issue(path, f"{subject} needs a number, {_got(value)}", _number_hint(value), code="bad_value")
            return _INVALID
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            hint = ["true"] if _truthy_text(value) is True else ["false"] if _truthy_text(value) is False else []
            self.issue(path, f"{subject} needs true or false, {_got(value)}", hint, code="bad_value")
            return _INVALID
        if kind == "time":
            parsed = parse_time(value)
            if parsed is not None:
                return parsed
            self.issue(path, f"{subject} needs {_TIME_WORDS}, {_got(value)}", _time_hint(value), code="bad_value")
            return _INVALID
        if kind == "number_or_time":
            if is_number(value):
                return value
            parsed = parse_time(value)
            if parsed is not None:
                return parsed
            self.issue(
                path,
                f"{subject} needs a number or {_TIME_WORDS}, {_got(value)}",
                _number_hint(value) or _time_hint(value),
                code="bad_value",
            )
            return _INVALID
        # scalar: text, a number or a boolean
        if isinstance(value, str | bool) or is_number(value):
            return value
        self.issue(path, f"{subject} needs text, a number or true/false, {_got(value)}", code="bad_value")
        return _INVALID

    # -- behaviour -----------------------------------------------------------------------------------------

    def behaviour_leaf(
        self, raw: dict[str, Any], path: str, *, depth: int
    ) -> tuple[Node | None, dict[str, Any] | None]:
        self.unknown_keys(raw, path, _BEHAVIOUR_KEYS)
        errors_before = len(self.issues)
        event = raw["event"]
        props: dict[str, AttrType] | None = None
        if not isinstance(event, str) or event not in EVENT_PROPERTIES:
            self.issue(
                f"{path}.event",
                f"unknown event {_render(event)}; known events: {', '.join(EVENT_PROPERTIES)}",
                _close(event, tuple(EVENT_PROPERTIES)),
                code="unknown_event",
            )
        else:
            props = EVENT_PROPERTIES[event]
        condition: dict[str, Any] = {"event": event}

        where: Node | None = None
        if "where" in raw and props is not None:
            where, where_tree = self.node(raw["where"], f"{path}.where", depth=depth + 1, props=props)
            condition["where"] = where_tree

        days: int | None = None
        if "within_last_days" in raw:
            value = raw["within_last_days"]
            if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DAYS:
                days = value
                condition["within_last_days"] = value
            else:
                self.issue(
                    f"{path}.within_last_days",
                    f"'within_last_days' needs a whole number of days from 1 to {MAX_DAYS}, {_got(value)}",
                    _number_hint(value),
                    code="bad_value",
                )

        count: Comparison | None = None
        if "count" in raw:
            count = self.count(raw["count"], f"{path}.count")
            if count is not None:
                condition["count"] = {"op": count.op, "value": _copy_json(raw["count"]["value"])}

        aggregates = [key for key in AGGREGATES if key in raw]
        aggregate: str | None = None
        prop: str | None = None
        test: Comparison | None = None
        if len(aggregates) > 1:
            self.issue(
                path,
                f"one aggregate per condition; found {', '.join(aggregates)} (combine several conditions with all)",
                code="several_aggregates",
            )
        elif aggregates:
            aggregate = aggregates[0]
            prop = self.aggregate_prop(raw[aggregate], f"{path}.{aggregate}", event, props)
            test = self.comparison(raw, path, f"the {aggregate} of {prop or 'a property'}", whole=False)
            if prop is not None and test is not None:
                condition[aggregate] = prop
                condition["op"] = test.op
                condition["value"] = _copy_json(raw["value"])
        elif "op" in raw or "value" in raw:
            self.issue(
                f"{path}.op" if "op" in raw else f"{path}.value",
                '\'op\' and \'value\' on a behaviour condition compare an aggregate: add "sum", "avg", "min" or '
                '"max" naming a numeric property, or count events with "count": {"op": ..., "value": ...}',
                code="compare_without_aggregate",
            )

        if len(self.issues) > errors_before or props is None:
            return None, None
        if count is None and aggregate is None:
            # No count and no aggregate means "did it at least once".
            count = Comparison("gte", 1)
            condition["count"] = {"op": "gte", "value": 1}
        assert isinstance(event, str)
        leaf = BehaviourLeaf(path, condition, event, where, days, count, aggregate, prop, test)
        return leaf, condition

    def count(self, raw: Any, path: str) -> Comparison | None:
        if not isinstance(raw, dict):
            self.issue(
                path, f'\'count\' needs an object like {{"op": "gte", "value": 3}}, {_got(raw)}', code="bad_count"
            )
            return None
        self.unknown_keys(raw, path, _COUNT_KEYS)
        return self.comparison(raw, path, "the count of events", whole=True)

    def comparison(self, raw: dict[str, Any], path: str, subject: str, *, whole: bool) -> Comparison | None:
        if "op" not in raw:
            self.issue(f"{path}.op", f"missing 'op' comparing {subject}", code="missing_op")
            return None
        op = raw["op"]
        if op not in COMPARISON_OPS:
            self.issue(
                f"{path}.op",
                f"operator {_render(op)} cannot compare {subject}; use one of: {', '.join(COMPARISON_OPS)}",
                _close(op, COMPARISON_OPS),
                code="unknown_operator",
            )
            return None
        if "value" not in raw:
            self.issue(f"{path}.value", f"missing 'value' comparing {subject}", code="missing_value")
            return None
        value = raw["value"]
        here = f"{path}.value"
        items = value if op == "between" and isinstance(value, list) and len(value) == 2 else [value]
        if op == "between" and items is not value:
            self.issue(here, f"'between' needs a list of two values [low, high], {_got(value)}", code="bad_value")
            return None
        ok = True
        for index, item in enumerate(items):
            item_path = f"{here}[{index}]" if op == "between" else here
            if whole and not (isinstance(item, int) and not isinstance(item, bool) and item >= 0):
                self.issue(
                    item_path,
                    f"{subject} is compared with whole numbers (0 or more), {_got(item)}",
                    _number_hint(item),
                    code="bad_value",
                )
                ok = False
            elif not whole and not is_number(item):
                self.issue(
                    item_path,
                    f"{subject} is compared with a number, {_got(item)}",
                    _number_hint(item),
                    code="bad_value",
                )
                ok = False
        if not ok:
            return None
        if op == "between":
            if items[0] > items[1]:
                self.issue(
                    here, f"'between' needs low <= high, got {_render(value)}", [_render(value[::-1])], code="bad_value"
                )
                return None
            return Comparison(op, (items[0], items[1]))
        return Comparison(op, value)

    def aggregate_prop(self, prop: Any, path: str, event: Any, props: dict[str, AttrType] | None) -> str | None:
        if props is None:
            return None  # the unknown event is already reported
        numeric = [name for name, kind in props.items() if kind is AttrType.NUMBER]
        if isinstance(prop, str) and props.get(prop) is AttrType.NUMBER:
            return prop
        known = isinstance(prop, str) and prop in props
        reason = "is not a numeric property" if known else "is not a property"
        listing = f"numeric properties: {', '.join(numeric)}" if numeric else "it has no numeric properties"
        self.issue(
            path,
            f"{_render(prop)} {reason} of {event}; {listing}",
            _close(prop, numeric) or numeric[:3],
            code="bad_aggregate",
        )
        return None

    # -- segment references --------------------------------------------------------------------------------

    def segment_ref(self, raw: dict[str, Any], path: str, *, depth: int) -> tuple[Node | None, dict[str, Any] | None]:
        self.unknown_keys(raw, path, ("in_segment",))
        here = f"{path}.in_segment"
        segment_id = raw["in_segment"]
        if not isinstance(segment_id, str) or not segment_id:
            self.issue(here, f"'in_segment' needs a segment id, {_got(segment_id)}", code="bad_segment")
            return None, None
        if segment_id in self.stack:
            cycle = [*self.stack[self.stack.index(segment_id) :], segment_id]
            self.issue(here, f"segment reference cycle: {' -> '.join(cycle)}", code="cycle")
            return None, None
        resolved = self.resolve_segment(segment_id, depth)
        if resolved is None:
            self.issue(here, f"unknown segment {_render(segment_id)}", code="unknown_segment")
            return None, None
        if isinstance(resolved, list):
            for sub in resolved:
                if sub.code == "cycle":
                    # A cycle further down is still this rule's cycle: report it here, naming the loop.
                    self.issue(here, sub.message, code="cycle")
                else:
                    self.issue(
                        here,
                        f"segment {_render(segment_id)} is invalid at {sub.path}: {sub.message}",
                        sub.suggestions,
                        code="invalid_segment",
                    )
            return None, None
        condition = {"in_segment": segment_id}
        return SegmentRef(path, condition, segment_id, resolved), condition

    def resolve_segment(self, segment_id: str, depth: int) -> Node | list[RuleIssue] | None:
        """The referenced segment's parsed root, its issues, or ``None`` when no such segment exists."""
        known = self.shared.segments.get(segment_id)
        if known is not None:
            return known
        tree = self.shared.lookup(segment_id) if self.shared.lookup is not None else None
        if tree is None:
            return None
        sub = _Parser(self.shared, (*self.stack, segment_id))
        root, _ = sub.node(tree, "$", depth=depth + 1, props=None)
        result: Node | list[RuleIssue] = sub.issues if sub.issues or root is None else root
        # Parsed once per id: a segment reached along several paths (a diamond) costs one parse.
        self.shared.segments[segment_id] = result
        return result


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _key_path(path: str, key: Any) -> str:
    # Keys that are not plain identifiers use the bracket form, so the path stays unambiguous.
    text = str(key)
    return f"{path}.{text}" if _IDENTIFIER.match(text) else f"{path}[{json.dumps(text)}]"


def _element_kind(attr_type: AttrType) -> str:
    if attr_type in (AttrType.STRING, AttrType.STRING_LIST):
        return "text"
    if attr_type is AttrType.NUMBER:
        return "number"
    if attr_type is AttrType.BOOLEAN:
        return "boolean"
    return "scalar"


def _eq_kind(attr_type: AttrType) -> str:
    return {
        AttrType.STRING: "text",
        AttrType.NUMBER: "number",
        AttrType.BOOLEAN: "boolean",
        AttrType.DATETIME: "time",
        AttrType.DATE: "time",
    }.get(attr_type, "scalar")


def _order_kind(attr_type: AttrType) -> str:
    if attr_type is AttrType.NUMBER:
        return "number"
    if attr_type in (AttrType.DATETIME, AttrType.DATE):
        return "time"
    return "number_or_time"


def _number_hint(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return []
        if math.isfinite(number):
            return [_render(int(number) if number.is_integer() else number)]
    return []


def _truthy_text(value: Any) -> bool | None:
    if isinstance(value, str) and value.strip().lower() in ("true", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no"):
        return False
    return None


def _time_hint(value: Any) -> list[str]:
    if isinstance(value, str) and _NAIVE_DATETIME_RE.match(value.strip()):
        # A time without an offset is ambiguous; UTC is the likeliest intent.
        return [value.strip().replace(" ", "T") + "Z"]
    return []


def _copy_json(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_copy_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    return value
