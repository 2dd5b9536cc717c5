"""What triggers a training run, and the ``as_of`` it asks for.

- the weekly schedule (EventBridge "Scheduled Event"): as of the scheduled time;
- a ``ModelTrainingRequested`` event on the segmentation bus: as of ``detail.as_of``, else the event's time;
- a direct invocation: ``{}`` or ``{"as_of": "<ISO-8601 with offset>"}``; without one, as of now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

REQUESTED = "ModelTrainingRequested"
SCHEDULED = "Scheduled Event"
# A little clock skew between the caller and us is tolerated; training on the future is not.
_SKEW = timedelta(minutes=5)


class TrainingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: AwareDatetime | None = None
    reason: str | None = None


class BadRequest(ValueError):
    """The event cannot start a training run; the message names the problem."""


def as_of_from(event: Any, now: datetime) -> datetime:
    if not isinstance(event, dict):
        raise BadRequest(f"expected a JSON object, got {type(event).__name__}")
    try:
        if "detail-type" in event:
            event_time = _event_time(event)
            if event["detail-type"] == SCHEDULED:
                as_of = event_time
            elif event["detail-type"] == REQUESTED:
                detail = event.get("detail") or {}
                if isinstance(detail, str):
                    detail = json.loads(detail or "{}")
                as_of = TrainingRequest.model_validate(detail).as_of or event_time
            else:
                raise BadRequest(f"unexpected event type {event['detail-type']!r}")
        else:
            as_of = TrainingRequest.model_validate(event).as_of or now
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise BadRequest(f"invalid training request: {problems}") from exc
    except json.JSONDecodeError as exc:
        raise BadRequest(f"event detail is not JSON: {exc.msg}") from exc
    as_of = as_of.astimezone(UTC)
    if as_of > now + _SKEW:
        raise BadRequest(f"as_of {as_of.isoformat()} is in the future: models are trained on data up to now")
    return as_of


def _event_time(event: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).astimezone(UTC)
    except (KeyError, ValueError) as exc:
        raise BadRequest("the event has no valid 'time'") from exc
