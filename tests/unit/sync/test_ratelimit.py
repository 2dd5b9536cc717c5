"""The per-channel limiter: never more than the documented requests in any window, across containers too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from segmentation.sync.adapters.base import Rate
from segmentation.sync.ratelimit import RateLimiter, SimulatedClock


def max_in_window(times: list[float], span: float) -> int:
    return max((sum(1 for t in times if start <= t < start + span) for start in times), default=0)


@given(
    requests=st.integers(1, 20),
    per=st.sampled_from([1.0, 10.0, 60.0]),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=80),
)
def test_limiter_never_exceeds_any_window(requests, per, gaps):
    clock = SimulatedClock()
    limiter = RateLimiter({"default": (Rate(requests, per),)}, clock)
    sent = []
    for gap in gaps:
        clock.advance(gap)
        limiter.acquire("default")
        sent.append(clock.time())
    assert max_in_window(sent, per) <= requests


def test_limiter_holds_every_window_of_a_bucket():
    clock = SimulatedClock()
    limiter = RateLimiter({"lists": (Rate(10, 1.0), Rate(150, 60.0))}, clock)
    sent = []
    for _ in range(400):
        limiter.acquire("lists")
        sent.append(clock.time())
    assert max_in_window(sent, 1.0) <= 10 and max_in_window(sent, 60.0) <= 150
    # Sustained over whole windows: close to the steady limit, and never above it.
    rate = 300 / (sent[300] - sent[0])
    assert 0.9 * 150 / 60 <= rate <= 150 / 60


def test_a_new_container_restored_from_the_snapshot_does_not_burst():
    clock = SimulatedClock()
    first = RateLimiter({"default": (Rate(5, 10.0),)}, clock)
    sent = []
    for _ in range(5):
        first.acquire("default")
        sent.append(clock.time())
    second = RateLimiter({"default": (Rate(5, 10.0),)}, clock)
    second.restore(first.snapshot())
    second.acquire("default")
    sent.append(clock.time())
    assert max_in_window(sent, 10.0) <= 5


def test_unlimited_buckets_never_wait():
    clock = SimulatedClock()
    limiter = RateLimiter({}, clock)
    for _ in range(100):
        assert limiter.acquire(None) == 0.0 and limiter.acquire("default") == 0.0
