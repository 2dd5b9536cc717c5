"""The per-container model cache, RFM movement, and how rules and templates treat model attributes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from segmentation.domain.models import CustomerProfile
from segmentation.features.catalogue import ATTRIBUTES, is_model_attribute, lookup
from segmentation.models.cache import ModelCache
from segmentation.models.movement import HISTORY_LIMIT, track_rfm_group
from segmentation.rules import RuleValidationError, parse_rule
from segmentation.segments.templates import AI_TEMPLATES, BY_ID
from segmentation.store.models import StoredModel
from tests.model_documents import document

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class FakeSource:
    """The table's CURRENT item, as a list of what successive reads return (an exception is raised)."""

    def __init__(self, *answers: StoredModel | Exception | None) -> None:
        self.answers = list(answers)
        self.reads = 0

    def current(self) -> StoredModel | None:
        answer = self.answers[min(self.reads, len(self.answers) - 1)]
        self.reads += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


def stored(version: str = "20261115T101500Z-1a2b3c4d", **changes) -> StoredModel:
    doc = document(version=version, **changes)
    return StoredModel(version=version, trained_at=doc["trained_at"], document=json.dumps(doc))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_reads_once_per_period_and_picks_up_a_new_version():
    clock = Clock()
    source = FakeSource(stored("v1"), stored("v2"))
    cache = ModelCache(source, ttl_seconds=300, clock=clock)
    first = cache.current()
    clock.now = 299
    assert cache.current() is first and source.reads == 1
    clock.now = 301
    second = cache.current()
    assert source.reads == 2 and second is not None and second.version == "v2"


def test_cache_does_not_parse_the_same_version_again():
    clock = Clock()
    cache = ModelCache(FakeSource(stored("v1")), ttl_seconds=1, clock=clock)
    first = cache.current()
    clock.now = 5
    assert cache.current() is first


def test_no_model_published_means_no_model():
    assert ModelCache(FakeSource(None)).current() is None


def test_an_invalid_document_turns_scoring_off_without_raising():
    bad = StoredModel(version="v1", trained_at="", document=json.dumps(document(bgnbd={"r": -1})))
    assert ModelCache(FakeSource(bad)).current() is None


def test_a_failed_read_keeps_the_previous_model():
    clock = Clock()
    error = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "Get")
    cache = ModelCache(FakeSource(stored("v1"), error), ttl_seconds=1, clock=clock)
    first = cache.current()
    clock.now = 5
    assert cache.current() is first


def test_rfm_moves_are_recorded_once_per_change():
    profile = CustomerProfile(customer_id="c1")
    profile = track_rfm_group(profile, {"rfm.group": "New", "model.version": "v1"}, NOW)
    same = track_rfm_group(profile, {"rfm.group": "New", "model.version": "v1"}, NOW + timedelta(days=1))
    assert same is profile
    # a spell without a score (no model, or the only order refunded) is not a move
    profile = track_rfm_group(profile, {}, NOW + timedelta(days=2))
    profile = track_rfm_group(profile, {"rfm.group": "Champions", "model.version": "v2"}, NOW + timedelta(days=3))
    moves = [(m.from_group, m.to_group, m.model_version) for m in profile.rfm_history]
    assert moves == [(None, "New", "v1"), ("New", "Champions", "v2")]


def test_rfm_history_is_bounded():
    profile = CustomerProfile(customer_id="c1")
    for i in range(HISTORY_LIMIT + 5):
        profile = track_rfm_group(profile, {"rfm.group": "New" if i % 2 else "Lost"}, NOW + timedelta(days=i))
    assert len(profile.rfm_history) == HISTORY_LIMIT
    assert profile.rfm_history[-1].at == NOW + timedelta(days=HISTORY_LIMIT + 4)


def test_model_attributes_are_in_the_catalogue_and_flagged():
    for name in ("rfm.group", "predicted.clv", "cluster.id", "affinity.candles", "replenish_at.refills"):
        assert lookup(name) is not None and is_model_attribute(name), name
    assert not is_model_attribute("total_spent")
    decaying = {a.name for a in ATTRIBUTES if a.model and a.time_relative}
    assert {"predicted.p_alive", "predicted.churn_risk", "rfm.recency_score", "rfm.group"} <= decaying
    assert "rfm.monetary_score" not in decaying


def test_rules_on_predictions_are_time_relative_and_know_they_use_the_model():
    rule = parse_rule({"attr": "predicted.p_alive", "op": "lt", "value": 0.3})
    assert rule.time_relative and rule.uses_model
    assert rule.depends_on({"predicted.p_alive"}, set())
    assert not rule.depends_on({"total_spent"}, set())
    plain = parse_rule({"attr": "total_spent", "op": "gte", "value": 100})
    assert not plain.uses_model
    assert parse_rule({"attr": "affinity.candles", "op": "gte", "value": 0.7}).uses_model


def test_a_wrongly_typed_value_on_a_model_attribute_is_rejected():
    with pytest.raises(RuleValidationError, match=r"does not apply to \"predicted\.churn_risk\", which is text"):
        parse_rule({"attr": "predicted.churn_risk", "op": "gt", "value": 3})


@pytest.mark.parametrize("template", AI_TEMPLATES, ids=lambda t: t.template_id)
def test_ai_templates_are_valid_rules_on_model_attributes(template):
    rule = parse_rule(template.rule)
    assert rule.uses_model and template.kind == "ai"
    assert BY_ID[template.template_id] is template
