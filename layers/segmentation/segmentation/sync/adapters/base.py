"""The adapter interface: what one platform implements, and the vocabulary the shared delivery engine speaks.

An adapter only maps to its platform's API. It receives batches that the engine has already cut to the
platform's limits, sends one request per call, and answers per record. Everything else (consent gate,
batching, rate limiting, retries with backoff, upsert-before-membership and the id cache, owned-member
marking, status and metrics) is written once in ``segmentation.sync.engine`` and ``segmentation.sync.delivery``.

A module ``segmentation/sync/adapters/<channel>.py`` is an adapter when it defines ``SPEC`` (a
:class:`ChannelSpec` whose ``name`` is the module name) and ``create(config, http)``; nothing else registers it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from segmentation.sync.http import HttpResponse

# --------------------------------------------------------------------------------------------- description


@dataclass(frozen=True)
class Rate:
    """At most ``requests`` in any window of ``per_seconds`` (the platform's documented limit)."""

    requests: int
    per_seconds: float


Operation = Literal["upsert", "add", "remove", "list"]


@dataclass(frozen=True)
class ChannelSpec:
    """What the shared machinery needs to know about a platform. Values come from its documentation."""

    name: str
    title: str
    # The contact attribute the platform identifies people by when we upsert them.
    identity: Literal["email", "phone", "customer_id"] = "email"
    # True when membership calls take the platform's own record id, so contacts are upserted first and the
    # id is cached (per customer and channel). False when membership calls take our identity directly.
    needs_upsert: bool = True
    # Records per request, per operation.
    upsert_batch: int = 1
    add_batch: int = 100
    remove_batch: int = 100
    # Rate-limit buckets: name -> windows that must all hold. ``operation_buckets`` says which bucket each
    # operation draws from (unlisted operations use "default"); an empty ``rates`` means no client-side limit.
    rates: Mapping[str, tuple[Rate, ...]] = field(default_factory=dict)
    operation_buckets: Mapping[str, str] = field(default_factory=dict)
    # True when ``list_members`` can read the destination's members (drift reconciliation compares them).
    can_list: bool = False
    # Wait this long after a throttle that carries no hint (None: exponential backoff).
    throttle_wait: float | None = None
    # False only for destinations with no consent meaning (our own webhook, a warehouse table).
    requires_purpose: bool = True
    # Destination field names (the keys of a destination's field mapping) must match this.
    field_pattern: str = r"^[A-Za-z0-9_]{1,64}$"
    # For docs/channels.md (the per-platform table is generated from the specs): how membership is
    # represented, how we authenticate, and how the platform signals throttling.
    representation: str = ""
    auth: str = ""
    throttle_signal: str = ""
    # Things the vendor documentation did not confirm; listed in docs/channels.md.
    unverified: tuple[str, ...] = ()

    def bucket(self, operation: Operation) -> str | None:
        if not self.rates:
            return None
        return self.operation_buckets.get(operation, "default")

    def batch_size(self, operation: Operation) -> int:
        return {"upsert": self.upsert_batch, "add": self.add_batch, "remove": self.remove_batch}.get(operation, 1)


@dataclass(frozen=True)
class Target:
    """One destination of one segment: the list, tag or audience name, and the field mapping."""

    segment_id: str
    list_name: str
    fields: Mapping[str, str] = field(default_factory=dict)  # platform field -> our profile attribute


@dataclass(frozen=True)
class Contact:
    """One person as the adapter sees them. ``platform_id`` is filled in by the engine (cache or upsert)."""

    customer_id: str
    email: str | None = None
    phone: str | None = None
    platform_id: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # platform field -> value, from the mapping


# --------------------------------------------------------------------------------------------- outcomes


class Verdict(StrEnum):
    OK = "ok"
    RETRY = "retry"  # may succeed later: throttled, 5xx, timeout, no answer for this record
    TERMINAL = "terminal"  # will never succeed as sent: invalid address, rejected by the platform
    STALE_ID = "stale_id"  # the cached platform id no longer exists there: upsert again, then retry


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str = ""
    platform_id: str | None = None  # set by upsert
    retry_after: float | None = None


OK = Outcome(Verdict.OK)

_EMAIL = re.compile(r"[^\s\"'<>@,;:]+@[^\s\"'<>@,;:]+")


def redact(text: str, limit: int = 300) -> str:
    """Platform error texts often echo the address they refused; reasons end up in the sync status and logs,
    which must never hold one."""
    return _EMAIL.sub("<email>", text)[:limit]


def ok(platform_id: str | None = None) -> Outcome:
    return Outcome(Verdict.OK, platform_id=platform_id) if platform_id else OK


def retry(reason: str, after: float | None = None) -> Outcome:
    return Outcome(Verdict.RETRY, redact(reason), retry_after=after)


def terminal(reason: str) -> Outcome:
    return Outcome(Verdict.TERMINAL, redact(reason))


def stale(reason: str = "record no longer exists at the platform") -> Outcome:
    return Outcome(Verdict.STALE_ID, redact(reason))


Outcomes = dict[str, Outcome]
"""Per record, keyed by customer id. A record the adapter does not answer for is treated as retryable."""


def all_ok(contacts: list[Contact]) -> Outcomes:
    return {c.customer_id: OK for c in contacts}


# --------------------------------------------------------------------------------------------- whole-request


class DeliveryError(Exception):
    """The whole request failed; subclasses say how the engine should react. Messages are redacted."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(redact(message), *args)


class Throttled(DeliveryError):
    """The platform's throttle signal (429, Shopify THROTTLED, Marketo 606/615, ...). Wait, then resend."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Retryable(DeliveryError):
    """5xx, timeout, connection reset, expired token: resend after a backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Rejected(DeliveryError):
    """A 4xx for the request as a whole. The engine splits a multi-record batch to isolate the bad records;
    a single record rejected this way is terminal."""


class NotConfigured(DeliveryError):
    """Credentials or destination configuration are refused (401/403) or invalid: nothing can succeed until
    an operator fixes it, so the task fails (and, after the queue's retries, waits in the DLQ for a redrive)."""


class ChannelDisabled(NotConfigured):
    """The channel is not set up in this deployment at all (no secret, no webhook URL). Its tasks are recorded
    in the status and dropped rather than dead-lettered: once it is set up, reconciliation backfills it."""


# --------------------------------------------------------------------------------------------- interface


class ChannelAdapter(Protocol):
    spec: ChannelSpec

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        """Create or update the contacts; each OK outcome carries the platform id. Never changes consent."""
        ...

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        """Make the contacts members of the target list/tag. Adding an existing member is OK."""
        ...

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        """Make the contacts non-members. Removing a non-member (or a 404) is OK."""
        ...

    def list_members(self, target: Target) -> Iterator[str]:
        """Platform ids of the target's members (only when ``spec.can_list``)."""
        ...


class Http(Protocol):
    """What adapters need from the HTTP client (``segmentation.sync.http.JsonHttp``)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    ) -> HttpResponse: ...
