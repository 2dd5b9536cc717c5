"""Client-side rate limiting per destination, and the clock it runs on.

A sliding-window log per bucket: a request is sent only when every window of the bucket (e.g. Klaviyo's
10 per second *and* 150 per minute) has room, so the platform never sees more than its documented limit in
any window, wherever its own window boundaries fall. Windows are stretched by ``MARGIN`` because requests
reach the platform with jitter and its clock is not ours; sustained throughput is therefore ~95% of the limit.

Deliveries for one channel are serialised by the sync queue's message groups, so one limiter is active per
channel at a time; its recent requests are saved with the channel's sync state at the end of each task and
restored by the next container, so a hand-over between containers cannot burst past the limit.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from segmentation.sync.adapters.base import Rate

MARGIN = 1.05


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimulatedClock:
    """Time that passes only when someone sleeps: benchmarks and tests run hours of rate-limited traffic in
    seconds. Thread-safe, because fake platforms read it from their server threads."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


class RateLimiter:
    def __init__(self, rates: Mapping[str, tuple[Rate, ...]], clock: Clock) -> None:
        self.rates = dict(rates)
        self.clock = clock
        self._log: dict[str, list[float]] = {name: [] for name in self.rates}
        self._horizon = {
            name: max((r.per_seconds * MARGIN for r in windows), default=0.0) for name, windows in rates.items()
        }
        self.waited = 0.0
        self.requests = 0
        # The bucket that requests draw from right now: the engine sets it per operation (see PacedHttp).
        self.current_bucket: str | None = None

    def wait_time(self, bucket: str | None) -> float:
        """Seconds until ``bucket`` has room for one more request (0 when it has room now)."""
        if bucket is None or bucket not in self.rates:
            return 0.0
        now = self.clock.time()
        log = self._log[bucket]
        del log[: bisect.bisect_right(log, now - self._horizon[bucket])]
        wait = 0.0
        for rate in self.rates[bucket]:
            span = rate.per_seconds * MARGIN
            start = bisect.bisect_right(log, now - span)
            in_window = len(log) - start
            if in_window >= rate.requests:
                # The oldest requests of the window must age out until only requests - 1 remain.
                wait = max(wait, log[start + in_window - rate.requests] + span - now)
        return wait

    def acquire(self, bucket: str | None) -> float:
        """Block (on the clock) until the bucket has room, then count one request. Returns the time waited."""
        self.requests += 1
        if bucket is None or bucket not in self.rates:
            return 0.0
        waited = 0.0
        while (wait := self.wait_time(bucket)) > 0:
            self.clock.sleep(wait)
            waited += wait
        self._log[bucket].append(self.clock.time())
        self.waited += waited
        return waited

    def snapshot(self) -> dict[str, list[float]]:
        """Recent requests per bucket, to persist across containers."""
        now = self.clock.time()
        return {name: [t for t in log if t > now - self._horizon[name]] for name, log in self._log.items() if log}

    def restore(self, snapshot: Mapping[str, list[float]]) -> None:
        for name, times in snapshot.items():
            if name in self._log:
                self._log[name] = sorted(self._log[name] + [float(t) for t in times])


class PacedHttp:
    """The HTTP client an adapter gets: every request it sends, lookups included, first takes a slot from the
    limiter's current bucket, so the platform's limit holds however many requests an operation makes."""

    def __init__(self, http: Any, limiter: RateLimiter) -> None:
        self.http = http
        self.limiter = limiter

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.limiter.acquire(self.limiter.current_bucket)
        return self.http.request(method, url, **kwargs)
