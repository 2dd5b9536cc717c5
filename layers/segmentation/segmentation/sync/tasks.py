"""The sync task message: "bring channel C in line with segment S for these customers".

Tasks are level-triggered: they carry no add/remove verdicts, only whom to look at. The consumer reads the
membership and consent at delivery time, so duplicated, delayed or reordered tasks converge to the truth.

The queue is FIFO with one message group per channel: a channel's tasks are delivered one at a time and in
order (its rate limit is one budget, and an add can never overtake the removal that followed it), while
different channels proceed in parallel. ``task_id`` is the deduplication id: the same changes published
twice (a handler retried after publishing) are enqueued once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from segmentation.domain.models import ConsentChannel
from segmentation.domain.types import Model

MAX_CUSTOMERS_PER_TASK = 100


class SyncTask(Model):
    kind: Literal["deliver", "reconcile"] = "deliver"
    segment_id: str
    channel: str
    list_name: str | None = None
    purpose: ConsentChannel | None = ConsentChannel.EMAIL
    fields: dict[str, str] = Field(default_factory=dict, description="Platform field -> profile attribute.")
    customer_ids: list[str] = Field(default_factory=list, max_length=MAX_CUSTOMERS_PER_TASK)
    reason: str = "realtime"
    created_at: datetime
    task_id: str = ""

    @model_validator(mode="after")
    def _ids_for_deliveries(self) -> SyncTask:
        if self.kind == "deliver" and not self.customer_ids:
            raise ValueError("a delivery task names at least one customer")
        return self

    @property
    def group_id(self) -> str:
        return message_group(self.channel)

    @property
    def target_list(self) -> str:
        return self.list_name or self.segment_id


def message_group(channel: str) -> str:
    return f"channel-{channel}"


def task_id(segment_id: str, channel: str, list_name: str | None, parts: Iterable[str]) -> str:
    """Deterministic: the same changes for the same destination give the same id (SQS FIFO dedup, 5 min)."""
    digest = hashlib.sha256()
    for part in (segment_id, channel, list_name or "", *parts):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:64]
