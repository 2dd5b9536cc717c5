"""What starts a training run, and the as_of each trigger asks for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from training.document import same_content, with_version
from training.requests import BadRequest, as_of_from

NOW = datetime(2026, 11, 23, 3, 0, 5, tzinfo=UTC)


def test_schedule_trains_as_of_the_scheduled_time():
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-23T03:00:00Z", "detail": {}}
    assert as_of_from(event, NOW) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_requested_event_may_name_its_as_of():
    event = {"detail-type": "ModelTrainingRequested", "time": "2026-11-23T02:00:00Z", "detail": {}}
    assert as_of_from(event, NOW) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    event["detail"] = {"as_of": "2026-11-01T00:00:00+01:00"}
    assert as_of_from(event, NOW) == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)


def test_direct_invocation_defaults_to_now():
    assert as_of_from({}, NOW) == NOW


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"as_of": "2026-11-01T00:00:00"}, "as_of"),  # no offset: ambiguous
        ({"as_of": "2027-01-01T00:00:00Z"}, "in the future"),
        ({"as_of": "2026-11-01T00:00:00Z", "extra": 1}, "extra"),
        ({"detail-type": "SomethingElse", "time": "2026-11-23T02:00:00Z"}, "unexpected event type"),
        ([], "JSON object"),
    ],
)
def test_bad_requests_say_what_is_wrong(event, message):
    with pytest.raises(BadRequest, match=message):
        as_of_from(event, NOW)


def test_version_is_the_training_time_and_a_content_hash():
    body = {
        "schema": 1,
        "trained_at": "2026-11-23T03:00:05Z",
        "as_of": "2026-11-23T03:00:00Z",
        "time_unit_days": 7.0,
        "data": {"customers": 0, "buyers": 0, "repeat_buyers": 0},
        "rfm": None,
        "bgnbd": None,
        "gamma_gamma": None,
        "fallback": None,
        "clv": {"horizon_days": 365, "annual_discount_rate": 0.1},
        "churn_bands": {"low": 0.7, "medium": 0.4},
        "clusters": None,
        "replenishment": {"categories": [], "population_interval_days": {}},
        "metrics": {},
    }
    document = with_version(body, NOW)
    assert document["version"].startswith("20261123T030005Z-") and len(document["version"]) == 25
    assert with_version(body, NOW)["version"] == document["version"]
    changed = with_version({**body, "metrics": {"x": 1}}, NOW)
    assert changed["version"] != document["version"]
    assert same_content(document, {**document, "version": "other", "trained_at": "later"})
    assert not same_content(document, changed)
