"""template.yaml keeps its promises: every trigger has a DLQ or a caller, data is encrypted, policies are scoped.

Also covers the template reader of the local runtime (short-form tags, Globals, intrinsic resolution).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_runtime.template import (
    DEFAULT_TEMPLATE_PATH,
    Resolver,
    Template,
    TemplateError,
    iter_statements,
    load_template,
    merge_globals,
)

GLOBAL_ENVIRONMENT = {
    "TABLE_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "SYNC_QUEUE_URL",
    "EVENTS_DLQ_URL",
    "EVENT_BUS_NAME",
    "SHOP_TIME_ZONE",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET_ARN",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
}
FOURTEEN_DAYS = 14 * 24 * 3600


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(DEFAULT_TEMPLATE_PATH)


def _queues(template: Template) -> dict[str, dict[str, Any]]:
    return {lid: res.get("Properties") or {} for lid, res in template.resources_of_type("AWS::SQS::Queue").items()}


def _logical_id(value: Any) -> str:
    """The logical id behind `!Ref X` or `!GetAtt X.Attr`."""
    if "Ref" in value:
        return value["Ref"]
    return value["Fn::GetAtt"][0]


def _dead_letter_queues(template: Template) -> set[str]:
    dlqs = {
        _logical_id(props["RedrivePolicy"]["deadLetterTargetArn"])
        for props in _queues(template).values()
        if "RedrivePolicy" in props
    }
    for rule in template.resources_of_type("AWS::Events::Rule").values():
        for target in rule["Properties"].get("Targets", []):
            if "DeadLetterConfig" in target:
                dlqs.add(_logical_id(target["DeadLetterConfig"]["Arn"]))
    for schedule in template.resources_of_type("AWS::Scheduler::Schedule").values():
        target = schedule["Properties"]["Target"]
        if "DeadLetterConfig" in target:
            dlqs.add(_logical_id(target["DeadLetterConfig"]["Arn"]))
    return dlqs


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(template: Template) -> list[Any]:
    documents: list[Any] = []
    for resource in template.resources.values():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Serverless::Function":
            documents += [
                policy for policy in props.get("Policies") or [] if isinstance(policy, dict) and "Statement" in policy
            ]
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        for policy in props.get("Policies") or []:
            if isinstance(policy, dict) and "PolicyDocument" in policy:
                documents.append(policy["PolicyDocument"])
    return documents


# ---------------------------------------------------------------- the template


def test_template_loads_with_short_form_tags_as_intrinsics(template: Template) -> None:
    # Given the real template / When it is loaded / Then tags become CloudFormation's long form
    assert template.document["Transform"] == "AWS::Serverless-2016-10-31"
    variables = template.document["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": "SegmentationTable"}
    redrive = template.properties("CustomerEventsQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["CustomerEventsDLQ", "Arn"]}


def test_template_global_environment_names_are_the_code_contract(template: Template) -> None:
    variables = template.document["Globals"]["Function"]["Environment"]["Variables"]
    assert set(variables) >= GLOBAL_ENVIRONMENT
    for spec in template.functions().values():
        assert set(spec.environment) >= GLOBAL_ENVIRONMENT


def _scheduler_targets(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Function logical id -> the targets of the EventBridge Scheduler schedules that invoke it."""
    targets: dict[str, list[dict[str, Any]]] = {}
    for schedule in template.resources_of_type("AWS::Scheduler::Schedule").values():
        target = schedule["Properties"]["Target"]
        targets.setdefault(_logical_id(target["Arn"]), []).append(target)
    return targets


def test_template_every_function_has_an_api_or_a_dead_lettered_source(template: Template) -> None:
    queues = _queues(template)
    scheduled = _scheduler_targets(template)
    for logical_id, spec in template.functions().items():
        for target in scheduled.get(logical_id, []):
            assert "DeadLetterConfig" in target, f"a schedule of {logical_id} has no DLQ"
        assert spec.events or logical_id in scheduled, f"{logical_id} has no trigger"
        function_dlq = "DeadLetterQueue" in spec.properties or "OnFailure" in str(
            spec.properties.get("EventInvokeConfig")
        )
        for event in spec.events:
            if event.type == "Api":
                continue
            if event.type == "SQS":
                queue = _logical_id(event.properties["Queue"])
                assert "RedrivePolicy" in queues[queue], f"{logical_id}.{event.name}: {queue} has no DLQ"
            else:
                # Asynchronous triggers (schedules, S3, EventBridge) need somewhere to park failed events.
                assert function_dlq or "DeadLetterConfig" in event.properties, f"{logical_id}.{event.name} has no DLQ"


def test_template_sqs_consumers_report_partial_batch_failures(template: Template) -> None:
    for logical_id, spec in template.functions().items():
        for event in spec.events_of_type("SQS"):
            assert "ReportBatchItemFailures" in event.properties.get("FunctionResponseTypes", []), logical_id


def test_template_visibility_timeout_is_six_times_the_consumer_timeout(template: Template) -> None:
    queues = _queues(template)
    for spec in template.functions().values():
        for event in spec.events_of_type("SQS"):
            queue = queues[_logical_id(event.properties["Queue"])]
            assert int(queue["VisibilityTimeout"]) >= 6 * spec.timeout


def test_template_dead_letter_queues_keep_messages_14_days_and_alarm(template: Template) -> None:
    dlqs = _dead_letter_queues(template)
    assert {"CustomerEventsDLQ", "SyncDLQ", "EventBusDeliveryDLQ"} <= dlqs
    alarmed = {
        _logical_id(dimension["Value"])
        for alarm in template.resources_of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
        and alarm["Properties"]["Threshold"] == 0
        for dimension in alarm["Properties"]["Dimensions"]
    }
    for dlq in dlqs:
        assert int(template.properties(dlq)["MessageRetentionPeriod"]) == FOURTEEN_DAYS, dlq
        assert dlq in alarmed, f"{dlq} has no alarm"


def test_template_schedules_run_on_the_shop_clock_and_name_a_known_task(template: Template) -> None:
    from segmentation.refresh.tasks import ScheduledTask

    schedules = template.resources_of_type("AWS::Scheduler::Schedule")
    tasks = set()
    for logical_id, schedule in schedules.items():
        props = schedule["Properties"]
        # cron(0 4 ? * SUN *) means 04:00 in the shop, whatever the daylight-saving time of year
        assert props["ScheduleExpressionTimezone"] == {"Ref": "ShopTimeZone"}, logical_id
        assert _logical_id(props["Target"]["RoleArn"]) == "SchedulerRole", logical_id
        task = ScheduledTask.model_validate_json(props["Target"]["Input"])
        tasks.add((task.task, task.cadence.value if task.cadence else None))
    assert tasks == {("boundaries", None), ("refresh", "hourly"), ("refresh", "daily"), ("refresh", "weekly")}
    assert schedules["BoundarySchedule"]["Properties"]["ScheduleExpression"] == {
        "Fn::Sub": "rate(${BoundaryScheduleMinutes} minutes)"
    }


def test_template_refresh_queue_redrive_matches_the_worker(template: Template) -> None:
    from segmentation.refresh.worker import MAX_RECEIVES

    redrive = template.properties("RefreshQueue")["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == MAX_RECEIVES


def test_template_all_queues_are_encrypted(template: Template) -> None:
    for logical_id, props in _queues(template).items():
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, logical_id


def test_template_tables_have_point_in_time_recovery_and_encryption(template: Template) -> None:
    tables = template.resources_of_type("AWS::DynamoDB::Table")
    assert {"SegmentationTable", "IdempotencyTable"} <= set(tables)
    for logical_id, table in tables.items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, logical_id
        assert props["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id


def test_template_segmentation_table_indexes_and_ttl(template: Template) -> None:
    props = template.properties("SegmentationTable")
    indexes = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert indexes["GSI1"]["Projection"]["ProjectionType"] == "ALL"
    assert indexes["GSI2"]["Projection"]["ProjectionType"] in ("KEYS_ONLY", "INCLUDE")
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert template.resource("SegmentationTable")["DeletionPolicy"] == "Retain"


def test_template_api_requires_a_key_and_allows_no_browser_origin(template: Template) -> None:
    props = template.properties("SegmentationApi")
    assert props["Auth"]["ApiKeyRequired"] is True
    assert props["Auth"]["UsagePlan"]["CreateUsagePlan"] == "PER_API"
    assert "Cors" not in props
    routes = [event for spec in template.functions().values() for event in spec.events_of_type("Api")]
    assert routes
    for event in routes:
        assert event.properties.get("Auth", {}).get("ApiKeyRequired", True) is True


def test_template_no_policy_statement_allows_every_resource_without_a_reason(template: Template) -> None:
    # Given every policy document and the template text
    wildcard_statements = [
        statement
        for document in _policy_documents(template)
        for statement in iter_statements(document)
        if "*" in _as_list(statement.get("Resource"))
    ]
    lines = DEFAULT_TEMPLATE_PATH.read_text(encoding="utf-8").splitlines()
    wildcard_lines = [
        number
        for number, line in enumerate(lines)
        if re.search(r"Resource:\s*(\[\s*)?['\"]\*['\"]", line)
        or (
            re.match(r"\s*-\s*['\"]\*['\"]\s*(#.*)?$", line)
            and "Resource:" in "".join(lines[max(0, number - 3) : number])
        )
    ]
    # Then each wildcard is written where a reader sees it, with a comment saying why AWS needs it
    assert len(wildcard_lines) >= len(wildcard_statements)
    for number in wildcard_lines:
        commented = "#" in lines[number] or lines[number - 1].strip().startswith("#")
        assert commented, f"template.yaml:{number + 1} grants Resource '*' without a comment explaining why"


def test_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    executable = str(cfn_lint) if cfn_lint.exists() else shutil.which("cfn-lint")
    if executable is None:
        pytest.skip("cfn-lint is not installed")
    result = subprocess.run(
        [executable, "--", str(DEFAULT_TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- the template reader


def _resolver(template: Template, **refs: Any) -> Resolver:
    return Resolver(
        template,
        parameters=template.parameter_values(),
        refs=refs,
        attributes={"Queue": {"Arn": "arn:aws:sqs:eu-west-1:123456789012:q", "QueueName": "q"}},
        stack_name="stack",
    )


def test_resolver_evaluates_sub_getatt_if_and_drops_no_value(tmp_path: Path) -> None:
    # Given a template using the short forms
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n"
        "  Env: {Type: String, Default: dev}\n"
        "Conditions:\n"
        "  IsProd: !Equals [!Ref Env, prod]\n"
        "Resources:\n"
        "  Queue: {Type: AWS::SQS::Queue}\n"
        "  Thing:\n"
        "    Type: Custom::Thing\n"
        "    Properties:\n"
        "      Name: !Sub '${AWS::StackName}-${Env}-${Queue.QueueName}-${!Literal}'\n"
        "      Arn: !GetAtt Queue.Arn\n"
        "      Maybe: !If [IsProd, prod-only, !Ref AWS::NoValue]\n"
        "      List: [a, !If [IsProd, b, !Ref AWS::NoValue]]\n"
        "      Joined: !Join ['-', !Split [',', 'x,y']]\n"
        "      Second: !Select [1, [p, q]]\n"
        "      Not: !Not [!Condition IsProd]\n",
        encoding="utf-8",
    )
    template = load_template(path)
    # When it is resolved
    resolved = _resolver(template, Queue="https://queue-url").resolve(template.properties("Thing"))
    # Then
    assert resolved == {
        "Name": "stack-dev-q-${Literal}",
        "Arn": "arn:aws:sqs:eu-west-1:123456789012:q",
        "List": ["a"],
        "Joined": "x-y",
        "Second": "q",
        "Not": True,
    }


def test_resolver_reports_a_resource_without_local_value(template: Template) -> None:
    with pytest.raises(TemplateError, match="SegmentationTable"):
        _resolver(template).resolve({"Ref": "SegmentationTable"})


def test_function_spec_merges_globals(template: Template) -> None:
    spec = template.function("ChannelSyncFunction")
    assert spec.timeout == 30
    assert spec.memory_size == 512
    assert spec.layers == [{"Ref": "SegmentationLayer"}]
    assert spec.handler == "app.lambda_handler"
    assert [event.type for event in spec.events] == ["SQS"]


def test_merge_globals_follows_sam_rules() -> None:
    merged = merge_globals({"A": {"x": 1, "y": 1}, "L": [1], "S": "g"}, {"A": {"y": 2}, "L": [2], "S": "l"})
    assert merged == {"A": {"x": 1, "y": 2}, "L": [1, 2], "S": "l"}


def test_parameter_values_reject_unknown_names(template: Template) -> None:
    assert template.parameter_values({"ShopTimeZone": "UTC"})["ShopTimeZone"] == "UTC"
    with pytest.raises(TemplateError, match="Nope"):
        template.parameter_values({"Nope": "1"})


# ---------------------------------------------------------------- imports


def test_template_import_bucket_is_private_encrypted_versioned_and_expires_what_it_holds(template: Template) -> None:
    bucket = template.properties("ImportBucket")
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(value is True for value in bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert (rules["ExpireUploads"]["Prefix"], rules["ExpireUploads"]["ExpirationInDays"]) == ("imports/", 30)
    assert (rules["ExpireRejectReports"]["Prefix"], rules["ExpireRejectReports"]["ExpirationInDays"]) == (
        "reports/",
        90,
    )
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    policy = template.properties("ImportBucketPolicy")["PolicyDocument"]
    deny = [s for s in iter_statements(policy) if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"]["Bool"]["aws:SecureTransport"] == "false"


def test_template_import_function_is_triggered_by_uploads_and_chunks(template: Template) -> None:
    spec = template.functions()["ImportFunction"]
    upload = next(event for event in spec.events if event.type == "S3")
    assert upload.properties["Bucket"] == {"Ref": "ImportBucket"}
    rules = upload.properties["Filter"]["S3Key"]["Rules"]
    assert rules == [{"Name": "prefix", "Value": "imports/"}]
    chunks = next(event for event in spec.events if event.type == "SQS")
    assert _logical_id(chunks.properties["Queue"]) == "ImportQueue"
    assert "ImportDLQ" in _dead_letter_queues(template)
    # the suppression salt is readable: imports check and add suppressions, and index rejects by fingerprint
    secrets = [p for p in spec.properties["Policies"] if "AWSSecretsManagerGetSecretValuePolicy" in p]
    assert secrets == [{"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "SuppressionSalt"}}}]
