"""Every sample in events/ has the shape Lambda delivers, and runs through the local runtime's real handlers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    EventBridgeModel,
    S3Model,
    SqsModel,
)

from segmentation.refresh.models import RefreshRun, ShardMessage
from segmentation.refresh.tasks import ScheduledTask
from segmentation.store.runs import RunStore
from tests.integration.conftest import queue_messages

EVENTS = sorted((Path(__file__).resolve().parents[2] / "events").glob("*.json"))


def function_for(path: Path) -> str:
    if path.name.startswith("api_"):
        return "ApiFunction"
    if path.name.startswith("sync_"):
        return "ChannelSyncFunction"
    if path.name.startswith("refresh_"):
        return "SegmentRefreshFunction"
    if path.name.startswith("schedule_"):
        return "ScheduledRefreshFunction"
    if path.name.startswith("model_training_"):
        return "ModelTrainingFunction"
    if path.name.startswith("import_"):
        return "ImportFunction"
    return "CustomerEventsFunction"


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.name)
def test_sample_event_has_the_shape_lambda_delivers(path: Path):
    event = json.loads(path.read_text())
    if function_for(path) == "ApiFunction":
        APIGatewayProxyEventModel.model_validate(event)
    elif function_for(path) == "ScheduledRefreshFunction":
        ScheduledTask.model_validate(event)  # Scheduler passes the schedule's Input as the event
    elif function_for(path) == "ModelTrainingFunction":
        EventBridgeModel.model_validate(event)
    elif function_for(path) == "ImportFunction":
        S3Model.model_validate(event)
    else:
        batch = SqsModel.model_validate(event)
        if function_for(path) == "CustomerEventsFunction":
            EventBridgeModel.model_validate_json(batch.Records[0].body)


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.name)
def test_sample_event_runs_through_the_local_runtime(stack, path: Path):
    # Given a stack with one segment to evaluate and the customer the samples talk about
    stack.env.client("secretsmanager")  # resources exist
    key = {"x-api-key": stack.api_key}
    stack.api("POST", "/segment-templates/lavender_lovers/segments", headers=key)
    registered = json.loads((path.parent / "customer_registered.json").read_text())
    assert stack.invoke("CustomerEventsFunction", registered) == {"batchItemFailures": []}
    event = json.loads(path.read_text())
    if function_for(path) == "ApiFunction":
        event["headers"]["x-api-key"] = stack.api_key
        event["multiValueHeaders"]["x-api-key"] = [stack.api_key]
    runs = RunStore(stack.env.physical_ids["SegmentationTable"])
    if function_for(path) == "SegmentRefreshFunction":  # the run its shard belongs to
        shard = ShardMessage.model_validate_json(event["Records"][0]["body"])
        runs.create(
            RefreshRun(
                run_id=shard.run_id,
                trigger="api",
                segment_ids=["lavender_lovers"],
                shards_total=shard.total_shards,
                started_at="2026-11-20T12:00:00Z",
            )
        )

    if function_for(path) == "ImportFunction":  # the upload the notification is about
        body = (path.parent / "import_customers_export.csv").read_bytes()
        bucket = stack.env.physical_ids["ImportBucket"]
        stack.env.client("s3").put_object(Bucket=bucket, Key="imports/sample/customers export.csv", Body=body)

    # When the sample is invoked
    result = stack.invoke(function_for(path), event)

    # Then it is handled: API calls succeed, queue batches report no failures, schedules do their task
    if function_for(path) == "ImportFunction":
        assert result == {"processed": 1}
    elif function_for(path) == "ApiFunction":
        assert result["statusCode"] in (200, 201, 202), result["body"]
    elif function_for(path) == "ScheduledRefreshFunction":
        assert result["task"] == event["task"] and result.get("failed", 0) == 0
    elif function_for(path) == "ModelTrainingFunction":
        assert result["status"] == "trained" and result["model"].startswith("s3://")
    else:
        assert result == {"batchItemFailures": []}
    if function_for(path) == "SegmentRefreshFunction":
        run = runs.get(shard.run_id)
        assert run is not None and (run.state.value, run.evaluated) == ("succeeded", 1)
    dead = queue_messages(stack.env, "CustomerEventsDLQ")
    if path.name == "order_completed_invalid.json":
        assert "lines" in dead[0]["MessageAttributes"]["reason"]["StringValue"]
    else:
        assert dead == []
