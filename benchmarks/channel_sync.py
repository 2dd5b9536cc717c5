"""channel_sync: delivery to a rate-limited platform, and delivery under faults.

(a) Throughput under a limit: 100,000 membership changes (customers entering a segment) delivered to the
    fake HubSpot, which enforces HubSpot's documented 100 requests per 10 s (10 req/s) and answers 429 above
    it. Each task (100 customers) goes through the real delivery code: consent gate, records, batch upsert,
    list membership. The adapter's rate limiter and the fake share a **simulated clock**, so the run takes
    seconds instead of minutes of waiting; every request still crosses real HTTP to the fake. The figure is
    the time per request against the limit's 0.1 s (a ratio of 1.0 would be exactly the limit; the goal of
    at least 0.9x the limit is a ratio of at most 1.11), and separately the requests above the limit in any
    10-second window (goal 0: never above).
(b) Faults: three fake platforms (Mailchimp, HubSpot, Klaviyo) fail 30% of requests (throttles, 5xx,
    timeouts before and after applying, partial failures), while consent changes and exits interleave with
    the deliveries. Tasks are redelivered as SQS would, dead-lettered after 5 receives, and the DLQ is redriven
    once at the end. Counted: undelivered wanted members, duplicate records, opted-out contacts present,
    contacts of ours present that should not be, and every fault and retry.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from benchmarks.core import Result, fmt, section, table
from local_runtime import fakes
from local_runtime.fakes.base import Faults
from local_runtime.memory_state import MemoryState
from segmentation.domain.models import ConsentChannel, ConsentStatus
from segmentation.sync import adapters
from segmentation.sync.delivery import deliver
from segmentation.sync.engine import DeliveryEngine
from segmentation.sync.http import JsonHttp
from segmentation.sync.ratelimit import PacedHttp, RateLimiter, SimulatedClock
from segmentation.sync.reconcile import reconcile
from segmentation.sync.tasks import MAX_CUSTOMERS_PER_TASK, SyncTask

SEGMENT = "vip"
LIST = "seg-vip"
CHANGES = 100_000
LIMIT_RPS = 10.0
WINDOW = (100, 10.0)
FAULT_RATE = 0.30
FAULT_CUSTOMERS = 3_000
MAX_RECEIVES = 5
SUBSCRIBED = {ConsentChannel.EMAIL: ConsentStatus.SUBSCRIBED}


def _channel(channel: str, clock: SimulatedClock, faults: Faults | None = None) -> tuple[Any, Any, RateLimiter]:
    fake, config = fakes.start(channel, clock=clock, faults=faults)
    limiter = RateLimiter(adapters.spec(channel).rates, clock)
    adapter = adapters.load(channel).create(config, PacedHttp(JsonHttp(timeout=5), limiter))
    return fake, adapter, limiter


def _task(channel: str, ids: list[str]) -> SyncTask:
    return SyncTask(segment_id=SEGMENT, channel=channel, list_name=LIST, customer_ids=ids, created_at=datetime.now(UTC))


def throughput(changes: int) -> list[Result]:
    section(f"channel_sync: {changes:,} membership changes to fake HubSpot at {LIMIT_RPS:g} req/s (simulated clock)")
    clock = SimulatedClock()
    state = MemoryState()
    fake, adapter, limiter = _channel("hubspot", clock)
    try:
        ids = [f"c{i:06d}" for i in range(changes)]
        for cid in ids:
            state.put_customer(cid, f"{cid}@example.com", consent=SUBSCRIBED)
            state.set_member(SEGMENT, cid, True)
        started_clock, started_wall = clock.time(), time.perf_counter()
        first = None
        for start in range(0, changes, MAX_CUSTOMERS_PER_TASK):
            engine = DeliveryEngine(adapter, limiter, clock, deadline=clock.time() + 20)
            report = deliver(_task("hubspot", ids[start : start + MAX_CUSTOMERS_PER_TASK]), state, adapter, engine)
            if report.retrying or report.terminal:
                raise RuntimeError(f"delivery did not complete: {report.first_error}")
            first = first if first is not None else clock.time()
        elapsed = clock.time() - started_clock
        wall = time.perf_counter() - started_wall
        requests = limiter.requests
        held = len(fake.members(LIST))
    finally:
        fake.stop()
    # The first request goes out at once; the rate is measured over the intervals between requests.
    per_request = elapsed / max(1, requests - 1)
    achieved = 1.0 / per_request
    peak = max(fake.peak.values(), default=0)
    above = fake.over_limit + max(0, peak - WINDOW[0])
    print(
        table(
            ["changes", "requests", "simulated s", "wall s", "achieved req/s", "x limit", "peak / 10 s", "429s"],
            [
                [
                    f"{changes:,}",
                    requests,
                    fmt(elapsed),
                    fmt(wall),
                    fmt(achieved),
                    f"{achieved / LIMIT_RPS:.3f}",
                    peak,
                    fake.over_limit,
                ]
            ],
            right={0, 1, 2, 3, 4, 5, 6, 7},
        )
    )
    if held != changes:
        raise RuntimeError(f"the platform holds {held} members, expected {changes}")
    details = {
        "requests": requests,
        "simulated_seconds": elapsed,
        "wall_seconds": wall,
        "achieved_rps": achieved,
        "achieved_over_limit": achieved / LIMIT_RPS,
        "peak_per_10s": peak,
        "clock": "simulated (shared by the adapter's limiter and the fake)",
    }
    return [
        Result(
            name="channel_sync.time_per_request_vs_limit",
            measured=per_request,
            unit="s",
            goal=1 / 0.9,
            baseline=1 / LIMIT_RPS,
            ratio=per_request * LIMIT_RPS,
            details=details,
        ),
        Result(
            name="channel_sync.requests_above_limit", measured=float(above), unit="requests", goal=0, details=details
        ),
    ]


def faults(customers: int, seed: int = 7) -> list[Result]:
    section(f"channel_sync: {customers:,} customers x 3 fake platforms at a {FAULT_RATE:.0%} fault rate")
    rng = random.Random(seed)
    clock = SimulatedClock()
    state = MemoryState()
    channels = ("mailchimp", "hubspot", "klaviyo")
    setup = {c: _channel(c, clock, Faults.mixed(FAULT_RATE, seed=seed + i)) for i, c in enumerate(channels)}
    ids = [f"c{i:05d}" for i in range(customers)]
    for cid in ids:
        state.put_customer(cid, f"{cid}@example.com", consent=SUBSCRIBED)
        state.set_member(SEGMENT, cid, True)
    queue: list[tuple[SyncTask, int]] = []
    for channel in channels:
        queue += [
            (_task(channel, ids[s : s + MAX_CUSTOMERS_PER_TASK]), 0)
            for s in range(0, customers, MAX_CUSTOMERS_PER_TASK)
        ]
    # Interleaved while deliveries run: 10% opt out, 10% leave the segment, 5% opt out and come back.
    changes: list[tuple[str, str]] = []
    for cid in rng.sample(ids, customers // 10):
        changes.append(("opt_out", cid))
    for cid in rng.sample(ids, customers // 10):
        changes.append(("leave", cid))
    for cid in rng.sample(ids, customers // 20):
        changes += [("opt_out", cid), ("opt_in", cid)]
    rng.shuffle(changes)
    counters: Counter[str] = Counter(added_while_opted_out=0)
    dead: list[SyncTask] = []
    leaks_seen = 0

    def run(task: SyncTask) -> bool:
        fake, adapter, limiter = setup[task.channel]
        engine = DeliveryEngine(adapter, limiter, clock, deadline=clock.time() + 20)
        before = fake.member_emails(LIST)
        report = deliver(task, state, adapter, engine)
        for email in fake.member_emails(LIST) - before:  # added by this delivery: was each one consented?
            cid = email.split("@")[0]
            if state.profiles[cid].consent[ConsentChannel.EMAIL].status != ConsentStatus.SUBSCRIBED:
                counters["added_while_opted_out"] += 1
        for name in ("requests", "throttled", "retried", "split"):
            counters[f"engine_{name}"] += getattr(engine.stats, name)
        counters["records_retrying"] += len(report.retrying)
        counters["records_terminal"] += len(report.terminal)
        return not report.retrying and not report.terminal

    def opted_out_present() -> int:
        count = 0
        for fake, _, _ in setup.values():
            for email in fake.member_emails(LIST):
                cid = email.split("@")[0]
                if state.profiles[cid].consent[ConsentChannel.EMAIL].status != ConsentStatus.SUBSCRIBED:
                    count += 1
        return count

    started = time.perf_counter()
    step = 0
    while queue:
        task, receives = queue.pop(0)
        if changes and step % 3 == 0:
            kind, cid = changes.pop()
            if kind == "leave":
                state.set_member(SEGMENT, cid, False)
            else:
                status = ConsentStatus.UNSUBSCRIBED if kind == "opt_out" else ConsentStatus.SUBSCRIBED
                state.set_consent(cid, ConsentChannel.EMAIL, status)
            queue += [(_task(c, [cid]), 0) for c in channels]  # the membership engine's re-check
        step += 1
        if run(task):
            continue
        counters["task_redeliveries"] += 1
        if receives + 1 >= MAX_RECEIVES:
            dead.append(task)
        else:
            queue.append((task, receives + 1))
    leaks_seen = opted_out_present()  # opt-out removals queued behind faults have all run by now
    counters["dead_lettered"] = len(dead)
    for fake, _, _ in setup.values():
        fake.faults.throttle = fake.faults.error = fake.faults.timeout = fake.faults.partial = 0.0
    redriven = [t for t in dead if not run(t)]  # the operator's redrive once the platform is healthy again
    counters["failed_after_redrive"] = len(redriven)
    for channel in channels:
        _, adapter, limiter = setup[channel]
        drift, repairs = reconcile(
            _task(channel, ["x"]).model_copy(update={"kind": "reconcile", "customer_ids": []}), state, adapter, limiter
        )
        counters[f"drift_repairs_{channel}"] = drift["repairs_queued"]
        for repair in repairs:
            run(repair)

    wanted = {
        f"{cid}@example.com"
        for cid in state.members(SEGMENT)
        if state.profiles[cid].consent[ConsentChannel.EMAIL].status == ConsentStatus.SUBSCRIBED
    }
    undelivered = duplicates = stray = 0
    for fake, _, _ in setup.values():
        held = fake.member_emails(LIST)
        undelivered += len(wanted - held)
        stray += len(held - wanted)
        addresses = [str(c.get("email") or c.get("email_address")) for c in fake.contacts.values()]
        duplicates += len(addresses) - len(set(addresses))
        for kind, count in fake.faults_injected.items():
            counters[f"fault_{kind}"] += count
    leaks_end = opted_out_present()
    for fake, _, _ in setup.values():
        fake.stop()
    wall = time.perf_counter() - started
    injected = sum(v for k, v in counters.items() if k.startswith("fault_"))
    print(
        table(
            [
                "wanted x 3",
                "undelivered",
                "duplicates",
                "opted-out present",
                "strays",
                "faults",
                "dead-lettered",
                "wall s",
            ],
            [[len(wanted) * 3, undelivered, duplicates, leaks_end, stray, injected, len(dead), fmt(wall)]],
            right={0, 1, 2, 3, 4, 5, 6, 7},
        )
    )
    print("  counted: " + ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    details = {**counters, "wanted_per_platform": len(wanted), "opted_out_present_before_redrive": leaks_seen}
    return [
        Result(name="channel_sync.faults.undelivered", measured=undelivered, unit="members", goal=0, details=details),
        Result(name="channel_sync.faults.duplicate_records", measured=duplicates, unit="records", goal=0),
        Result(
            name="channel_sync.faults.opt_out_leaks",
            measured=leaks_end + stray + counters["added_while_opted_out"],
            unit="contacts",
            goal=0,
        ),
    ]


def run(args: argparse.Namespace) -> list[Result]:
    changes = getattr(args, "channel_changes", None) or CHANGES
    return throughput(changes) + faults(FAULT_CUSTOMERS)
