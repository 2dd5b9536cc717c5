"""Evaluates many customers against several segment rules at one ``now``.

This version loops over the customers with each rule's own evaluator, so it agrees with real time by
construction; a vectorised evaluator with the same interface takes its place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from segmentation.features.compute import CustomerView
from segmentation.rules import Rule


class BulkEvaluator:
    def __init__(self, rules: Mapping[str, Rule], now: datetime, tz: ZoneInfo) -> None:
        self.rules = dict(rules)
        self.now = now
        self.tz = tz

    def evaluate(
        self, views: Sequence[CustomerView], memberships: Mapping[str, set[str]] | None = None
    ) -> dict[str, set[str]]:
        """segment id -> ids of the customers among `views` who match its rule. `memberships` gives current
        members of segments referenced by in_segment but not in `rules`."""
        out: dict[str, set[str]] = {}
        for segment_id, rule in self.rules.items():
            out[segment_id] = {view.customer_id for view in views if rule.evaluate(view, self.now, self.tz)}
        return out
