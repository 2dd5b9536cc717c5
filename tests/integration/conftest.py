"""Integration fixtures: a local moto server, resources built from template.yaml, the real handlers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local_runtime import LocalAws, LocalEnvironment, Router, create_resources, load_template


@pytest.fixture(scope="session")
def moto_server() -> Iterator[LocalAws]:
    with LocalAws(patch_environment=False) as local:
        yield local


def fresh_stack(moto_server: LocalAws, parameters: dict[str, str] | None = None) -> Router:
    """Empty the account, create the template's resources again, forget every cached client and definition."""
    from segmentation import wiring

    moto_server.reset()
    wiring.reset()
    env = create_resources(load_template(), endpoint_url=moto_server.endpoint_url, parameters=parameters)
    return Router(env, api_key="test-key")


@pytest.fixture
def stack(moto_server: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Router]:
    """An empty account with the template's resources, and a router over the real handlers."""
    from segmentation import wiring

    for name, value in moto_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SEGMENTATION_FROZEN_NOW", "2026-11-20T12:00:00Z")
    # Two shards still exercise the fan-out; the default (16) would only multiply the emulator's round trips.
    yield fresh_stack(moto_server, {"RefreshShards": "2"})
    wiring.reset()


@pytest.fixture
def api(stack: Router) -> Callable[..., tuple[int, Any]]:
    """Call the REST API with a valid key: ``api("POST", "/segments", body)`` -> (status, json)."""

    def call(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
        status, _, payload = stack.api(method, path, body=body, headers={"x-api-key": "test-key"}, query=query)
        return status, payload

    return call


def run_refreshes(router: Router) -> None:
    """Let the refresh workers finish every queued shard (in AWS they run on their own; here the test says when)."""
    stats = router.drain(max_rounds=1000, only={"SegmentRefreshFunction"})
    assert stats.drained and not stats.errors, stats.errors


def refreshed(router: Router, saved: dict[str, Any]) -> dict[str, Any]:
    """The finished run of a save, refresh or impact response (``{"segment":.., "refresh":..}`` or a run view)."""
    run_refreshes(router)
    run = saved.get("refresh", saved)
    segment_id = run["segment_ids"][0]
    status, _, body = router.api(
        "GET", f"/segments/{segment_id}/refreshes/{run['run_id']}", headers={"x-api-key": router.api_key}
    )
    assert status == 200, body
    return body


def put_shop_events(env: LocalEnvironment, events: list[tuple[str, dict[str, Any]]]) -> None:
    client = env.client("events")
    for start in range(0, len(events), 10):
        entries = [
            {
                "EventBusName": env.physical_ids["SegmentationBus"],
                "Source": "shop",
                "DetailType": dt,
                "Detail": json.dumps(detail),
            }
            for dt, detail in events[start : start + 10]
        ]
        assert client.put_events(Entries=entries)["FailedEntryCount"] == 0


def queue_messages(env: LocalEnvironment, logical_id: str) -> list[dict[str, Any]]:
    out = env.client("sqs").receive_message(
        QueueUrl=env.physical_ids[logical_id], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return out.get("Messages", [])


def load_template_dict() -> dict[str, Any]:
    return load_template().document
