"""The sync task message: "bring channel C in line with segment S for these customers".

Tasks are level-triggered: they carry no add/remove verdicts, only whom to look at. The consumer reads the
membership and consent at delivery time, so duplicated, delayed or reordered tasks converge to the truth.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from segmentation.domain.models import ConsentChannel
from segmentation.domain.types import Model

MAX_CUSTOMERS_PER_TASK = 100


class SyncTask(Model):
    segment_id: str
    channel: str
    list_name: str | None = None
    purpose: ConsentChannel | None = ConsentChannel.EMAIL
    customer_ids: list[str] = Field(min_length=1, max_length=MAX_CUSTOMERS_PER_TASK)
    reason: str = "realtime"
    created_at: datetime
