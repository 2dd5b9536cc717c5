"""Builds the services from settings, once per container (lazily: nothing touches AWS at import)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from segmentation.models.cache import ModelCache
from segmentation.refresh.orchestrator import Refresher
from segmentation.segments.realtime import MembershipEngine
from segmentation.segments.registry import SegmentRegistry
from segmentation.segments.service import SegmentService
from segmentation.settings import Settings, get_settings
from segmentation.store.dynamo import DynamoStore
from segmentation.store.models import ModelDocuments
from segmentation.store.runs import RunStore
from segmentation.sync.publisher import AwsPublisher

if TYPE_CHECKING:
    from segmentation.privacy.suppression import SuppressionList


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: DynamoStore
    registry: SegmentRegistry
    engine: MembershipEngine
    segments: SegmentService
    models: ModelCache
    runs: RunStore
    refresher: Refresher
    publisher: AwsPublisher


@cache
def services() -> Services:
    settings = get_settings()
    store = DynamoStore(settings.table_name)
    registry = SegmentRegistry(store, ttl_seconds=settings.segment_cache_seconds)
    publisher = AwsPublisher(settings.sync_queue_url, settings.event_bus_name)
    models = ModelCache(ModelDocuments(settings.table_name), ttl_seconds=settings.model_cache_seconds)
    engine = MembershipEngine(store, registry, publisher, settings.tz, models=models.current)
    runs = RunStore(settings.table_name)
    refresher = Refresher(store, runs, settings.refresh_queue_url, settings.refresh_shards)
    segments = SegmentService(store, registry, publisher, settings.tz, refresher, models=models.current)
    return Services(settings, store, registry, engine, segments, models, runs, refresher, publisher)


@cache
def suppression_list() -> SuppressionList:
    """The suppression list, keyed by the stack's secret salt (fetched once per container)."""
    from segmentation.privacy.suppression import SuppressionList
    from segmentation.store.clients import secrets

    settings = get_settings()
    return SuppressionList(settings.table_name, secrets().get(settings.suppression_salt_arn))


def reset() -> None:
    """Forget settings, clients and services (tests point them at a fresh moto)."""
    from segmentation.store.clients import reset as reset_clients

    services.cache_clear()
    suppression_list.cache_clear()
    get_settings.cache_clear()
    reset_clients()
