"""Create the template's resources in the local AWS and remember what each logical id became.

Only the resources the code talks to are created (tables, queues, buckets, buses and rules, secrets, parameters,
topics). Functions, layers, APIs and log groups get a local name so that references to them resolve; alarms, IAM
and the rest have no local meaning and are skipped.

Push-style event sources that moto cannot deliver to a Lambda function (S3 notifications and EventBridge rules
that target a function) are given a private queue instead; the router drains it and hands the handler the same
event AWS would have sent.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local_runtime.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    NO_VALUE,
    SERVERLESS_FUNCTION,
    Resolver,
    Template,
    TemplateError,
    iter_statements,
    load_template,
    references,
)

# Resources with no local counterpart that code still refers to: they get a name so references resolve.
_VIRTUAL_TYPES = {
    SERVERLESS_FUNCTION,
    "AWS::Lambda::Function",
    "AWS::Serverless::LayerVersion",
    "AWS::Lambda::LayerVersion",
    "AWS::Serverless::Api",
    "AWS::Serverless::HttpApi",
    "AWS::Logs::LogGroup",
}

# CloudFormation queue properties that are SQS queue attributes under the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)

# Function event types delivered through a private queue (see module docstring).
PUSH_EVENT_TYPES = ("S3", "EventBridgeRule", "CloudWatchEvent")


@dataclass(frozen=True)
class PushSource:
    """A private queue that stands in for a push-style event source of one function."""

    function_id: str
    event_name: str
    event_type: str
    queue_url: str
    queue_arn: str
    # EventBridge target transformations that moto does not apply itself.
    input: str | None = None
    input_path: str | None = None


@dataclass
class LocalEnvironment:
    """What the template became locally: physical ids, ARNs and attributes per logical id."""

    template: Template
    endpoint_url: str
    region: str
    account_id: str
    stack_name: str
    parameters: dict[str, Any]
    physical_ids: dict[str, Any] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    push_sources: list[PushSource] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def resolver(self) -> Resolver:
        return Resolver(
            self.template,
            parameters=self.parameters,
            refs=self.physical_ids,
            attributes=self.attributes,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
        )

    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The function's environment variables (Globals merged) with every intrinsic resolved locally."""
        resolver = self.resolver
        spec = self.template.function(logical_id)
        resolved = {name: resolver.resolve(value) for name, value in spec.environment.items()}
        return {name: resolver.resolve_str(value) for name, value in resolved.items() if value is not NO_VALUE}

    def function_name(self, logical_id: str) -> str:
        return str(self.physical_ids[logical_id])

    def queue_url_for_arn(self, arn: str) -> str:
        for logical_id, queue_arn in self.arns.items():
            if queue_arn == arn and logical_id in self.template.resources_of_type("AWS::SQS::Queue"):
                return str(self.physical_ids[logical_id])
        for source in self.push_sources:
            if source.queue_arn == arn:
                return source.queue_url
        raise TemplateError(f"no local queue has the ARN {arn}")


def create_resources(
    template: Template | str | Path | None = None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    parameters: Mapping[str, str] | None = None,
    stack_name: str = DEFAULT_STACK_NAME,
) -> LocalEnvironment:
    """Create every locally meaningful resource of `template` at `endpoint_url` (default: AWS_ENDPOINT_URL)."""
    if not isinstance(template, Template):
        template = load_template(template) if template is not None else load_template()
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint_url:
        raise TemplateError("no endpoint: pass endpoint_url or set AWS_ENDPOINT_URL (see local_runtime.aws)")
    env = LocalEnvironment(
        template=template,
        endpoint_url=endpoint_url,
        region=region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        account_id=DEFAULT_ACCOUNT_ID,
        stack_name=stack_name,
        parameters=template.parameter_values(parameters),
    )
    _Builder(env).build()
    return env


class _Builder:
    """Creates resources in dependency order, then the wiring that needs all of them (notifications, targets)."""

    def __init__(self, env: LocalEnvironment) -> None:
        self.env = env
        self.template = env.template
        self.resolver = env.resolver
        self._clients: dict[str, Any] = {}
        self._notifications: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::Serverless::SimpleTable": self._simple_table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::SNS::Topic": self._topic,
        }

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.env.client(service)
        return self._clients[service]

    # ------------------------------------------------------------ orchestration

    def build(self) -> None:
        for logical_id in self._creation_order():
            resource = self.template.resources[logical_id]
            kind = resource["Type"]
            if "Condition" in resource and not self.resolver.condition(resource["Condition"]):
                self.env.skipped[logical_id] = f"{kind} (condition {resource['Condition']} is false)"
            elif kind in _VIRTUAL_TYPES:
                self._virtual(logical_id, kind, resource.get("Properties") or {})
            else:
                self._creators[kind](logical_id, resource.get("Properties") or {})
        for logical_id, resource in self.template.resources.items():
            if resource["Type"] not in self._creators and resource["Type"] not in _VIRTUAL_TYPES:
                self.env.skipped[logical_id] = resource["Type"]
        self._function_push_sources()
        self._apply_bucket_notifications()

    def _creation_order(self) -> list[str]:
        """Topological order over the resources that exist locally (Ref, GetAtt, Sub and DependsOn edges)."""
        wanted = {
            lid
            for lid, res in self.template.resources.items()
            if res.get("Type") in self._creators or res.get("Type") in _VIRTUAL_TYPES
        }
        pending: dict[str, set[str]] = {}
        for logical_id in wanted:
            resource = self.template.resources[logical_id]
            depends_on = resource.get("DependsOn") or []
            depends_on = [depends_on] if isinstance(depends_on, str) else depends_on
            # Functions are only named locally; their properties (events, policies) are not created here.
            body = {} if resource["Type"] in _VIRTUAL_TYPES else resource.get("Properties")
            pending[logical_id] = (references(body) | set(depends_on)) & (wanted - {logical_id})
        order: list[str] = []
        while pending:
            ready = sorted(lid for lid, deps in pending.items() if not deps)
            if not ready:
                raise TemplateError(f"circular references between {', '.join(sorted(pending))}")
            for logical_id in ready:
                del pending[logical_id]
                order.append(logical_id)
            for deps in pending.values():
                deps.difference_update(ready)
        return order

    def _register(self, logical_id: str, ref: Any, arn: str | None = None, **attributes: Any) -> None:
        self.env.physical_ids[logical_id] = ref
        attrs = dict(attributes)
        if arn is not None:
            self.env.arns[logical_id] = arn
            attrs.setdefault("Arn", arn)
        self.env.attributes[logical_id] = attrs

    def _name(self, logical_id: str, props: Mapping[str, Any], key: str, limit: int = 80) -> str:
        if key in props:
            return str(self.resolver.resolve(props[key]))
        return f"{self.env.stack_name}-{logical_id}"[:limit]

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.env.region}:{self.env.account_id}:{resource}"

    # ------------------------------------------------------------ named only

    def _virtual(self, logical_id: str, kind: str, props: Mapping[str, Any]) -> None:
        if kind in (SERVERLESS_FUNCTION, "AWS::Lambda::Function"):
            name = self._name(logical_id, props, "FunctionName", 64)
            self._register(logical_id, name, self._arn("lambda", f"function:{name}"))
        elif kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            name = self._name(logical_id, props, "LayerName", 64)
            self._register(logical_id, self._arn("lambda", f"layer:{name}:1"))
        elif kind == "AWS::Logs::LogGroup":
            name = self._name(logical_id, props, "LogGroupName", 512)
            self._register(logical_id, name, self._arn("logs", f"log-group:{name}:*"))
        else:
            api_id = f"local{logical_id.lower()}"[:10]
            self._register(logical_id, api_id, RootResourceId="root")

    # ------------------------------------------------------------ DynamoDB

    def _table(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = self._name(logical_id, props, "TableName", 255)
        on_demand = props.get("BillingMode") == "PAY_PER_REQUEST"
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
        }
        if not on_demand:
            kwargs["ProvisionedThroughput"] = _throughput(props.get("ProvisionedThroughput"))
        indexes = []
        for index in props.get("GlobalSecondaryIndexes") or []:
            spec = {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            if not on_demand:
                spec["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
            indexes.append(spec)
        if indexes:
            kwargs["GlobalSecondaryIndexes"] = indexes
        if props.get("LocalSecondaryIndexes"):
            kwargs["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
        stream = props.get("StreamSpecification")
        if stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        sse = props.get("SSESpecification")
        if sse and _true(sse.get("SSEEnabled")):
            kwargs["SSESpecification"] = {"Enabled": True}
        if "DeletionProtectionEnabled" in props:
            kwargs["DeletionProtectionEnabled"] = _true(props["DeletionProtectionEnabled"])
        dynamodb = self.client("dynamodb")
        description = dynamodb.create_table(**kwargs)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and _true(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and _true(pitr.get("PointInTimeRecoveryEnabled")):
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        self._register(logical_id, name, description["TableArn"], StreamArn=description.get("LatestStreamArn", ""))

    def _simple_table(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        key_type = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        table: dict[str, Any] = {
            "TableName": self._name(logical_id, props, "TableName", 255),
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": key_type}],
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
        }
        if props.get("ProvisionedThroughput"):
            table["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        else:
            table["BillingMode"] = "PAY_PER_REQUEST"
        if props.get("SSESpecification"):
            table["SSESpecification"] = props["SSESpecification"]
        self._table(logical_id, table)

    # ------------------------------------------------------------ SQS

    def _queue(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = self._name(logical_id, props, "QueueName")
        if _true(props.get("FifoQueue")) and not name.endswith(".fifo"):
            name = f"{name[:75]}.fifo"
        attributes = {key: _attribute(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        url, arn = self._create_queue(name, attributes)
        self._register(logical_id, url, arn, QueueName=name, QueueUrl=url)

    def _create_queue(self, name: str, attributes: Mapping[str, str]) -> tuple[str, str]:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _queue_policy(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        policy = json.dumps(props["PolicyDocument"])
        for url in props["Queues"]:
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        self._register(logical_id, f"{self.env.stack_name}-{logical_id}")

    # ------------------------------------------------------------ S3

    def _bucket(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = self._name(logical_id, props, "BucketName", 63).lower()
        s3 = self.client("s3")
        if self.env.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.env.region})
        versioning = props.get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        cors = props.get("CorsConfiguration")
        if cors:
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors["CorsRules"]})
        self._bucket_protection(name, props)
        self._register(
            logical_id,
            name,
            f"arn:aws:s3:::{name}",
            DomainName=f"{name}.s3.amazonaws.com",
            RegionalDomainName=f"{name}.s3.{self.env.region}.amazonaws.com",
            WebsiteURL=f"http://{name}.s3-website-{self.env.region}.amazonaws.com",
        )
        notifications = props.get("NotificationConfiguration") or {}
        for key, arn_key, boto_key in (
            ("QueueConfigurations", "Queue", "QueueConfigurations"),
            ("TopicConfigurations", "Topic", "TopicConfigurations"),
        ):
            for config in notifications.get(key) or []:
                self._add_notification(name, boto_key, arn_key, config)
        if notifications.get("EventBridgeConfiguration"):
            self._notifications.setdefault(name, {})["EventBridgeConfiguration"] = []

    def _bucket_protection(self, name: str, props: Mapping[str, Any]) -> None:
        """Encryption, public access block and lifecycle rules, as CloudFormation would set them (CloudFormation
        and the S3 API name the default-encryption block differently)."""
        s3 = self.client("s3")
        encryption = props.get("BucketEncryption")
        if encryption:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **({"BucketKeyEnabled": _true(rule["BucketKeyEnabled"])} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in encryption["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration={key: _true(value) for key, value in block.items()}
            )
        lifecycle = props.get("LifecycleConfiguration")
        if lifecycle:
            s3.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]}
            )

    def _bucket_policy(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        document = dict(props["PolicyDocument"])
        # moto enforces bucket policies, and the local endpoint is plain HTTP on loopback: a "deny unless TLS"
        # statement would deny everything here. It is AWS's to enforce (a template test checks it is there).
        statements = [s for s in iter_statements(document) if not _denies_plain_http(s)]
        if statements:
            document["Statement"] = statements
            self.client("s3").put_bucket_policy(Bucket=str(props["Bucket"]), Policy=json.dumps(document))
        self._register(logical_id, f"{self.env.stack_name}-{logical_id}")

    def _add_notification(self, bucket: str, boto_key: str, arn_key: str, config: Mapping[str, Any]) -> None:
        entry: dict[str, Any] = {f"{arn_key}Arn": config[arn_key], "Events": _as_list(config["Event"])}
        rules = ((config.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        if rules:
            entry["Filter"] = {
                "Key": {"FilterRules": [{"Name": rule["Name"].lower(), "Value": rule["Value"]} for rule in rules]}
            }
        self._notifications.setdefault(bucket, {}).setdefault(boto_key, []).append(entry)

    def _apply_bucket_notifications(self) -> None:
        for bucket, config in self._notifications.items():
            configuration: dict[str, Any] = {key: value for key, value in config.items() if value}
            if "EventBridgeConfiguration" in config:
                configuration["EventBridgeConfiguration"] = {}
            self.client("s3").put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=configuration
            )

    # ------------------------------------------------------------ EventBridge

    def _event_bus(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = str(props["Name"])
        arn = self.client("events").create_event_bus(Name=name)["EventBusArn"]
        self._register(logical_id, name, arn, Name=name)

    def _rule(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = self._name(logical_id, props, "Name", 64)
        bus = str(props.get("EventBusName") or "default")
        rule: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            rule["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        if "Description" in props:
            rule["Description"] = props["Description"]
        events = self.client("events")
        arn = events.put_rule(**rule)["RuleArn"]
        self._register(logical_id, name, arn)
        targets = [self._rule_target(logical_id, target) for target in props.get("Targets") or []]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)

    def _rule_target(self, rule_id: str, target: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "DeadLetterConfig", "RetryPolicy")
        entry = {key: target[key] for key in keys if key in target}
        if "SqsParameters" in target:
            entry["SqsParameters"] = target["SqsParameters"]
        function_id = next((lid for lid, arn in self._function_arns().items() if arn == target["Arn"]), None)
        if function_id is not None:
            # moto cannot invoke a function: the event goes to a private queue that the router drains.
            source = self._push_queue(function_id, f"{rule_id}-{target['Id']}", "EventBridgeRule", target)
            entry["Arn"] = source.queue_arn
            entry.pop("Input", None)
            entry.pop("InputPath", None)
        return entry

    def _function_arns(self) -> dict[str, str]:
        functions = self.template.resources_of_type(SERVERLESS_FUNCTION, "AWS::Lambda::Function")
        return {lid: arn for lid, arn in self.env.arns.items() if lid in functions}

    # ------------------------------------------------------------ secrets, parameters, topics

    def _secret(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = self._name(logical_id, props, "Name", 512)
        if "SecretString" in props:
            value = str(props["SecretString"])
        else:
            value = _generate_secret(props.get("GenerateSecretString") or {})
        request: dict[str, Any] = {"Name": name, "SecretString": value}
        if "Description" in props:
            request["Description"] = props["Description"]
        arn = self.client("secretsmanager").create_secret(**request)["ARN"]
        self._register(logical_id, arn, arn, Id=arn)

    def _ssm_parameter(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = self._name(logical_id, props, "Name", 1011)
        kind = str(props.get("Type", "String"))
        self.client("ssm").put_parameter(Name=name, Type=kind, Value=str(props["Value"]), Overwrite=True)
        self._register(logical_id, name, Type=kind, Value=str(props["Value"]))

    def _topic(self, logical_id: str, props: Mapping[str, Any]) -> None:
        props = self.resolver.resolve(dict(props))
        name = self._name(logical_id, props, "TopicName", 256)
        attributes = {"FifoTopic": "true"} if _true(props.get("FifoTopic")) else {}
        sns = self.client("sns")
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        for subscription in props.get("Subscription") or []:
            # Only queue subscriptions mean something locally; mail and SMS endpoints are not contacted.
            if subscription["Protocol"] == "sqs":
                sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=subscription["Endpoint"])
        self._register(logical_id, arn, arn, TopicArn=arn, TopicName=name)

    # ------------------------------------------------------------ function event sources

    def _function_push_sources(self) -> None:
        for logical_id, spec in self.template.functions().items():
            if logical_id in self.env.skipped:
                continue
            for event in spec.events_of_type(*PUSH_EVENT_TYPES):
                props = self.resolver.resolve(dict(event.properties))
                if event.type == "S3":
                    source = self._push_queue(logical_id, event.name, "S3", props)
                    bucket = str(props["Bucket"])
                    config = {"Queue": source.queue_arn, "Event": props["Events"], "Filter": props.get("Filter")}
                    self._add_notification(bucket, "QueueConfigurations", "Queue", config)
                elif "Pattern" in props:
                    self._event_rule_source(logical_id, event.name, event.type, props)

    def _event_rule_source(self, function_id: str, event_name: str, event_type: str, props: Mapping[str, Any]) -> None:
        source = self._push_queue(function_id, event_name, event_type, props)
        bus = str(props.get("EventBusName") or "default")
        name = str(props.get("RuleName") or f"{self.env.stack_name}-{function_id}-{event_name}")[:64]
        state = props.get("State", "ENABLED")
        events = self.client("events")
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(props["Pattern"]), State=state)
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "local", "Arn": source.queue_arn}])

    def _push_queue(self, function_id: str, event_name: str, event_type: str, props: Mapping[str, Any]) -> PushSource:
        name = f"{self.env.stack_name}-{function_id}{event_name}-push"[:80]
        url, arn = self._create_queue(name, {"VisibilityTimeout": "30"})
        source = PushSource(
            function_id=function_id,
            event_name=event_name,
            event_type=event_type,
            queue_url=url,
            queue_arn=arn,
            input=props.get("Input"),
            input_path=props.get("InputPath"),
        )
        self.env.push_sources.append(source)
        return source


# ---------------------------------------------------------------- helpers


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    condition = (statement.get("Condition") or {}).get("Bool") or {}
    return statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false"


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape of the S3 API."""
    out: dict[str, Any] = {"ID": rule.get("Id", ""), "Status": rule.get("Status", "Enabled")}
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(noncurrent["NoncurrentDays"])}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _attribute(value: Any) -> str:
    """An SQS attribute value: booleans lowercase, policies as JSON, numbers as text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _throughput(spec: Mapping[str, Any] | None) -> dict[str, int]:
    spec = spec or {}
    return {
        "ReadCapacityUnits": int(spec.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(spec.get("WriteCapacityUnits", 5)),
    }


def _generate_secret(spec: Mapping[str, Any]) -> str:
    """A random secret following the CloudFormation GenerateSecretString options that change its shape."""
    alphabet = ""
    if not _true(spec.get("ExcludeLowercase")):
        alphabet += string.ascii_lowercase
    if not _true(spec.get("ExcludeUppercase")):
        alphabet += string.ascii_uppercase
    if not _true(spec.get("ExcludeNumbers")):
        alphabet += string.digits
    if not _true(spec.get("ExcludePunctuation")):
        alphabet += string.punctuation
    if _true(spec.get("IncludeSpace")):
        alphabet += " "
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(char for char in alphabet if char not in excluded) or string.ascii_letters
    password = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    if "SecretStringTemplate" in spec and "GenerateStringKey" in spec:
        document = json.loads(spec["SecretStringTemplate"])
        document[spec["GenerateStringKey"]] = password
        return json.dumps(document)
    return password
