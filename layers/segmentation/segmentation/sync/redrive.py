"""Move dead-lettered messages back to their queue, once their cause (credentials, an outage) is fixed.

Works on any SQS queue pair, standard or FIFO, in AWS or the local runtime. A FIFO message keeps its group
(the channel) and gets a fresh deduplication id, since the original may still be inside the 5-minute window.
Each message is deleted from the DLQ only after the queue accepted it, so an interrupted redrive loses
nothing (at worst a message is redriven twice, which a level-triggered delivery absorbs).
"""

from __future__ import annotations

import json
from typing import Any


def redrive(sqs: Any, dlq_url: str, queue_url: str, *, limit: int | None = None) -> int:
    fifo = queue_url.endswith(".fifo")
    moved = 0
    while limit is None or moved < limit:
        batch = 10 if limit is None else min(10, limit - moved)
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=batch,
            AttributeNames=["MessageGroupId"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=120,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            break
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = {
                    name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                    for name, value in message["MessageAttributes"].items()
                }
            if fifo:
                entry["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId") or _group(message["Body"])
                entry["MessageDeduplicationId"] = f"redrive-{message['MessageId']}"
            entries.append(entry)
        out = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent = {int(item["Id"]) for item in out.get("Successful", [])}
        done = [
            {"Id": str(i), "ReceiptHandle": messages[i]["ReceiptHandle"]} for i in range(len(messages)) if i in sent
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        moved += len(done)
        if len(done) < len(messages):
            raise RuntimeError(f"{len(messages) - len(done)} messages could not be sent back; they stay in the DLQ")
    return moved


def _group(body: str) -> str:
    try:
        channel = json.loads(body).get("channel")
    except (ValueError, AttributeError):
        channel = None
    return f"channel-{channel}" if channel else "redrive"
