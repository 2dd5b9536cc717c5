"""A framework for local fake marketing platforms: an HTTP server in a thread that plays one platform's API.

A fake subclasses :class:`FakePlatform` and declares its endpoints with ``@route(method, path_regex,
bucket=...)``. The framework does the rest, the same way for every platform:

* **auth**: ``authorized(request)`` is checked before any handler (401 otherwise);
* **body shape and batch limits**: handlers call ``self.require(...)`` / ``self.reject(...)``, which answer
  with the platform's error format (``error(status, message)``);
* **membership state**: ``self.lists[list_id]`` holds platform ids, ``self.contacts`` the records;
* **rate limits**: ``rates`` per bucket are enforced on the fake's clock (a real or simulated one); a request
  over the limit gets the platform's throttle signal and is counted in ``over_limit`` (a client bug);
  ``peak`` records the busiest window seen, so "never above the limit" can be checked;
* **faults**: ``Faults(throttle, error, timeout, partial)`` rates (seeded) and ``inject(kind, times)``
  scripts. A timeout drops the connection without an answer, half the time *after* applying the request:
  the nastiest case for idempotency. ``partial(items)`` picks records a handler fails inside a 2xx.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from local_runtime.aws import LOCALHOST
from segmentation.sync.adapters.base import Rate
from segmentation.sync.ratelimit import Clock, SystemClock

FAULT_KINDS = ("throttle", "error", "timeout", "timeout_applied", "partial")


@dataclass
class Faults:
    throttle: float = 0.0
    error: float = 0.0
    timeout: float = 0.0
    partial: float = 0.0
    seed: int = 0

    @classmethod
    def mixed(cls, rate: float, seed: int = 0) -> Faults:
        """``rate`` of requests fail, spread over every kind of fault."""
        return cls(throttle=rate / 4, error=rate / 4, timeout=rate / 4, partial=rate / 4, seed=seed)


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: Any
    raw: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def data(self) -> Any:
        """The JSON body ({} when there is none), typed loosely: handlers check its shape themselves."""
        return self.body if self.body is not None else {}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class FakeResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class PlatformError(Exception):
    def __init__(self, response: FakeResponse) -> None:
        super().__init__(response.status)
        self.response = response


class _Drop(Exception):
    """Close the connection without answering (a timeout as the client sees it)."""


def route(method: str, pattern: str, bucket: str = "default") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn._route = (method, re.compile(f"^{pattern}$"), bucket)  # type: ignore[attr-defined]
        return fn

    return mark


class FakePlatform:
    channel: ClassVar[str]
    rates: dict[str, tuple[Rate, ...]] = {}

    def __init__(self, *, clock: Clock | None = None, faults: Faults | None = None) -> None:
        self.clock = clock or SystemClock()
        self.rates = dict(type(self).rates)  # per instance: a demo may lift them
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.scripted: deque[str] = deque()
        self.lists: dict[str, set[str]] = defaultdict(set)
        self.contacts: dict[str, dict[str, Any]] = {}
        self.requests: Counter[str] = Counter()  # "METHOD route-name" -> count
        self.faults_injected: Counter[str] = Counter()
        self.over_limit = 0
        self.peak: dict[str, int] = {}  # "bucket:requests/per" -> most requests seen in one window
        self._times: dict[str, list[float]] = defaultdict(list)
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self._routes = [
            (*fn._route, fn)
            for name in dir(type(self))
            if (fn := getattr(self, name, None)) is not None and hasattr(fn, "_route")
        ]

    # ------------------------------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def start(self) -> FakePlatform:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = ValueError
                request = FakeRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    raw=raw,
                )
                try:
                    response = fake.dispatch(request)
                except _Drop:
                    self.close_connection = True
                    return
                payload = b"" if response.body is None else json.dumps(response.body).encode()
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((LOCALHOST, self.port), Handler)
        self._server.daemon_threads = True
        self._server.timeout = 0.05
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakePlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ dispatch

    def dispatch(self, request: FakeRequest) -> FakeResponse:
        for method, pattern, bucket, handler in self._routes:
            match = pattern.match(request.path)
            if method != request.method or match is None:
                continue
            with self.lock:
                self.requests[f"{method} {handler.__name__}"] += 1
                if not self.authorized(request):
                    return self.error(401, "missing or invalid credentials")
                if request.body is ValueError:
                    return self.error(400, "body is not valid JSON")
                fault = self._fault()
                if fault == "throttle":
                    return self.throttle(request, 1.0)
                if fault == "error":
                    return self.error(503, "service unavailable")
                if fault == "timeout":
                    raise _Drop
                over = self._count(bucket)
                if over is not None:
                    self.over_limit += 1
                    return self.throttle(request, over)
                self._partial_now = fault == "partial"
                try:
                    response = handler(request, **match.groupdict())
                except PlatformError as exc:
                    response = exc.response
                finally:
                    self._partial_now = False
                if fault == "timeout_applied":
                    raise _Drop
                return response
        return self.error(404, f"no such endpoint: {request.method} {request.path}")

    def _fault(self) -> str | None:
        if self.scripted:
            kind = self.scripted.popleft()
            self.faults_injected[kind] += 1
            return kind
        draw = self.rng.random()
        f = self.faults
        for kind, rate in (
            ("throttle", f.throttle),
            ("error", f.error),
            ("timeout", f.timeout),
            ("partial", f.partial),
        ):
            if draw < rate:
                if kind == "timeout" and self.rng.random() < 0.5:
                    kind = "timeout_applied"
                self.faults_injected[kind] += 1
                return kind
            draw -= rate
        return None

    def _count(self, bucket: str) -> float | None:
        """Enforce the bucket's windows; the wait the platform would suggest when over, else None."""
        windows = self.rates.get(bucket)
        if not windows:
            return None
        now = self.clock.time()
        times = self._times[bucket]
        horizon = max(w.per_seconds for w in windows)
        while times and times[0] <= now - horizon:
            times.pop(0)
        for window in windows:
            in_window = sum(1 for t in times if t > now - window.per_seconds)
            if in_window >= window.requests:
                oldest = next(t for t in times if t > now - window.per_seconds)
                return max(0.001, oldest + window.per_seconds - now)
        times.append(now)
        for window in windows:
            key = f"{bucket}:{window.requests}/{window.per_seconds:g}s"
            in_window = sum(1 for t in times if t > now - window.per_seconds)
            self.peak[key] = max(self.peak.get(key, 0), in_window)
        return None

    # ------------------------------------------------------------------------------------------ faults

    def inject(self, kind: str, times: int = 1) -> None:
        """The next ``times`` requests get this fault (before any random ones)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault must be one of {FAULT_KINDS}")
        self.scripted.extend([kind] * times)

    _partial_now = False

    def partial(self, items: list[Any]) -> set[int]:
        """Indexes of the records this request fails inside its 2xx (none unless a partial fault is due)."""
        if not self._partial_now or not items:
            return set()
        count = max(1, len(items) // 3)
        return set(self.rng.sample(range(len(items)), count))

    # ------------------------------------------------------------------------------------------ platform hooks

    def authorized(self, request: FakeRequest) -> bool:
        raise NotImplementedError

    def error(self, status: int, message: str) -> FakeResponse:
        """The platform's error body."""
        return FakeResponse(status, {"message": message})

    def throttle(self, request: FakeRequest, retry_after: float) -> FakeResponse:
        """The platform's throttle signal."""
        return FakeResponse(429, {"message": "rate limited"}, {"Retry-After": str(max(1, round(retry_after)))})

    # ------------------------------------------------------------------------------------------ handler helpers

    def reject(self, status: int, message: str) -> None:
        raise PlatformError(self.error(status, message))

    def require(self, condition: object, message: str, status: int = 400) -> None:
        if not condition:
            self.reject(status, message)

    # ------------------------------------------------------------------------------------------ what it holds

    def members(self, list_name: str) -> set[str]:
        """Platform ids in the list/tag called ``list_name`` (fakes map names to their own list ids)."""
        return set(self.lists.get(self.list_key(list_name), set()))

    def list_key(self, list_name: str) -> str:
        return list_name

    def member_emails(self, list_name: str) -> set[str]:
        return {str(self.contacts.get(pid, {}).get("email", pid)) for pid in self.members(list_name)}

    def summary(self) -> dict[str, Any]:
        return {
            "requests": sum(self.requests.values()),
            "lists": {name: len(ids) for name, ids in self.lists.items()},
            "contacts": len(self.contacts),
            "faults": dict(self.faults_injected),
            "over_limit": self.over_limit,
        }

    def iter_requests(self) -> Iterator[tuple[str, int]]:
        yield from self.requests.items()
