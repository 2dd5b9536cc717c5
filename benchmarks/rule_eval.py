"""rule_eval: customer x segment evaluations per second of the built-in segments, over synthetic customers.

The baseline is the same nine filters written by hand as Python lambdas over the same views; both sides see
identical, prebuilt views and must find identical members. Building the views is not timed.
"""

from __future__ import annotations

import argparse
import gc
import resource
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from benchmarks.core import Result, fmt, interleaved, median, section, table, timed
from local_runtime.shop import DEFAULT_END, generate_histories
from segmentation.features.compute import CustomerView, build_view
from segmentation.rules import Rule, parse_rule
from segmentation.segments.templates import TEMPLATES

SEED = 7
TZ = ZoneInfo("Europe/London")
GOAL = 2.0

Filter = Callable[[CustomerView], bool]


def hand_written(now: datetime, tz: ZoneInfo) -> dict[str, Filter]:
    """The built-in segments as one would write them without a rule language."""
    local = now.astimezone(tz)
    d30, d90, d365 = ((local - timedelta(days=days)).astimezone(UTC) for days in (30, 90, 365))
    return {
        "dormant_30": lambda v: (t := v.attributes.get("last_order_at")) is not None and t < d30,
        "dormant_90": lambda v: (t := v.attributes.get("last_order_at")) is not None and t < d90,
        "high_value": lambda v: (s := v.attributes.get("total_spent")) is not None and s >= 500,
        "first_time_buyers": lambda v: (
            v.attributes.get("orders_count") == 1
            and (t := v.attributes.get("first_order_at")) is not None
            and d90 <= t <= now
        ),
        "lapsed_repeat_buyers": lambda v: (
            v.attributes.get("orders_count", 0) >= 2
            and (t := v.attributes.get("last_order_at")) is not None
            and t < d90
        ),
        "frequent_buyers": lambda v: sum(1 for f in v.events.get("order_completed", ()) if d365 <= f.at <= now) >= 4,
        "high_engagement": lambda v: sum(1 for f in v.events.get("email_opened", ()) if d30 <= f.at <= now) >= 3,
        "uk_customers": lambda v: v.attributes.get("country") == "GB",
        "lavender_lovers": lambda v: (
            "lavender" in v.attributes.get("preferred_scents", ())
            or sum(
                1
                for f in v.events.get("order_completed", ())
                if d365 <= f.at <= now and "lavender" in f.props["scents"]
            )
            >= 2
        ),
    }


def build_views(customers: int, now: datetime, tz: ZoneInfo) -> list[CustomerView]:
    """Every synthetic customer's view at ``now``, built once (histories are streamed, then dropped)."""
    gc.disable()  # millions of long-lived objects: the collector would only rescan them
    try:
        views = [build_view(history, now, tz) for history in generate_histories(SEED, customers, now=now)]
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()  # keep later collections from walking the views
    return views


def count_rule(rule: Rule, views: list[CustomerView], now: datetime, tz: ZoneInfo) -> int:
    evaluate = rule.evaluate
    members = 0
    for view in views:
        if evaluate(view, now, tz):
            members += 1
    return members


def count_filter(keep: Filter, views: list[CustomerView]) -> int:
    members = 0
    for view in views:
        if keep(view):
            members += 1
    return members


def _sample(counts: dict[str, int], key: str, count: Callable[[], int]) -> Callable[[], float]:
    """A candidate for ``interleaved``: times ``count()`` and keeps the member count it found."""

    def sample() -> float:
        seconds, counts[key] = timed(count)
        return seconds

    return sample


def run(args: argparse.Namespace) -> list[Result]:
    now, tz = DEFAULT_END, TZ
    section(f"rule_eval: {len(TEMPLATES)} built-in segments x {args.customers:,} customers")
    build_time, views = timed(lambda: build_views(args.customers, now, tz))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"built {len(views):,} views at {now.isoformat()} ({tz.key}) in {build_time:.0f} s, not timed "
        f"(peak memory {peak_mb:,.0f} MB)",
        flush=True,
    )
    rules = {t.template_id: parse_rule(t.rule) for t in TEMPLATES}
    filters = hand_written(now, tz)
    assert set(filters) == set(rules), "a built-in segment has no hand-written counterpart"

    rows = []
    members: dict[str, int] = {}
    ours_total = hand_total = 0.0
    for segment_id, rule in rules.items():
        counts: dict[str, int] = {}
        candidates = {
            "ours": _sample(counts, "ours", partial(count_rule, rule, views, now, tz)),
            "hand": _sample(counts, "hand", partial(count_filter, filters[segment_id], views)),
        }
        times = interleaved(candidates, args.repeats)
        assert counts["ours"] == counts["hand"], f"{segment_id}: rule finds {counts['ours']}, filter {counts['hand']}"
        ours_s, hand_s = median(times["ours"]), median(times["hand"])
        members[segment_id] = counts["ours"]
        ours_total += ours_s
        hand_total += hand_s
        per_eval = 1e9 / len(views) if views else 0.0
        rows.append(
            [
                segment_id,
                f"{counts['ours']:,}",
                fmt(ours_s * per_eval),
                fmt(hand_s * per_eval),
                f"{ours_s / hand_s:.2f}",
            ]
        )
    print(table(["segment", "members", "ours ns/eval", "hand ns/eval", "ratio"], rows, right={1, 2, 3, 4}))

    gc.unfreeze()
    evaluations = len(views) * len(rules)
    ratio = ours_total / hand_total
    print(
        f"{evaluations:,} evaluations, median of {args.repeats}: ours {evaluations / ours_total:,.0f}/s, "
        f"hand-written {evaluations / hand_total:,.0f}/s, ratio {ratio:.2f}"
    )
    return [
        Result(
            name="rule_eval",
            measured=evaluations / ours_total,
            baseline=evaluations / hand_total,
            unit="evals/s",
            ratio=ratio,
            goal=GOAL,
            details={
                "customers": len(views),
                "segments": len(rules),
                "members": members,
                "ours_seconds": ours_total,
                "baseline_seconds": hand_total,
            },
        )
    ]
