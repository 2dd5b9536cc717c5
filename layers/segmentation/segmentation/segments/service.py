"""Segment lifecycle: define, version, archive, preview, refresh, impact, members and explanations.

Saving or archiving a segment starts a full refresh run (fanned out to the refresh workers) rather than scanning
the base in the API call; the response names the run, whose progress ``GET /segments/{id}/refreshes/{run}`` shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from segmentation.features.compute import build_view
from segmentation.models.explain import model_context
from segmentation.refresh.models import RefreshRun, RunKind
from segmentation.rules import Rule, RuleIssue, RuleValidationError, parse_rule
from segmentation.segments.models import SegmentDefinition, SegmentInput, SegmentStatus
from segmentation.segments.realtime import ChangePublisher, ModelProvider, explain_with_model, no_model
from segmentation.segments.registry import SegmentRegistry
from segmentation.segments.templates import BY_ID as TEMPLATES
from segmentation.store.dynamo import DynamoStore, LoadedCustomer, scan_customers
from segmentation.store.errors import NotFound
from segmentation.sync.destinations import validate_destinations

if TYPE_CHECKING:
    from segmentation.refresh.orchestrator import Refresher


@dataclass
class Preview:
    size: int
    total: int
    sample: list[dict[str, Any]] = field(default_factory=list)


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return (slug or "segment")[:64]


class SegmentService:
    def __init__(
        self,
        store: DynamoStore,
        registry: SegmentRegistry,
        publisher: ChangePublisher,
        tz: ZoneInfo,
        refresher: Refresher,
        *,
        models: ModelProvider = no_model,
    ):
        self.store = store
        self.registry = registry
        self.publisher = publisher
        self.tz = tz
        self.refresher = refresher
        self.models = models

    # -- definitions -------------------------------------------------------------------------------

    def definitions(self, include_archived: bool = False) -> list[SegmentDefinition]:
        segments = self.store.list_segments()
        return [s for s in segments if include_archived or s.status == SegmentStatus.ACTIVE]

    def get(self, segment_id: str) -> SegmentDefinition:
        return self.store.get_segment(segment_id)

    def compile(self, rule: dict[str, Any], self_id: str | None = None) -> Rule:
        """Validate and compile ``rule`` against the active segments (for ``in_segment`` and cycles)."""
        trees = {s.segment_id: s.rule for s in self.definitions() if s.segment_id != self_id}
        if self_id is not None:
            trees[self_id] = rule
        return parse_rule(rule, segment_lookup=trees.get, self_id=self_id)

    def create(
        self, data: SegmentInput, now: datetime, template: str | None = None
    ) -> tuple[SegmentDefinition, RefreshRun]:
        segment_id = data.segment_id or slugify(data.name)
        self.compile(data.rule, self_id=segment_id)
        validate_destinations(data.destinations)
        definition = SegmentDefinition(
            segment_id=segment_id,
            name=data.name,
            description=data.description,
            rule=data.rule,
            destinations=data.destinations,
            refresh=data.refresh,
            template=template,
            created_at=now,
            updated_at=now,
        )
        self.store.put_segment(definition, expected_version=0)
        return definition, self._refresh_saved(definition, "created", now)

    def create_from_template(self, template_id: str, now: datetime, overrides: dict[str, Any] | None = None):
        template = TEMPLATES.get(template_id)
        if template is None:
            raise NotFound(f"template {template_id} not found")
        data = SegmentInput.model_validate(
            {
                "segment_id": template_id,
                "name": template.name,
                "description": template.description,
                "rule": template.rule,
                **(overrides or {}),
            }
        )
        return self.create(data, now, template=template_id)

    def update(self, segment_id: str, data: SegmentInput, now: datetime) -> tuple[SegmentDefinition, RefreshRun]:
        current = self.store.get_segment(segment_id)
        if current.status != SegmentStatus.ACTIVE:
            raise NotFound(f"segment {segment_id} is archived")
        expected = data.expected_version or current.version
        self.compile(data.rule, self_id=segment_id)
        validate_destinations(data.destinations)
        definition = current.model_copy(
            update={
                "name": data.name,
                "description": data.description,
                "rule": data.rule,
                "destinations": data.destinations,
                "refresh": data.refresh,
                "version": expected + 1,
                "updated_at": now,
            }
        )
        self.store.put_segment(definition, expected_version=expected)
        return definition, self._refresh_saved(definition, "updated", now)

    def archive(self, segment_id: str, now: datetime) -> tuple[SegmentDefinition, RefreshRun]:
        """Archive a segment: every member exits (so channels drop them); versions and history are kept."""
        current = self.store.get_segment(segment_id)
        dependants = [
            s.segment_id for s in self.definitions() if segment_id in _references(s.rule) and s.segment_id != segment_id
        ]
        if dependants:
            raise RuleValidationError(
                [RuleIssue(path="$", message=f"segment is used by {', '.join(sorted(dependants))}", suggestions=[])]
            )
        definition = current.model_copy(
            update={"status": SegmentStatus.ARCHIVED, "version": current.version + 1, "updated_at": now}
        )
        self.store.put_segment(definition, expected_version=current.version)
        return definition, self._refresh_saved(definition, "archived", now)

    # -- evaluation --------------------------------------------------------------------------------

    def _refresh_saved(self, definition: SegmentDefinition, trigger: str, now: datetime) -> RefreshRun:
        self.registry.invalidate()
        return self.refresher.for_segment(definition, trigger, now)

    def refresh(self, segment_id: str, now: datetime) -> RefreshRun:
        """Refresh one segment (and those that reference it) on demand."""
        definition = self.store.get_segment(segment_id)
        if definition.status != SegmentStatus.ACTIVE:
            raise NotFound(f"segment {segment_id} is archived")
        return self.refresher.for_segment(definition, "api", now)

    def impact(self, segment_id: str, rule_tree: dict[str, Any], now: datetime) -> RefreshRun:
        """Who would enter and who would leave if ``rule_tree`` replaced the segment's rule: a dry run over the
        whole base with the same bulk evaluator as a refresh, reported on the run (validation errors raise)."""
        current = self.store.get_segment(segment_id)
        if current.status != SegmentStatus.ACTIVE:
            raise NotFound(f"segment {segment_id} is archived")
        rule = self.compile(rule_tree, self_id=segment_id)
        return self.refresher.start([current], "impact", now, kind=RunKind.IMPACT, rule=rule.tree)

    def run(self, segment_id: str, run_id: str) -> RefreshRun:
        run = self.refresher.runs.get(run_id)
        if run is None or segment_id not in run.segment_ids:
            raise NotFound(f"refresh run {run_id} of segment {segment_id} not found")
        return run

    def preview(self, rule_tree: dict[str, Any], now: datetime, sample_size: int = 10) -> Preview:
        """Size and a sample of a rule not yet saved, on current data (validation errors raise)."""
        rule = self.compile(rule_tree)
        customers = scan_customers(self.store)
        matched: list[tuple[LoadedCustomer, Any]] = []
        size = 0
        model = self.models()
        for customer in customers:
            view = build_view(customer.history, now, self.tz, model)
            if rule.evaluate(view, now, self.tz):
                size += 1
                if len(matched) < sample_size:
                    matched.append((customer, view))
        sample = [
            {"customer_id": c.history.profile.customer_id, "why": explain_with_model(rule, v, now, self.tz, model)}
            for c, v in matched
        ]
        return Preview(size=size, total=len(customers), sample=sample)

    def members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        self.store.get_segment(segment_id)
        return self.store.list_members(segment_id, limit, cursor)

    def explain(self, customer_id: str, segment_id: str, now: datetime) -> dict[str, Any]:
        """Why a customer is or is not in a segment right now, and what was recorded when she entered."""
        definition = self.store.get_segment(segment_id)
        loaded = self.store.load_customer(customer_id)
        if not loaded.exists:
            raise NotFound(f"customer {customer_id} not found")
        rule = self.compile(definition.rule, self_id=segment_id)
        model = self.models()
        view = build_view(loaded.history, now, self.tz, model)
        record = loaded.memberships.get(segment_id)
        return {
            "segment_id": segment_id,
            "segment_version": definition.version,
            "customer_id": customer_id,
            "evaluated_at": now.isoformat(),
            "member": bool(record and record.member),
            "verdict_now": rule.evaluate(view, now, self.tz),
            "explanation": rule.explain(view, now, self.tz),
            "entered_at": record.entered_at.isoformat() if record and record.entered_at else None,
            "recorded_trace": record.trace if record else None,
            "model": model_context(rule.attributes, view.attributes, model) if rule.uses_model else None,
        }

    def recompute_model_segments(self, now: datetime) -> RefreshRun | None:
        """A refresh run over every active segment whose rule reads a model attribute: what to run after a new
        model is published, so AI segments follow the new scores without waiting for each customer's next event."""
        chosen = [s.definition for s in self.registry.active().values() if s.rule.uses_model]
        return self.refresher.start(chosen, "model", now) if chosen else None


def _references(rule: Any) -> set[str]:
    if isinstance(rule, dict):
        found = {rule["in_segment"]} if isinstance(rule.get("in_segment"), str) else set()
        for value in rule.values():
            found |= _references(value)
        return found
    if isinstance(rule, list):
        return set().union(*(_references(v) for v in rule)) if rule else set()
    return set()
