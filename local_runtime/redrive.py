"""`python -m local_runtime redrive`: move dead-lettered sync tasks back to the sync queue.

Against a deployed stack: ``--stack <name> [--region eu-west-1]`` finds both queues through CloudFormation.
Against anything else (a running local runtime, or explicit queues): ``--dlq-url``, ``--queue-url`` and, for
a local endpoint, ``--endpoint-url``. ``--dlq SyncDLQ --queue SyncQueue`` pick other queue pairs of the stack.
"""

from __future__ import annotations

import argparse
from typing import Any

from local_runtime.cli import Command


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="name of a deployed stack (queues are looked up in CloudFormation)")
    parser.add_argument("--region", help="AWS region of the stack")
    parser.add_argument("--dlq", default="SyncDLQ", help="logical id of the dead-letter queue (default SyncDLQ)")
    parser.add_argument("--queue", default="SyncQueue", help="logical id of the queue to send back to")
    parser.add_argument("--dlq-url", help="dead-letter queue URL (instead of --stack)")
    parser.add_argument("--queue-url", help="queue URL to send back to (instead of --stack)")
    parser.add_argument("--endpoint-url", help="SQS endpoint, e.g. a local runtime")
    parser.add_argument("--limit", type=int, help="move at most this many messages")


def queue_urls(cloudformation: Any, stack: str, dlq: str, queue: str) -> tuple[str, str]:
    def physical(logical_id: str) -> str:
        found = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
        return str(found["StackResourceDetail"]["PhysicalResourceId"])

    return physical(dlq), physical(queue)


def _run(args: argparse.Namespace) -> int:
    import boto3

    from segmentation.sync.redrive import redrive

    session = boto3.session.Session(region_name=args.region)
    if args.stack:
        dlq_url, queue_url = queue_urls(session.client("cloudformation"), args.stack, args.dlq, args.queue)
    elif args.dlq_url and args.queue_url:
        dlq_url, queue_url = args.dlq_url, args.queue_url
    else:
        raise SystemExit("give --stack, or both --dlq-url and --queue-url")
    sqs = session.client("sqs", endpoint_url=args.endpoint_url)
    moved = redrive(sqs, dlq_url, queue_url, limit=args.limit)
    print(f"moved {moved} messages from {dlq_url} to {queue_url}")
    return 0


COMMAND = Command(help="move dead-lettered sync tasks back to the sync queue", configure=_configure, run=_run)
