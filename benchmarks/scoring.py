"""scoring: what scoring the AI models adds to the real-time feature path.

(a) ``build_view`` with the model against ``build_view`` without it, over the same synthetic customers (CPU only:
    histories are built before timing). The model document is shaped like a real one for this shop: RFM breaks
    and category shares from the customers themselves, BG/NBD and Gamma-Gamma at the published CDNOW values,
    4 clusters over 8 features, 3 consumables.
(b) One OrderCompleted through the real CustomerEventsFunction on the local stack, with the 9 built-in rule
    segments and the model published: the time the handler spends in ``ScoringModel.score`` is clocked inside each
    event. Ratio = median handler time / median handler time less scoring, i.e. the event with scoring against
    the same event without it. (A first design scored half the customers and not the other half; the two halves'
    different histories moved the medians more than scoring did.) The feature snapshot written with the profile
    grows by the model attributes; its size with and without is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from benchmarks.core import Result, fmt, interleaved, median, section, silenced_stdout, table, timed
from benchmarks.event_cost import (
    FUNCTION,
    NOW,
    SEED,
    environment,
    order_events,
    register_customers,
    sqs_event,
)
from local_runtime import LocalAws, Router, create_resources, load_template
from local_runtime.shop import generate_histories
from segmentation import wiring
from segmentation.features.compute import CustomerHistory, build_view
from segmentation.models.scoring import ScoringModel
from segmentation.segments.templates import TEMPLATES
from segmentation.store import items

TZ = ZoneInfo("Europe/London")
CUSTOMERS = 5000
VIEW_GOAL = 3.0
EVENT_GOAL = 1.1
FEATURES = [
    "orders_count",
    "avg_order_value",
    "avg_items_per_order",
    "days_since_last_order",
    "total_spent",
    "email_opens_30d",
    "category_share.essential_oils",
    "category_share.candles",
]


def shop_document(histories: list[CustomerHistory], now: datetime) -> dict:
    """A model document for this shop: breaks, shares and standardisation from its customers."""
    views = [build_view(h, now, TZ).attributes for h in histories]
    buyers = [v for v in views if v["orders_count"] > 0]

    def quintiles(name: str) -> list[float]:
        return statistics.quantiles([float(v[name]) for v in buyers], n=5)

    rows = [[float(v.get(name) or 0.0) for name in FEATURES] for v in buyers]
    means = [statistics.fmean(col) for col in zip(*rows, strict=True)]
    stds = [statistics.pstdev(col) or 1.0 for col in zip(*rows, strict=True)]
    rng = random.Random(SEED)
    centroids = [[(x - m) / s for x, m, s in zip(row, means, stds, strict=True)] for row in rng.sample(rows, 4)]
    holding: Counter[str] = Counter()
    orders = 0
    for history in histories:
        for order in history.orders:
            orders += 1
            holding.update({line.category for line in order.lines})
    return {
        "schema": 1,
        "version": "20261120T120000Z-bench000",
        "trained_at": now.isoformat(),
        "as_of": now.isoformat(),
        "time_unit_days": 7,
        "data": {"customers": len(views), "buyers": len(buyers)},
        "rfm": {
            "recency_days_breaks": quintiles("days_since_last_order"),
            "frequency_breaks": quintiles("orders_count"),
            "monetary_breaks": quintiles("total_spent"),
        },
        "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
        "clv": {"horizon_days": 365, "annual_discount_rate": 0.1},
        "churn_bands": {"low": 0.7, "medium": 0.4},
        "clusters": {
            "features": FEATURES,
            "means": means,
            "stds": stds,
            "centroids": centroids,
            "ids": ["c1", "c2", "c3", "c4"],
            "labels": ["one", "two", "three", "four"],
            "sizes": [1, 1, 1, 1],
        },
        "replenishment": {
            "categories": ["essential_oils", "refills", "candles"],
            "population_interval_days": {"essential_oils": 46.0, "refills": 60.0, "candles": 90.0},
        },
        "affinity": {"population_order_share": {c: n / orders for c, n in holding.items()}},
    }


def _views(histories: list[CustomerHistory], model: ScoringModel | None) -> Callable[[], float]:
    def sample() -> float:
        seconds, _ = timed(lambda: [build_view(h, NOW, TZ, model) for h in histories])
        return seconds

    return sample


def run(args: argparse.Namespace) -> list[Result]:
    section(f"scoring: build_view with the model vs without, {CUSTOMERS:,} customers; OrderCompleted with vs without")
    histories = list(generate_histories(SEED, CUSTOMERS, now=NOW))
    model = ScoringModel.from_json(json.dumps(shop_document(histories, NOW)))
    build_view(histories[0], NOW, TZ, model)  # first use builds the pydantic schemas
    times = interleaved({"with": _views(histories, model), "without": _views(histories, None)}, args.repeats)
    with_s, without_s = median(times["with"]), median(times["without"])
    per_customer_us = (with_s - without_s) / len(histories) * 1e6
    print(
        table(
            ["build_view", "median s", "us/customer"],
            [
                ["without model", fmt(without_s), fmt(without_s / len(histories) * 1e6)],
                ["with model", fmt(with_s), fmt(with_s / len(histories) * 1e6)],
            ],
            right={1, 2},
        )
    )
    print(f"scoring adds {per_customer_us:.0f} us per customer; ratio {with_s / without_s:.2f}")
    handler = _event_ratio(model, args.events)
    return [
        Result(
            name="scoring.build_view",
            measured=with_s,
            baseline=without_s,
            unit="s",
            ratio=with_s / without_s,
            goal=VIEW_GOAL,
            details={"customers": len(histories), "added_us_per_customer": per_customer_us},
        ),
        handler,
    ]


def _event_ratio(model: ScoringModel, events: int) -> Result:
    with LocalAws() as aws:
        env = create_resources(load_template(), endpoint_url=aws.endpoint_url)
        variables = {
            **env.function_environment(FUNCTION),
            "SEGMENTATION_FROZEN_NOW": NOW.isoformat(),
            "SEGMENT_CACHE_SECONDS": "3600",
            "MODEL_CACHE_SECONDS": "3600",
        }
        with environment(variables):
            wiring.reset()
            try:
                return _events(env, model, events)
            finally:
                wiring.reset()


def _events(env, model: ScoringModel, events: int) -> Result:
    services = wiring.services()
    table_name = env.physical_ids["SegmentationTable"]
    document = model.document.model_dump_json(by_alias=True)
    env.client("dynamodb").put_item(
        TableName=table_name,
        Item={**items.model_current_key(), "document": items.S(document), "version": items.S(model.version)},
    )
    with silenced_stdout():
        for template in TEMPLATES:
            services.segments.create_from_template(template.template_id, NOW)
        customer_ids = register_customers(services, NOW)
    router = Router(env)
    orders = order_events(customer_ids, 10 + events, NOW)
    scoring = [0.0]
    score = model.score

    def clocked(*args, **kwargs):  # the handler's own calls, timed where they happen
        start = time.perf_counter()
        try:
            return score(*args, **kwargs)
        finally:
            scoring[0] += time.perf_counter() - start

    model.score = clocked  # type: ignore[method-assign]
    services.engine.models = lambda: model
    handler_s: list[float] = []
    scoring_s: list[float] = []
    gc.collect()
    gc.freeze()
    try:
        with silenced_stdout():
            for n, order in enumerate(orders):
                scoring[0] = 0.0
                seconds, result = timed(lambda order=order: router.invoke(FUNCTION, sqs_event(order, env)))
                assert result == {"batchItemFailures": []}, result
                if n >= 10:
                    handler_s.append(seconds)
                    scoring_s.append(scoring[0])
    finally:
        gc.unfreeze()
        model.score = score  # type: ignore[method-assign]
    with_ms = median(handler_s) * 1e3
    without_ms = median([h - s for h, s in zip(handler_s, scoring_s, strict=True)]) * 1e3
    loaded = services.store.load_customer(orders[-1].customer_id)
    plain = build_view(loaded.history, NOW, TZ).attributes
    scored = build_view(loaded.history, NOW, TZ, model).attributes
    sizes = [len(items.dumps(attrs)) for attrs in (plain, scored)]
    print(
        f"OrderCompleted through {FUNCTION}, {len(TEMPLATES)} segments, {len(handler_s)} events: median handler "
        f"{with_ms:.2f} ms, of which scoring {median(scoring_s) * 1e3:.2f} ms; without scoring {without_ms:.2f} ms; "
        f"ratio {with_ms / without_ms:.3f}. Snapshot {sizes[0]:,} -> {sizes[1]:,} bytes."
    )
    return Result(
        name="scoring.event",
        measured=with_ms,
        baseline=without_ms,
        unit="ms",
        ratio=with_ms / without_ms,
        goal=EVENT_GOAL,
        details={"events": len(handler_s), "scoring_ms": median(scoring_s) * 1e3, "snapshot_bytes": sizes},
    )
