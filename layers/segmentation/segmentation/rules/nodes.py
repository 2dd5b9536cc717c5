"""The validated, typed form of a rule tree: what the parser produces and the evaluators consume.

Operands are already converted: numbers stay numbers, ISO dates become ``date``, ISO date-times with an
offset become aware ``datetime``, lists become tuples and ``between`` bounds a ``(lo, hi)`` pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from segmentation.features.catalogue import AttrType

RELATIVE_TIME_OPS = frozenset({"within_last_days", "more_than_days_ago"})


@dataclass(frozen=True)
class Group:
    path: str
    kind: str  # "all", "any" or "not" (a "not" has exactly one child)
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AttrLeaf:
    """A condition on one value: a catalogue attribute, or an event property inside ``where``."""

    path: str
    condition: dict[str, Any]
    name: str
    type: AttrType
    op: str
    operand: Any
    time_relative: bool
    is_property: bool = False  # an event property in a ``where`` clause, not a catalogue attribute


@dataclass(frozen=True)
class Comparison:
    """A numeric test on a behaviour's count or aggregate."""

    op: str
    operand: Any


@dataclass(frozen=True)
class BehaviourLeaf:
    path: str
    condition: dict[str, Any]
    event: str
    where: Node | None
    within_last_days: int | None
    count: Comparison | None
    aggregate: str | None  # "sum", "avg", "min" or "max"
    prop: str | None  # the numeric event property aggregated
    aggregate_test: Comparison | None


@dataclass(frozen=True)
class SegmentRef:
    path: str
    condition: dict[str, Any]
    segment_id: str
    root: Node  # the referenced segment's own rule, evaluated inline at the same ``now``


Node: TypeAlias = Group | AttrLeaf | BehaviourLeaf | SegmentRef


def walk(node: Node, *, through_segments: bool = True) -> list[Node]:
    """Every node under ``node`` (itself included), optionally following segment references."""
    seen: list[Node] = []
    followed: set[str] = set()  # a segment reached twice (a diamond) is walked once
    stack = [node]
    while stack:
        current = stack.pop()
        seen.append(current)
        if isinstance(current, Group):
            stack.extend(current.children)
        elif isinstance(current, BehaviourLeaf) and current.where is not None:
            stack.append(current.where)
        elif isinstance(current, SegmentRef) and through_segments and current.segment_id not in followed:
            followed.add(current.segment_id)
            stack.append(current.root)
    return seen
