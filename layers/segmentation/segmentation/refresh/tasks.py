"""Entry points of the refresh functions: scheduled ticks and shard messages, below the handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import ConfigDict, ValidationError, model_validator

from segmentation import clock
from segmentation.domain.types import Model
from segmentation.observability import logger
from segmentation.refresh.due import reevaluate_due
from segmentation.refresh.models import ShardMessage
from segmentation.refresh.worker import EvaluatorFactory, ShardWorker, shard_failed
from segmentation.segments.models import RefreshCadence
from segmentation.wiring import Services


class ScheduledTask(Model):
    """The ``Input`` of each schedule in template.yaml."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["boundaries", "refresh"]
    cadence: RefreshCadence | None = None

    @model_validator(mode="after")
    def _cadence_for_refresh(self) -> ScheduledTask:
        if (self.task == "refresh") != (self.cadence is not None):
            raise ValueError("a refresh task names its cadence; a boundaries task does not")
        return self


class InvalidSchedule(Exception):
    """The schedule's input names no task we know: retrying cannot help."""


def run_scheduled(event: dict[str, Any], svc: Services, remaining_ms: Callable[[], int] | None) -> dict[str, Any]:
    try:
        task = ScheduledTask.model_validate(event)
    except ValidationError as exc:
        raise InvalidSchedule("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from exc
    now = clock.now()
    if task.task == "boundaries":
        result = reevaluate_due(svc.store, svc.runs, svc.engine, now, remaining_ms=remaining_ms)
        return {"task": "boundaries", **result.summary()}
    assert task.cadence is not None
    run = svc.refresher.for_cadence(task.cadence, now)
    return {"task": "refresh", "cadence": task.cadence.value, "run_id": run.run_id if run else None}


def process_shard(body: str, receive_count: int, svc: Services, evaluator_factory: EvaluatorFactory) -> None:
    """One message of the refresh queue. Raises to have SQS deliver it again (dead-lettered after the last try)."""
    message = ShardMessage.model_validate_json(body)
    worker = ShardWorker(
        svc.store, svc.runs, svc.publisher, svc.settings.tz, evaluator_factory, models=svc.models.current
    )
    try:
        worker.process(message, clock.now())
    except Exception:
        logger.exception("refresh shard failed", extra={"run_id": message.run_id, "shard": message.shard})
        shard_failed(svc.runs, message, receive_count, clock.now())
        raise
