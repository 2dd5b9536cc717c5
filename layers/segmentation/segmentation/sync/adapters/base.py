"""The adapter interface and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Contact:
    customer_id: str
    email: str | None = None
    phone: str | None = None


@dataclass
class DeliveryResult:
    """Per-record outcome: delivered, worth retrying, or rejected for good (with the reason)."""

    delivered: list[str] = field(default_factory=list)
    retryable: dict[str, str] = field(default_factory=dict)
    terminal: dict[str, str] = field(default_factory=dict)


class RetryableDeliveryError(Exception):
    """The whole request may succeed later (throttled, 5xx, timeout)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelAdapter(Protocol):
    channel: str

    def sync(self, segment_id: str, list_name: str | None, add: list[Contact], remove: list[Contact]) -> DeliveryResult:
        """Make the destination hold ``add`` and not hold ``remove`` for this segment/list."""
        ...
