"""Why a customer is (or is not) in a segment: the rule tree again, each node with its verdict and the facts.

Verdicts come from the same compiled leaves the evaluator uses, so an explanation can never disagree with
the membership it explains. Groups evaluate every child (no short-circuit) so the whole picture is shown.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from segmentation.rules.evaluate import (
    Attributes,
    Clock,
    Compiled,
    Events,
    compile_behaviour,
    compile_leaf,
    compile_node,
    measure,
)
from segmentation.rules.nodes import AttrLeaf, BehaviourLeaf, Group, Node, SegmentRef


def explain_node(node: Node, attributes: Attributes, events: Events, clock: Clock) -> dict[str, Any]:
    """The explanation tree for ``node``: ``path`` and ``verdict`` everywhere, ``condition`` and ``actual``
    on leaves, the children under the group's own key (``all``, ``any``, ``not``)."""
    if isinstance(node, Group):
        children = [explain_node(child, attributes, events, clock) for child in node.children]
        verdicts = [child["verdict"] for child in children]
        if node.kind == "all":
            verdict = all(verdicts)
        elif node.kind == "any":
            verdict = any(verdicts)
        else:
            verdict = not verdicts[0]
        body: Any = children[0] if node.kind == "not" else children
        return {"path": node.path, "verdict": verdict, node.kind: body}
    if isinstance(node, AttrLeaf):
        verdict = compile_leaf(node).bind(clock)(attributes, events)
        return {
            "path": node.path,
            "verdict": verdict,
            "condition": node.condition,
            "actual": to_json(attributes.get(node.name)),
        }
    if isinstance(node, BehaviourLeaf):
        where: Compiled | None = compile_node(node.where) if node.where is not None else None
        verdict = compile_behaviour(node, where).bind(clock)(attributes, events)
        count, aggregate = measure(node, where.bind(clock) if where is not None else None, clock, events)
        actual = {"count": count}
        if node.aggregate is not None:
            actual[node.aggregate] = to_json(aggregate)
        if node.within_last_days is not None:
            actual["since"] = to_json(clock.start(node.within_last_days))
        return {"path": node.path, "verdict": verdict, "condition": node.condition, "actual": actual}
    assert isinstance(node, SegmentRef)
    inner = explain_node(node.root, attributes, events, clock)
    return {
        "path": node.path,
        "verdict": inner["verdict"],
        "condition": node.condition,
        "actual": inner["verdict"],
        "segment": {"id": node.segment_id, "explanation": inner},
    }


def to_json(value: Any) -> Any:
    """``value`` in a JSON-serialisable shape: instants and dates as ISO strings, sets as sorted lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted((to_json(item) for item in value), key=str)
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    return str(value)
