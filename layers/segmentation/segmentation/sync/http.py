"""JSON over HTTP for the adapters, on urllib3 (already in Lambda via botocore: no extra layer weight).

One pool per container, imported on first use. The client never retries by itself: the delivery engine owns
retries, so that backoff honours each platform's throttle signal and counts against the rate limiter.
``check`` is the default response classification; adapters add their platform's quirks around it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from segmentation.sync.adapters.base import NotConfigured, Rejected, Retryable, Throttled, redact


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self) -> str:
        return redact(self.body.decode("utf-8", errors="replace"))

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class JsonHttp:
    """``request`` sends JSON and returns the response whatever its status; transport failures (timeout,
    reset, refused) raise :class:`Retryable`: the request may or may not have been applied, and every
    adapter operation is idempotent, so resending is safe."""

    def __init__(self, timeout: float = 10.0, connect_timeout: float = 3.0) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._pool: Any = None

    def _manager(self) -> Any:
        if self._pool is None:
            import urllib3

            self._pool = urllib3.PoolManager(num_pools=4, maxsize=4, retries=False)
        return self._pool

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    ) -> HttpResponse:
        import urllib3

        if query:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(query, doseq=True)}"
        sent = {"Accept": "application/json", **(headers or {})}
        body = raw_body
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        try:
            response = self._manager().request(
                method,
                url,
                body=body,
                headers=sent,
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.timeout),
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise Retryable(f"{method} {_path(url)}: {exc.__class__.__name__}") from exc
        return HttpResponse(response.status, response.headers, response.data or b"")


def _path(url: str) -> str:
    """The URL without host and query: fit for logs (hosts can name accounts; queries can hold addresses)."""
    without_scheme = url.split("://", 1)[-1]
    return "/" + without_scheme.split("/", 1)[-1].split("?", 1)[0] if "/" in without_scheme else "/"


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


def check(response: HttpResponse, what: str) -> HttpResponse:
    """Default classification of a whole response: 2xx passes; 429 throttles (Retry-After honoured);
    401/403 mean the credentials or scopes are wrong; 408 and 5xx are retryable; any other 4xx rejects."""
    status = response.status
    if 200 <= status < 300:
        return response
    if status == 429:
        raise Throttled(f"{what}: 429 throttled", retry_after(response.headers))
    if status in (401, 403):
        raise NotConfigured(f"{what}: {status} credentials refused ({response.text()[:120]})")
    if status == 408 or status >= 500:
        raise Retryable(f"{what}: {status}", retry_after(response.headers))
    raise Rejected(f"{what}: {status} {response.text()}")
