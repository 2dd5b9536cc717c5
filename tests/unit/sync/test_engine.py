"""The shared delivery engine against a scripted adapter: batching, throttles, backoff, splitting, budget."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import pairwise

import pytest

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Outcomes,
    Rate,
    Rejected,
    Retryable,
    Target,
    Throttled,
    Verdict,
    ok,
    retry,
)
from segmentation.sync.engine import DeliveryEngine
from segmentation.sync.ratelimit import RateLimiter, SimulatedClock

TARGET = Target("vip", "vip")


class ScriptedAdapter:
    """Answers each call from a script: an exception to raise, a callable, or all OK."""

    def __init__(self, spec: ChannelSpec, script: list | None = None) -> None:
        self.spec = spec
        self.script = deque(script or [])
        self.batches: list[list[str]] = []

    def _answer(self, contacts: list[Contact]) -> Outcomes:
        self.batches.append([c.customer_id for c in contacts])
        step = self.script.popleft() if self.script else None
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(contacts)
        return {c.customer_id: ok() for c in contacts}

    upsert = add = remove = lambda self, target, contacts: self._answer(contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        return iter(())


def contacts(n: int) -> list[Contact]:
    return [Contact(f"c{i:03d}", f"c{i}@example.com") for i in range(n)]


def engine(adapter: ScriptedAdapter, clock: SimulatedClock, budget: float = 1000.0) -> DeliveryEngine:
    return DeliveryEngine(adapter, RateLimiter(adapter.spec.rates, clock), clock, deadline=clock.time() + budget)


def test_engine_cuts_batches_to_the_platform_size():
    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X", add_batch=40))
    out = engine(adapter, SimulatedClock()).run("add", TARGET, contacts(100))
    assert [len(b) for b in adapter.batches] == [40, 40, 20]
    assert all(o.verdict == Verdict.OK for o in out.values()) and len(out) == 100


def test_engine_waits_exactly_the_throttle_hint_then_resends():
    clock = SimulatedClock()
    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X"), [Throttled("429", retry_after=7.0)])
    start = clock.time()
    e = engine(adapter, clock)
    out = e.run("add", TARGET, contacts(3))
    assert clock.time() - start == pytest.approx(7.0)
    assert len(adapter.batches) == 2 and e.stats.throttled == 1
    assert {o.verdict for o in out.values()} == {Verdict.OK}


def test_engine_uses_the_spec_wait_for_a_throttle_without_hint():
    clock = SimulatedClock()
    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X", throttle_wait=10.0), [Throttled("429")])
    start = clock.time()
    engine(adapter, clock).run("add", TARGET, contacts(1))
    assert clock.time() - start == pytest.approx(10.0)


def test_engine_backs_off_exponentially_on_server_errors():
    clock = SimulatedClock()
    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X"), [Retryable("503")] * 3)
    times = []
    original = adapter._answer

    def record(contacts):
        times.append(clock.time())
        return original(contacts)

    adapter._answer = record  # type: ignore[method-assign]
    out = engine(adapter, clock).run("add", TARGET, contacts(2))
    assert {o.verdict for o in out.values()} == {Verdict.OK}
    gaps = [b - a for a, b in pairwise(times)]
    assert len(gaps) == 3 and all(g >= 0.5 for g in gaps)


def test_engine_hands_back_to_the_queue_when_the_wait_exceeds_the_budget():
    clock = SimulatedClock()
    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X"), [Throttled("429", retry_after=120.0)])
    out = engine(adapter, clock, budget=20.0).run("add", TARGET, contacts(2))
    assert {o.verdict for o in out.values()} == {Verdict.RETRY}
    assert {o.retry_after for o in out.values()} == {120.0}
    assert len(adapter.batches) == 1  # did not sleep in Lambda


def test_engine_splits_a_rejected_batch_until_the_bad_record_is_alone():
    def reject_if_bad(batch):
        if any(c.customer_id == "c005" for c in batch):
            raise Rejected("400 invalid record")
        return {c.customer_id: ok() for c in batch}

    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X", add_batch=16), [reject_if_bad] * 20)
    out = engine(adapter, SimulatedClock()).run("add", TARGET, contacts(16))
    assert out["c005"].verdict == Verdict.TERMINAL
    assert all(o.verdict == Verdict.OK for cid, o in out.items() if cid != "c005")
    assert len(adapter.batches) <= 2 * 4 + 1  # a binary search, not one request per record


def test_engine_resends_only_the_records_that_failed_inside_a_2xx():
    def half(batch):
        return {c.customer_id: retry("busy") if c.customer_id in ("c001", "c003") else ok() for c in batch}

    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X"), [half])
    out = engine(adapter, SimulatedClock()).run("add", TARGET, contacts(4))
    assert adapter.batches == [["c000", "c001", "c002", "c003"], ["c001", "c003"]]
    assert {o.verdict for o in out.values()} == {Verdict.OK}


def test_engine_treats_a_record_without_an_answer_as_retryable():
    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X"), [lambda batch: {}])
    out = engine(adapter, SimulatedClock()).run("add", TARGET, contacts(2))
    assert len(adapter.batches) == 2 and {o.verdict for o in out.values()} == {Verdict.OK}


def test_engine_stops_after_the_attempt_limit():
    adapter = ScriptedAdapter(ChannelSpec(name="x", title="X"), [Retryable("503")] * 50)
    out = engine(adapter, SimulatedClock()).run("add", TARGET, contacts(1))
    assert out["c000"].verdict == Verdict.RETRY and len(adapter.batches) == 6


def test_engine_waits_for_the_rate_limit_before_each_request():
    clock = SimulatedClock()
    spec = ChannelSpec(name="x", title="X", add_batch=1, rates={"default": (Rate(2, 1.0),)})
    adapter = ScriptedAdapter(spec)
    limiter = RateLimiter(spec.rates, clock)
    times = []

    def timed(batch):
        limiter.acquire(limiter.current_bucket)  # what PacedHttp does for each request
        times.append(clock.time())
        return {c.customer_id: ok() for c in batch}

    adapter.script.extend([timed] * 6)
    DeliveryEngine(adapter, limiter, clock, deadline=clock.time() + 100).run("add", TARGET, contacts(6))
    for i in range(len(times) - 2):
        assert times[i + 2] - times[i] >= 1.0  # never 3 requests within one second
