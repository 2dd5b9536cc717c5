"""The local runtime builds the real template.yaml in moto and delivers events the way AWS does.

Stand-in handlers written into tmp_path replace the function code, so these tests exercise the wiring
(rule -> queue -> function, partial batch failures, redrive, API key) and not the service's logic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from local_runtime import LocalAws, LocalEnvironment, Router, create_resources, load_template

QUEUE_HANDLER = """
import json
import os
from pathlib import Path

import boto3

CALLS = Path(__file__).with_name("calls.jsonl")


def lambda_handler(event, context):
    # A real client with no endpoint argument: it must reach the local AWS through the environment.
    boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        call = {
            "function": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "table": os.environ["TABLE_NAME"],
            "record": record,
            "event": body,
        }
        with CALLS.open("a") as calls:
            calls.write(json.dumps(call) + "\\n")
        if body["detail"].get("raise"):
            raise RuntimeError("boom")
        if body["detail"].get("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""

API_HANDLER = """
import json


def lambda_handler(event, context):
    echo = {key: event[key] for key in ("resource", "path", "httpMethod", "pathParameters", "queryStringParameters")}
    echo["stage"] = event["requestContext"]["stage"]
    echo["apiKey"] = event["requestContext"]["identity"]["apiKey"]
    echo["body"] = json.loads(event["body"]) if event["body"] else None
    return {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-Echo": "1"}, "body": json.dumps(echo)}
"""

RECORDING_HANDLER = """
import json
from pathlib import Path

CALLS = Path(__file__).with_name("calls.jsonl")


def lambda_handler(event, context):
    with CALLS.open("a") as calls:
        calls.write(json.dumps(event) + "\\n")
    return {"ok": True}
"""

SQS_RECORDING_HANDLER = """
import json
from pathlib import Path

CALLS = Path(__file__).with_name("calls.jsonl")


def lambda_handler(event, context):
    with CALLS.open("a") as calls:
        for record in event["Records"]:
            calls.write(json.dumps({"event": json.loads(record["body"])}) + "\\n")
    return {}
"""

MINI_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        QueueConfigurations:
          - Event: s3:ObjectCreated:*
            Queue: !GetAtt UploadsQueue.Arn
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: imports/
  UploadsQueue:
    Type: AWS::SQS::Queue
  Importer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: importer/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        Uploaded:
          Type: SQS
          Properties:
            Queue: !GetAtt UploadsQueue.Arn
  Nightly:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: nightly/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        EveryNight:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 2 * * ? *)
        Hourly:
          Type: Schedule
          Properties:
            Schedule: rate(1 hour)
  Listener:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: listener/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        Changes:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [segmentation]
"""


def _write_handler(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(source, encoding="utf-8")
    return folder


def _calls(folder: Path) -> list[dict[str, Any]]:
    path = folder / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _queue_depth(env: LocalEnvironment, logical_id: str) -> int:
    attributes = env.client("sqs").get_queue_attributes(
        QueueUrl=env.physical_ids[logical_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalAws]:
    with LocalAws(patch_environment=False) as local:
        yield local


@pytest.fixture
def aws(local_server: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """The shared server, emptied, with its endpoint in the environment for this test only."""
    local_server.reset()
    for name, value in local_server.environment().items():
        monkeypatch.setenv(name, value)
    return local_server


@pytest.fixture
def env(aws: LocalAws) -> LocalEnvironment:
    return create_resources(load_template(), endpoint_url=aws.endpoint_url)


@pytest.fixture
def fake_code(tmp_path: Path) -> dict[str, Path]:
    return {
        "CustomerEventsFunction": _write_handler(tmp_path / "customer_events", QUEUE_HANDLER),
        "ChannelSyncFunction": _write_handler(tmp_path / "channel_sync", QUEUE_HANDLER),
        "ApiFunction": _write_handler(tmp_path / "api", API_HANDLER),
    }


@pytest.fixture
def router(env: LocalEnvironment, fake_code: dict[str, Path]) -> Router:
    return Router(env, api_key="test-key", code_dirs=fake_code)


def _put_shop_event(env: LocalEnvironment, detail_type: str, detail: dict[str, Any], source: str = "shop") -> None:
    response = env.client("events").put_events(
        Entries=[
            {
                "EventBusName": env.physical_ids["SegmentationBus"],
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0


# ---------------------------------------------------------------- resources


def test_resources_are_created_as_the_template_describes(env: LocalEnvironment) -> None:
    # Given the environment built from template.yaml
    dynamodb, sqs = env.client("dynamodb"), env.client("sqs")
    # Then the single table has its indexes and TTL
    table = dynamodb.describe_table(TableName=env.physical_ids["SegmentationTable"])["Table"]
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2"}
    ttl = dynamodb.describe_time_to_live(TableName=env.physical_ids["SegmentationTable"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    # And the events queue redrives to its own DLQ after 5 receives
    attributes = sqs.get_queue_attributes(QueueUrl=env.physical_ids["CustomerEventsQueue"], AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": env.arns["CustomerEventsDLQ"], "maxReceiveCount": 5}
    assert attributes["Attributes"]["VisibilityTimeout"] == "180"
    # And the webhook secret has a generated value
    secret = env.client("secretsmanager").get_secret_value(SecretId=env.physical_ids["WebhookSecret"])
    assert len(secret["SecretString"]) == 48
    # And the conditional alarm topic is not created without an email address
    assert "AlarmTopic" in env.skipped


def test_function_environment_points_at_local_resources(env: LocalEnvironment) -> None:
    variables = env.function_environment("CustomerEventsFunction")
    assert variables["TABLE_NAME"] == env.physical_ids["SegmentationTable"]
    assert variables["SYNC_QUEUE_URL"].startswith(env.endpoint_url)
    assert variables["EVENT_BUS_NAME"] == env.physical_ids["SegmentationBus"]
    assert variables["WEBHOOK_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    assert variables["SHOP_TIME_ZONE"] == "Europe/London"


# ---------------------------------------------------------------- queues


def test_shop_event_on_the_bus_reaches_the_customer_events_function(
    env: LocalEnvironment, router: Router, fake_code: dict[str, Path]
) -> None:
    # Given a shop event published on the bus
    _put_shop_event(env, "OrderCompleted", {"order_id": "o-1"})
    # When the router drains the queues
    stats = router.drain()
    # Then the rule delivered it through the queue to the function, once, in Lambda's SQS shape
    (call,) = _calls(fake_code["CustomerEventsFunction"])
    assert call["event"]["detail-type"] == "OrderCompleted"
    assert call["event"]["detail"] == {"order_id": "o-1"}
    assert call["function"] == env.physical_ids["CustomerEventsFunction"]
    assert call["table"] == env.physical_ids["SegmentationTable"]
    assert 0 < call["remaining_ms"] <= 30_000
    record = call["record"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == env.arns["CustomerEventsQueue"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert stats.processed == 1
    assert stats.errors == []
    assert _queue_depth(env, "CustomerEventsQueue") == 0


def test_event_from_another_source_is_not_routed(
    env: LocalEnvironment, router: Router, fake_code: dict[str, Path]
) -> None:
    _put_shop_event(env, "OrderCompleted", {"order_id": "o-1"}, source="not-the-shop")
    _put_shop_event(env, "SomethingElse", {"order_id": "o-1"})
    stats = router.drain()
    assert stats.invocations == 0
    assert _calls(fake_code["CustomerEventsFunction"]) == []


def test_reported_failure_is_retried_then_dead_lettered(
    env: LocalEnvironment, router: Router, fake_code: dict[str, Path]
) -> None:
    # Given one good and one failing message in the same batch
    _put_shop_event(env, "CustomerUpdated", {"customer_id": "good"})
    _put_shop_event(env, "CustomerUpdated", {"customer_id": "bad", "fail": True})
    # When the queues are drained
    stats = router.drain()
    # Then the good one is processed once, the bad one 5 times (maxReceiveCount) and then parked in the DLQ
    calls = _calls(fake_code["CustomerEventsFunction"])
    good = [call for call in calls if call["event"]["detail"]["customer_id"] == "good"]
    bad = [call for call in calls if call["event"]["detail"]["customer_id"] == "bad"]
    assert len(good) == 1
    assert [call["record"]["attributes"]["ApproximateReceiveCount"] for call in bad] == ["1", "2", "3", "4", "5"]
    assert stats.processed == 1
    assert stats.retried == 5
    assert _queue_depth(env, "CustomerEventsQueue") == 0
    parked = env.client("sqs").receive_message(QueueUrl=env.physical_ids["CustomerEventsDLQ"])["Messages"]
    assert json.loads(parked[0]["Body"])["detail"]["customer_id"] == "bad"


def test_handler_exception_fails_the_whole_batch(
    env: LocalEnvironment, router: Router, fake_code: dict[str, Path]
) -> None:
    env.client("sqs").send_message(
        QueueUrl=env.physical_ids["SyncQueue"],
        MessageBody=json.dumps({"detail": {"raise": True}}),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "sync"}},
        MessageGroupId="channel-test",  # the sync queue is FIFO
        MessageDeduplicationId="raise-1",
    )
    stats = router.drain()
    calls = _calls(fake_code["ChannelSyncFunction"])
    assert len(calls) == 5
    assert calls[0]["record"]["messageAttributes"]["kind"] == {
        "stringValue": "sync",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert len(stats.errors) == 5
    assert _queue_depth(env, "SyncDLQ") == 1


# ---------------------------------------------------------------- API


def test_api_without_a_valid_key_is_forbidden(router: Router, fake_code: dict[str, Path]) -> None:
    assert router.api("GET", "/segments")[::2] == (403, {"message": "Forbidden"})
    assert router.api("GET", "/segments", headers={"x-api-key": "wrong"})[::2] == (403, {"message": "Forbidden"})
    assert _calls(fake_code["ApiFunction"]) == []


def test_api_with_the_key_reaches_the_function_as_a_proxy_event(router: Router) -> None:
    # When a request with the key is sent
    status, headers, body = router.api(
        "post",
        "/segments/vip/preview",
        body={"limit": 5},
        headers={"X-Api-Key": "test-key"},
        query={"page": "2", "tag": ["a", "b"]},
    )
    # Then the function got an API Gateway REST proxy event and its response came back
    assert status == 201
    assert headers["X-Echo"] == "1"
    assert body == {
        "resource": "/{proxy+}",
        "path": "/segments/vip/preview",
        "httpMethod": "POST",
        "pathParameters": {"proxy": "segments/vip/preview"},
        "queryStringParameters": {"page": "2", "tag": "b"},
        "stage": "prod",
        "apiKey": "test-key",
        "body": {"limit": 5},
    }
    root = router.api("GET", "/", headers={"x-api-key": "test-key"})[2]
    assert root["resource"] == "/"
    assert root["pathParameters"] is None


# ---------------------------------------------------------------- S3, schedules and rules (a tiny template)


def test_bucket_notifications_schedules_and_rules_from_a_template(aws: LocalAws, tmp_path: Path) -> None:
    # Given a template with a bucket -> queue notification, two schedules and a rule on the default bus
    (tmp_path / "template.yaml").write_text(MINI_TEMPLATE, encoding="utf-8")
    folders = {name: _write_handler(tmp_path / name.lower(), RECORDING_HANDLER) for name in ("Nightly", "Listener")}
    folders["Importer"] = _write_handler(tmp_path / "importer", SQS_RECORDING_HANDLER)
    env = create_resources(tmp_path / "template.yaml", endpoint_url=aws.endpoint_url, stack_name="mini")
    router = Router(env)
    s3 = env.client("s3")

    # When objects are uploaded inside and outside the notified prefix, and an event is published
    s3.put_object(Bucket=env.physical_ids["Uploads"], Key="imports/new customers.csv", Body=b"email\n")
    s3.put_object(Bucket=env.physical_ids["Uploads"], Key="exports/ignored.csv", Body=b"x")
    env.client("events").put_events(Entries=[{"Source": "segmentation", "DetailType": "X", "Detail": "{}"}])
    router.drain()

    # Then only the prefixed upload arrives, with its key URL-encoded as S3 sends it
    # (moto also encodes "/" as %2F, which AWS does not; unquote_plus reads both)
    uploads = [call["event"] for call in _calls(folders["Importer"]) if "Records" in call["event"]]
    keys = [record["s3"]["object"]["key"] for upload in uploads for record in upload["Records"]]
    assert len(keys) == 1
    assert "+" in keys[0]
    assert unquote_plus(keys[0]) == "imports/new customers.csv"
    # And the rule delivered the event itself (not wrapped in SQS) to the listener
    (event,) = _calls(folders["Listener"])
    assert event["source"] == "segmentation"

    # When the schedules are fired
    router.fire_schedule("Nightly", "EveryNight")
    router.fire_schedule("Nightly", "Hourly")
    # Then each gets its scheduler's event shape
    scheduler_event, rule_event = _calls(folders["Nightly"])
    assert (scheduler_event["source"], scheduler_event["detail-type"]) == ("aws.scheduler", "Scheduled Event")
    assert scheduler_event["resources"][0].startswith("arn:aws:scheduler:")
    assert (rule_event["source"], rule_event["detail"]) == ("aws.events", {})
