"""The compiled rule: what it depends on, and how it evaluates and explains a customer at an explicit ``now``."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from segmentation.features.catalogue import is_model_attribute
from segmentation.features.compute import CustomerView
from segmentation.rules.evaluate import Clock, Pred, compile_node
from segmentation.rules.explain import explain_node
from segmentation.rules.issues import RuleIssue, RuleValidationError
from segmentation.rules.nodes import AttrLeaf, BehaviourLeaf, Node, SegmentRef, walk
from segmentation.rules.parse import SegmentLookup, parse


def _unbound(attributes: Any, events: Any) -> bool:
    raise RuntimeError("rule used before it was bound to a clock")


class Rule:
    """A validated segment rule, compiled once. Build one with :func:`parse_rule`.

    Immutable: the dependency sets are frozen and ``tree`` hands out a copy. The only state that changes is a
    private cache of the rule bound to the last ``(now, tz)`` it saw, which keeps bulk evaluation (one
    ``now`` for every customer) free of per-call set-up.
    """

    __slots__ = (
        "_attributes",
        "_binder",
        "_bound",
        "_events",
        "_root",
        "_segments",
        "_static",
        "_time_relative",
        "_tree",
    )

    _tree: dict[str, Any]
    _root: Node
    _static: Pred | None
    _binder: Callable[[Clock], Pred]
    _bound: tuple[datetime | None, ZoneInfo | tzinfo | None, Pred]
    _attributes: frozenset[str]
    _events: frozenset[str]
    _segments: frozenset[str]
    _time_relative: bool

    def __init__(self, root: Node, tree: dict[str, Any]) -> None:
        compiled = compile_node(root)
        nodes = walk(root)
        setter = object.__setattr__
        setter(self, "_tree", tree)
        setter(self, "_root", root)
        setter(self, "_static", compiled.static)
        setter(self, "_binder", compiled.binder)
        setter(self, "_bound", (None, None, _unbound))
        setter(self, "_attributes", frozenset(n.name for n in nodes if isinstance(n, AttrLeaf) and not n.is_property))
        setter(self, "_events", frozenset(n.event for n in nodes if isinstance(n, BehaviourLeaf)))
        setter(self, "_segments", frozenset(n.segment_id for n in nodes if isinstance(n, SegmentRef)))
        setter(
            self,
            "_time_relative",
            any(
                (isinstance(n, AttrLeaf) and n.time_relative)
                or (isinstance(n, BehaviourLeaf) and n.within_last_days is not None)
                for n in nodes
            ),
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Rule is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Rule is immutable")

    def __repr__(self) -> str:
        return f"Rule({self._tree!r})"

    @property
    def tree(self) -> dict[str, Any]:
        """The normalised JSON tree (defaults such as a behaviour's ``count`` made explicit)."""
        return copy.deepcopy(self._tree)

    @property
    def root(self) -> Node:
        """The typed, validated tree (immutable nodes), for other compilers and analyses of the same rule (SQL,
        when time can change the verdict)."""
        return self._root

    @property
    def attributes(self) -> frozenset[str]:
        """Catalogue attribute names the rule reads, including through referenced segments."""
        return self._attributes

    @property
    def events(self) -> frozenset[str]:
        """Event names the rule's behaviour conditions count, including through referenced segments."""
        return self._events

    @property
    def segments(self) -> frozenset[str]:
        """Ids of the segments referenced, directly or through other segments."""
        return self._segments

    @property
    def time_relative(self) -> bool:
        """Whether membership can change with the mere passage of time (relative operators, windows,
        time-relative attributes such as ``days_since_last_order``)."""
        return self._time_relative

    @property
    def uses_model(self) -> bool:
        """Whether the rule reads a model attribute (``rfm.*``, ``predicted.*``, ``cluster.*``, ...): its
        membership can change when a new model is published, and its explanations name the model version."""
        return any(is_model_attribute(name) for name in self._attributes)

    def depends_on(self, changed_attributes: Iterable[str], changed_events: Iterable[str]) -> bool:
        """Whether a change to these attributes or events can change the rule's verdict for a customer.

        A family name (``custom.*``) in ``changed_attributes`` stands for every member of the family.
        """
        if not self._events.isdisjoint(changed_events):
            return True
        for name in changed_attributes:
            if name in self._attributes:
                return True
            if name.endswith(".*"):
                prefix = name[:-1]
                if any(used.startswith(prefix) for used in self._attributes):
                    return True
        return False

    def predicate(self, now: datetime, tz: ZoneInfo | tzinfo) -> Callable[[CustomerView], bool]:
        """The rule bound to ``now`` and ``tz``: the fastest way to test many customers at one instant."""
        pred = self._bind(now, tz)
        return lambda view: pred(view.attributes, view.events)

    def evaluate(self, view: CustomerView, now: datetime, tz: ZoneInfo | tzinfo) -> bool:
        """Whether the customer matches the rule at ``now`` (timezone-aware), in the shop's time zone ``tz``."""
        pred = self._static
        if pred is None:
            bound = self._bound
            pred = bound[2] if bound[0] is now and bound[1] is tz else self._bind(now, tz)
        return pred(view.attributes, view.events)

    def explain(self, view: CustomerView, now: datetime, tz: ZoneInfo | tzinfo) -> dict[str, Any]:
        """The rule tree with each node's ``path`` and ``verdict``, and each leaf's ``condition`` and ``actual``
        value (the attribute's value; for behaviour, the matched ``count`` and the aggregate)."""
        return explain_node(self._root, view.attributes, view.events, Clock(now, tz))

    def _bind(self, now: datetime, tz: ZoneInfo | tzinfo) -> Pred:
        if self._static is not None:
            return self._static
        bound = self._bound
        # The same instant in another object reuses the binding (and the new object is remembered).
        same = bound[0] is not None and bound[1] == tz and bound[0] == now
        pred = bound[2] if same else self._binder(Clock(now, tz))
        # One tuple, swapped in one store: a concurrent reader sees the old or the new binding, never a mix.
        object.__setattr__(self, "_bound", (now, tz, pred))
        return pred


def parse_rule(tree: Any, *, segment_lookup: SegmentLookup | None = None, self_id: str | None = None) -> Rule:
    """Validate and compile a rule tree.

    ``segment_lookup(id)`` returns the rule tree of a referenced segment (or ``None`` if there is no such
    segment); referenced rules are compiled recursively and evaluated inline. ``self_id`` is the id of the
    segment being defined, so a reference back to it is caught as a cycle.

    Raises :class:`RuleValidationError` carrying every issue found.
    """
    parsed = parse(tree, segment_lookup=segment_lookup, self_id=self_id)
    if parsed.issues or parsed.root is None or parsed.tree is None:
        raise RuleValidationError(parsed.issues)
    return Rule(parsed.root, parsed.tree)


def validate_rule(
    tree: Any, *, segment_lookup: SegmentLookup | None = None, self_id: str | None = None
) -> list[RuleIssue]:
    """Every issue in ``tree`` (an empty list when the rule is valid); see :func:`parse_rule`."""
    return parse(tree, segment_lookup=segment_lookup, self_id=self_id).issues
