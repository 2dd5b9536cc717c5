"""Deliver events to the real handlers in-process, the way Lambda's integrations would.

The routes come from each function's `Events` in the template: API Gateway proxy requests (with the API key
check), SQS batches with partial-batch failures, S3 notifications and EventBridge rule events (via the private
queues created in `resources`), and schedules, which the caller fires because moto does not run a clock.

Handlers run in this process with the function's environment applied for the duration of the call. Each
function module is imported under its own name; sibling modules of a handler are importable while it runs,
but two functions should not ship different modules of the same name (they would share one `sys.modules` entry).
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import os
import secrets
import sys
import time
import traceback
import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from local_runtime.resources import LocalEnvironment, PushSource
from local_runtime.template import FunctionSpec, TemplateError

FORBIDDEN = {"message": "Forbidden"}
NO_ROUTE = {"message": "Missing Authentication Token"}
BAD_GATEWAY = {"message": "Internal server error"}

# Lambda retries a failed asynchronous invocation (S3, EventBridge) twice: three attempts in all.
_ASYNC_ATTEMPTS = 3
_SQS_RECEIVE_LIMIT = 10
_SQS_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
_SCHEDULE_EVENT_TYPES = ("Schedule", "ScheduleV2")


@dataclass
class FakeLambdaContext:
    """The attributes and method of the Lambda context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: int = 3
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class ApiResponse:
    """An HTTP response as API Gateway would return it to the client."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, the text when it is not JSON, or None when empty."""
        if not self.body:
            return None
        text = self.body.decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text


@dataclass
class DrainStats:
    """What one `drain()` did."""

    rounds: int = 0
    invocations: int = 0
    processed: int = 0
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    invocations_by_function: dict[str, int] = field(default_factory=dict)
    # False when max_rounds ran out while messages were still arriving (e.g. a message that always fails
    # on a queue without a redrive policy).
    drained: bool = True


@dataclass(frozen=True)
class _QueueSource:
    function_id: str
    event_name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_failures: bool
    push: PushSource | None = None


@dataclass(frozen=True)
class _SchedulerSchedule:
    function_id: str
    expression: str
    input: str | None
    arn: str


@dataclass(frozen=True)
class _Route:
    function_id: str
    api_id: str
    resource: str
    method: str
    stage: str
    api_key_required: bool

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters when `path` fits this route's resource template, else None."""
        wanted = [part for part in self.resource.split("/") if part]
        actual = [part for part in path.split("/") if part]
        params: dict[str, str] = {}
        for index, part in enumerate(wanted):
            if part.startswith("{") and part.endswith("+}"):
                rest = actual[index:]
                if not rest:
                    return None
                params[part[1:-2]] = "/".join(rest)
                return params
            if index >= len(actual):
                return None
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = actual[index]
            elif part != actual[index]:
                return None
        return params if len(actual) == len(wanted) else None

    @property
    def specificity(self) -> tuple[int, int, int]:
        parts = [part for part in self.resource.split("/") if part]
        literal = sum(1 for part in parts if not part.startswith("{"))
        greedy = sum(1 for part in parts if part.endswith("+}"))
        return literal, len(parts) - greedy, int(self.method != "ANY")


class Router:
    """Invokes the template's functions with events shaped like the AWS integrations that trigger them."""

    def __init__(
        self,
        env: LocalEnvironment,
        *,
        api_key: str | None = None,
        code_dirs: Mapping[str, str | Path] | None = None,
    ) -> None:
        """`code_dirs` replaces a function's CodeUri folder (tests run stand-in handlers through real wiring)."""
        self.env = env
        self.template = env.template
        self.api_key = api_key or os.environ.get("LOCAL_API_KEY") or secrets.token_urlsafe(24)
        self._code_dirs = {lid: Path(path) for lid, path in (code_dirs or {}).items()}
        self._functions = {lid: spec for lid, spec in self.template.functions().items() if lid not in env.skipped}
        self._modules: dict[str, ModuleType] = {}
        self._routes = self._api_routes()
        self._queue_sources = self._event_queue_sources()
        self._schedules_cache: dict[str, _SchedulerSchedule] | None = None

    # ------------------------------------------------------------ invoking

    def function(self, function_id: str) -> FunctionSpec:
        try:
            return self._functions[function_id]
        except KeyError:
            raise TemplateError(f"no function {function_id!r} in the template") from None

    def code_dir(self, function_id: str) -> Path:
        spec = self.function(function_id)
        return self._code_dirs.get(function_id) or (self.template.root / spec.code_uri).resolve()

    def layer_dirs(self, function_id: str) -> list[Path]:
        """Folders that Lambda would mount under /opt/python for this function's layers."""
        folders: list[Path] = []
        for layer in self.function(function_id).layers:
            logical_id = layer.get("Ref") if isinstance(layer, dict) else None
            if logical_id not in self.template.resources:
                continue  # a published layer ARN: its code is not in this repository
            resource = self.template.resources[logical_id]
            content = (resource.get("Properties") or {}).get("ContentUri") or (resource.get("Properties") or {}).get(
                "Content"
            )
            if not isinstance(content, str):
                continue
            folder = (self.template.root / content).resolve()
            # With a BuildMethod, `sam build` moves the folder's contents under python/; without one the
            # folder must already have the python/ layout.
            if not (resource.get("Metadata") or {}).get("BuildMethod") and (folder / "python").is_dir():
                folder = folder / "python"
            folders.append(folder)
        return folders

    def handler(self, function_id: str) -> Any:
        """The function's handler callable, importing its module on first use."""
        spec = self.function(function_id)
        module_path, _, attribute = spec.handler.rpartition(".")
        if function_id not in self._modules:
            self._modules[function_id] = self._import(function_id, module_path)
        try:
            return getattr(self._modules[function_id], attribute)
        except AttributeError:
            raise TemplateError(f"{function_id}: handler {spec.handler} not found") from None

    def context(self, function_id: str) -> FakeLambdaContext:
        spec = self.function(function_id)
        return FakeLambdaContext(
            function_name=self.env.function_name(function_id),
            memory_limit_in_mb=spec.memory_size,
            invoked_function_arn=self.env.arns[function_id],
            timeout_seconds=spec.timeout,
        )

    def invoke(self, function_id: str, event: Any) -> Any:
        """Call the function's handler with `event` inside its environment; exceptions propagate."""
        with self._function_environment(function_id):
            handler = self.handler(function_id)
            return handler(event, self.context(function_id))

    def _import(self, function_id: str, module_path: str) -> ModuleType:
        code_dir = self.code_dir(function_id)
        relative = Path(*module_path.split("."))
        candidates = [code_dir / relative.with_suffix(".py"), code_dir / relative / "__init__.py"]
        file = next((path for path in candidates if path.is_file()), None)
        if file is None:
            raise TemplateError(f"{function_id}: no {relative}.py in {code_dir}")
        name = f"local_runtime.functions.{function_id}"
        module_spec = importlib.util.spec_from_file_location(name, file)
        if module_spec is None or module_spec.loader is None:
            raise TemplateError(f"{function_id}: cannot import {file}")
        module = importlib.util.module_from_spec(module_spec)
        with self._function_environment(function_id):
            # Registered before running so that dataclasses and pydantic can find the module by name.
            sys.modules[name] = module
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        return module

    @contextmanager
    def _function_environment(self, function_id: str) -> Iterator[None]:
        spec = self.function(function_id)
        name = self.env.function_name(function_id)
        variables = {
            **self.env.function_environment(function_id),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_REGION": self.env.region,
            "AWS_DEFAULT_REGION": self.env.region,
            "AWS_ENDPOINT_URL": self.env.endpoint_url,
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(self.code_dir(function_id)),
            # What `sam local` sets; Powertools turns X-Ray off when it sees it (there is no daemon locally).
            "AWS_SAM_LOCAL": "true",
        }
        saved = {key: os.environ.get(key) for key in variables}
        paths = [str(self.code_dir(function_id)), *(str(folder) for folder in self.layer_dirs(function_id))]
        added = [path for path in paths if path not in sys.path]
        os.environ.update(variables)
        sys.path[:0] = added
        try:
            yield
        finally:
            for path in added:
                if path in sys.path:
                    sys.path.remove(path)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # ------------------------------------------------------------ queues

    def queue_sources(self) -> list[tuple[str, str, str]]:
        """(function id, event name, queue URL) for every queue the router drains."""
        return [(source.function_id, source.event_name, source.queue_url) for source in self._queue_sources]

    def _event_queue_sources(self) -> list[_QueueSource]:
        sources: list[_QueueSource] = []
        for function_id, spec in self._functions.items():
            for event in spec.events_of_type("SQS"):
                props = self.env.resolve(dict(event.properties))
                arn = str(props["Queue"])
                sources.append(
                    _QueueSource(
                        function_id=function_id,
                        event_name=event.name,
                        queue_url=self.env.queue_url_for_arn(arn),
                        queue_arn=arn,
                        batch_size=int(props.get("BatchSize", 10)),
                        report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    )
                )
        for push in self.env.push_sources:
            if push.function_id in self._functions:
                sources.append(
                    _QueueSource(
                        function_id=push.function_id,
                        event_name=push.event_name,
                        queue_url=push.queue_url,
                        queue_arn=push.queue_arn,
                        batch_size=1,
                        report_failures=False,
                        push=push,
                    )
                )
        return sources

    def drain(self, max_rounds: int = 100, *, only: Collection[str] | None = None) -> DrainStats:
        """Deliver queued messages to their functions until every source queue is empty.

        A message whose processing failed (reported in `batchItemFailures`, or the whole batch when the handler
        raised) becomes visible again at once; the queue's redrive policy moves it to its DLQ after
        maxReceiveCount receives, exactly as in AWS, just without waiting for the visibility timeout.
        `only` limits delivery to the sources of these functions (the other queues keep their messages).
        """
        stats = DrainStats()
        sqs = self.env.client("sqs")
        sources = [s for s in self._queue_sources if only is None or s.function_id in only]
        for _ in range(max_rounds):
            busy = False
            for source in sources:
                messages = self._receive(sqs, source)
                if not messages:
                    continue
                busy = True
                if source.push is None:
                    self._deliver_batch(sqs, source, messages, stats)
                else:
                    self._deliver_push(sqs, source, messages[0], stats)
            if not busy:
                return stats
            stats.rounds += 1
        stats.drained = False
        return stats

    def _receive(self, sqs: Any, source: _QueueSource) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < source.batch_size:
            received = sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=min(_SQS_RECEIVE_LIMIT, source.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not received:
                break
            messages.extend(received)
        return messages

    def _deliver_batch(self, sqs: Any, source: _QueueSource, messages: list[dict[str, Any]], stats: DrainStats) -> None:
        event = {"Records": [self._sqs_record(message, source.queue_arn) for message in messages]}
        all_ids = {message["MessageId"] for message in messages}
        failed = all_ids
        try:
            result = self._counted_invoke(source.function_id, event, stats)
        except Exception:
            stats.errors.append(f"{source.function_id}: {traceback.format_exc(limit=5)}")
        else:
            failed = self._failed_ids(result, all_ids) if source.report_failures else set()
        done = [message for message in messages if message["MessageId"] not in failed]
        retry = [message for message in messages if message["MessageId"] in failed]
        self._delete(sqs, source.queue_url, done)
        self._make_visible(sqs, source.queue_url, retry)
        stats.processed += len(done)
        stats.retried += len(retry)

    @staticmethod
    def _failed_ids(result: Any, all_ids: set[str]) -> set[str]:
        """Message ids to retry from a partial batch response; a malformed response fails the whole batch."""
        if not isinstance(result, dict) or not result.get("batchItemFailures"):
            return set()
        ids = {str(item.get("itemIdentifier") or "") for item in result["batchItemFailures"] if isinstance(item, dict)}
        if len(ids) != len(result["batchItemFailures"]) or not ids <= all_ids:
            return all_ids
        return ids

    def _deliver_push(self, sqs: Any, source: _QueueSource, message: dict[str, Any], stats: DrainStats) -> None:
        assert source.push is not None
        event = json.loads(message["Body"])
        if source.push.event_type == "S3" and event.get("Event") == "s3:TestEvent":
            # S3 sends this to a queue when notifications are configured; Lambda never sees it.
            self._delete(sqs, source.queue_url, [message])
            return
        event = _apply_target_input(event, source.push)
        try:
            self._counted_invoke(source.function_id, event, stats)
        except Exception:
            stats.errors.append(f"{source.function_id}: {traceback.format_exc(limit=5)}")
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if attempts < _ASYNC_ATTEMPTS:
                self._make_visible(sqs, source.queue_url, [message])
                stats.retried += 1
                return
        else:
            stats.processed += 1
        self._delete(sqs, source.queue_url, [message])

    def _counted_invoke(self, function_id: str, event: Any, stats: DrainStats) -> Any:
        stats.invocations += 1
        stats.invocations_by_function[function_id] = stats.invocations_by_function.get(function_id, 0) + 1
        return self.invoke(function_id, event)

    def _sqs_record(self, message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {key: attributes[key] for key in _SQS_SYSTEM_ATTRIBUTES if key in attributes},
            "messageAttributes": {
                name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": self.env.region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    @staticmethod
    def _delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), _SQS_RECEIVE_LIMIT):
            chunk = messages[start : start + _SQS_RECEIVE_LIMIT]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)

    @staticmethod
    def _make_visible(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), _SQS_RECEIVE_LIMIT):
            chunk = messages[start : start + _SQS_RECEIVE_LIMIT]
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(chunk)
            ]
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)

    # ------------------------------------------------------------ API Gateway

    def _api_routes(self) -> list[_Route]:
        routes: list[_Route] = []
        for function_id, spec in self._functions.items():
            for event in spec.events_of_type("Api"):
                props = event.properties
                api_ref = props.get("RestApiId")
                api_id = api_ref.get("Ref") if isinstance(api_ref, dict) else None
                api_props = self.template.properties(api_id) if api_id else {}
                auth = props.get("Auth") or {}
                key_required = auth.get("ApiKeyRequired", (api_props.get("Auth") or {}).get("ApiKeyRequired", False))
                stage = self.env.resolve(api_props.get("StageName", "Prod"))
                routes.append(
                    _Route(
                        function_id=function_id,
                        api_id=str(self.env.physical_ids.get(api_id or "", "local")),
                        resource=str(props["Path"]),
                        method=str(props["Method"]).upper(),
                        stage=str(stage),
                        api_key_required=str(key_required).lower() == "true",
                    )
                )
        return routes

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str | list[str]] | None = None,
        query: Mapping[str, str | list[str]] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """Send one request through API Gateway's REST proxy integration: (status, headers, parsed body)."""
        response = self.api_response(method, path, body=body, headers=headers, query=query)
        return response.status, response.headers, response.json()

    def api_response(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str | list[str]] | None = None,
        query: Mapping[str, str | list[str]] | None = None,
    ) -> ApiResponse:
        """Like `api`, but returns the raw response (what a local HTTP server sends back)."""
        method = method.upper()
        path = "/" + path.lstrip("/")
        multi_headers = {name: _as_list(value) for name, value in (headers or {}).items()}
        body_text, is_base64 = _encode_body(body)
        if isinstance(body, (dict, list)) and not _header(multi_headers, "content-type"):
            multi_headers["Content-Type"] = ["application/json"]
        multi_headers.setdefault("Host", ["localhost"])

        match = self._route(method, path)
        if match is None:
            return _json_response(403, NO_ROUTE)
        route, path_params = match
        presented_key = _header(multi_headers, "x-api-key")
        if route.api_key_required and presented_key != self.api_key:
            return _json_response(403, FORBIDDEN)

        multi_query = {name: _as_list(value) for name, value in (query or {}).items()}
        now = datetime.now(UTC)
        event = {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": self.env.account_id,
                "apiId": route.api_id,
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": method,
                "path": f"/{route.stage}{path}",
                "stage": route.stage,
                "requestId": str(uuid.uuid4()),
                "extendedRequestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "protocol": "HTTP/1.1",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "identity": {
                    "apiKey": presented_key if route.api_key_required else None,
                    "apiKeyId": "local" if route.api_key_required else None,
                    "sourceIp": "127.0.0.1",
                    "userAgent": _header(multi_headers, "user-agent"),
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                },
            },
            "body": body_text,
            "isBase64Encoded": is_base64,
        }
        try:
            result = self.invoke(route.function_id, event)
        except Exception:
            traceback.print_exc()
            return _json_response(502, BAD_GATEWAY)
        return _proxy_response(result)

    def _route(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        matches = [
            (route, params)
            for route in self._routes
            if route.method in ("ANY", method) and (params := route.match(path)) is not None
        ]
        if not matches:
            return None
        return max(matches, key=lambda item: item[0].specificity)

    # ------------------------------------------------------------ schedules

    def fire_schedule(self, function_id: str, event_name: str | None = None, time: datetime | None = None) -> Any:
        """Invoke a function as its Schedule / ScheduleV2 event would at `time` (default: now).

        `function_id` may also name an `AWS::Scheduler::Schedule` resource: its target function is invoked with the
        schedule's `Input` (which Scheduler passes as the event), or with Scheduler's default event without one.
        """
        if function_id in self._scheduler_schedules():
            return self._fire_scheduler_schedule(function_id, time)
        spec = self.function(function_id)
        schedules = {event.name: event for event in spec.events_of_type(*_SCHEDULE_EVENT_TYPES)}
        if event_name is None:
            if len(schedules) != 1:
                raise TemplateError(f"{function_id} has schedules {sorted(schedules)}; name the one to fire")
            event_name = next(iter(schedules))
        if event_name not in schedules:
            raise TemplateError(f"{function_id} has no schedule event {event_name!r}")
        source = schedules[event_name]
        props = self.env.resolve(dict(source.properties))
        if props.get("Input") is not None:
            return self.invoke(function_id, json.loads(props["Input"]))
        detail: Any
        fired_at = (time or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        name = props.get("Name") or f"{self.env.stack_name}-{function_id}{event_name}"
        if source.type == "ScheduleV2":
            group = props.get("GroupName") or "default"
            resource = f"arn:aws:scheduler:{self.env.region}:{self.env.account_id}:schedule/{group}/{name}"
            # Scheduler's default notification (no Input) carries `detail` as the JSON text "{}".
            event_source, detail = "aws.scheduler", "{}"
        else:
            resource = f"arn:aws:events:{self.env.region}:{self.env.account_id}:rule/{name}"
            event_source, detail = "aws.events", {}
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": event_source,
            "account": self.env.account_id,
            "time": fired_at,
            "region": self.env.region,
            "resources": [resource],
            "detail": detail,
        }
        return self.invoke(function_id, event)

    def schedules(self) -> list[tuple[str, str, str]]:
        """(function id, event name, schedule expression) for every scheduled function; for a Scheduler schedule
        resource the "event name" is the schedule's logical id."""
        found = []
        for function_id, spec in self._functions.items():
            for event in spec.events_of_type(*_SCHEDULE_EVENT_TYPES):
                props = self.env.resolve(dict(event.properties))
                found.append((function_id, event.name, str(props.get("Schedule") or props.get("ScheduleExpression"))))
        for logical_id, schedule in self._scheduler_schedules().items():
            found.append((schedule.function_id, logical_id, schedule.expression))
        return found

    def _scheduler_schedules(self) -> dict[str, _SchedulerSchedule]:
        """`AWS::Scheduler::Schedule` resources whose target is a function of this template.

        Only the target's ARN, input and expression are resolved: the execution role and the DLQ have no local
        counterpart (moto stores schedules but never fires them; here the caller's clock does).
        """
        if self._schedules_cache is not None:
            return self._schedules_cache
        found: dict[str, _SchedulerSchedule] = {}
        by_arn = {self.env.arns.get(function_id): function_id for function_id in self._functions}
        for logical_id, resource in self.template.resources_of_type("AWS::Scheduler::Schedule").items():
            condition = resource.get("Condition")
            if condition and not self.env.resolver.condition(condition):
                continue
            props = resource.get("Properties") or {}
            target = props.get("Target") or {}
            function_id = by_arn.get(str(self.env.resolve(target.get("Arn"))))
            if function_id is None:
                continue
            raw_input = self.env.resolve(target["Input"]) if "Input" in target else None
            group = self.env.resolve(props.get("GroupName", "default"))
            found[logical_id] = _SchedulerSchedule(
                function_id=function_id,
                expression=str(self.env.resolve(props.get("ScheduleExpression"))),
                input=str(raw_input) if raw_input is not None else None,
                arn=f"arn:aws:scheduler:{self.env.region}:{self.env.account_id}:schedule/{group}/{logical_id}",
            )
        self._schedules_cache = found
        return found

    def _fire_scheduler_schedule(self, logical_id: str, time: datetime | None) -> Any:
        schedule = self._scheduler_schedules()[logical_id]
        if schedule.input is not None:
            return self.invoke(schedule.function_id, json.loads(schedule.input))
        fired_at = (time or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": self.env.account_id,
            "time": fired_at,
            "region": self.env.region,
            "resources": [schedule.arn],
            "detail": "{}",
        }
        return self.invoke(schedule.function_id, event)


# ---------------------------------------------------------------- helpers


def _as_list(value: str | list[str]) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _header(headers: Mapping[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name and values:
            return values[-1]
    return None


def _encode_body(body: Any) -> tuple[str | None, bool]:
    """The proxy event's body: JSON for data, text as is, bytes as text when UTF-8 and base64 otherwise."""
    if body is None:
        return None, False
    if isinstance(body, (dict, list)):
        return json.dumps(body), False
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            return base64.b64encode(body).decode(), True
    return str(body), False


def _json_response(status: int, payload: Any) -> ApiResponse:
    return ApiResponse(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())


def _proxy_response(result: Any) -> ApiResponse:
    """Translate a proxy-integration result; anything malformed is a 502, as API Gateway does."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return _json_response(502, BAD_GATEWAY)
    headers = {str(key): str(value) for key, value in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(key)] = ", ".join(str(value) for value in values)
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body)
        except (binascii.Error, ValueError):
            return _json_response(502, BAD_GATEWAY)
    else:
        raw = str(body).encode()
    return ApiResponse(result["statusCode"], headers, raw)


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS message attribute in the shape Lambda uses (camelCase, binary as base64 text)."""
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def _apply_target_input(event: Any, push: PushSource) -> Any:
    """Apply a rule target's constant `Input` or `InputPath` ($.a.b form) the way EventBridge does."""
    if push.input is not None:
        return json.loads(push.input)
    if push.input_path:
        for part in push.input_path.removeprefix("$").strip(".").split("."):
            if part:
                event = event[part]
    return event


__all__ = [
    "ApiResponse",
    "DrainStats",
    "FakeLambdaContext",
    "Router",
]
