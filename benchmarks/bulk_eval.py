"""bulk_eval: 50 segments over 1M synthetic customers with the bulk evaluator, against hand-written DuckDB SQL.

The 50 segments are the 9 built-ins and the 41 random rules of ``event_cost`` (same generator, same seed).
The customers are generated column by column with numpy straight into the DuckDB tables the compiled plan
reads (building a million ``CustomerView`` objects would take most of an hour); both sides then query the same
tables in the same database.

* ours: ``BulkEvaluator.run`` over the loaded shard: the compiled statement (all 50 verdicts in one pass)
  and the conversion of its result into 50 Python sets of customer ids;
* baseline: the same 50 filters written by hand as 50 DuckDB queries (``SELECT row FROM ... WHERE ...``,
  behaviour as ``GROUP BY ... HAVING`` subqueries), each result converted into a set of ids the same way.

Both must find identical members for every segment. Not timed: generating the data and loading it. The cost of
building the columnar tables from real ``CustomerView`` objects (the public path) is measured by
``bulk_memory`` on a 250k-customer shard, and a 20k-customer run here checks the public path against
``Rule.evaluate``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from benchmarks import ROOT
from benchmarks.core import Result, fmt, interleaved, median, section, table, timed
from local_runtime.shop import CATEGORIES, DEFAULT_END, SCENTS
from segmentation.features.catalogue import EVENT_PROPERTIES, AttrType, lookup
from segmentation.features.compute import window_start
from segmentation.rules import Rule, parse_rule
from segmentation.rules.columnar import Facet, instant_micros
from segmentation.rules.sql import CUSTOMERS, SqlPlan, event_table
from segmentation.segments.templates import TEMPLATES

SEED = 7
TZ = ZoneInfo("Europe/London")
NOW = DEFAULT_END
GOAL = 1.5
CHECK_CUSTOMERS = 20_000


def load_bulk_module() -> ModuleType:
    """The function's ``bulk_evaluator`` module, imported from its folder as Lambda would."""
    found = sys.modules.get("bulk_evaluator")
    if found is not None:
        return found
    path = ROOT / "functions" / "segment_refresh" / "bulk_evaluator.py"
    spec = importlib.util.spec_from_file_location("bulk_evaluator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bulk_evaluator"] = module
    spec.loader.exec_module(module)
    return module


def segment_trees() -> dict[str, dict[str, Any]]:
    """The 50 segments: the built-ins, then the random rules ``event_cost`` uses (same seed)."""
    from benchmarks.event_cost import SEED as RULE_SEED
    from benchmarks.event_cost import SEGMENTS, random_rules

    trees = {t.template_id: t.rule for t in TEMPLATES}
    for n, rule in enumerate(random_rules(RULE_SEED, SEGMENTS - len(TEMPLATES)), start=1):
        trees[f"random_{n:02d}"] = rule
    return trees


# -- the same 50 filters, by hand --------------------------------------------------------------------------

ORDERS = '"events:order_completed"'
OPENS = '"events:email_opened"'
CLICKS = '"events:email_clicked"'


def hand_written(now: datetime, tz: ZoneInfo) -> dict[str, str]:
    """Each segment as the query one would write against these tables (text is stored casefolded)."""

    def at(instant: datetime) -> str:
        return f"TIMESTAMP '{instant.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"

    def ago(days: int) -> str:
        return at(window_start(now, days, tz))

    def recent(days: int) -> str:
        return f"BETWEEN {ago(days)} AND {at(now)}"

    def having(events: str, days: int, test: str, where: str = "") -> str:
        extra = f" AND {where}" if where else ""
        return f'"row" IN (SELECT "row" FROM {events} WHERE "at" {recent(days)}{extra} GROUP BY "row" HAVING {test})'

    def did(events: str, days: int) -> str:
        return f'"row" IN (SELECT "row" FROM {events} WHERE "at" {recent(days)})'

    where = {
        "dormant_30": f"last_order_at < {ago(30)}",
        "dormant_90": f"last_order_at < {ago(90)}",
        "high_value": "total_spent >= 500",
        "first_time_buyers": f"orders_count = 1 AND first_order_at {recent(90)}",
        "lapsed_repeat_buyers": f"orders_count >= 2 AND last_order_at < {ago(90)}",
        "frequent_buyers": having(ORDERS, 365, "count(*) >= 4"),
        "high_engagement": having(OPENS, 30, "count(*) >= 3"),
        "uk_customers": "country = 'gb'",
        "lavender_lovers": "list_contains(preferred_scents, 'lavender') OR "
        + having(ORDERS, 365, "count(*) >= 2", "list_contains(scents, 'lavender')"),
        "random_01": "orders_30d = 1",
        "random_02": "list_contains(tags, 'newsletter')",
        "random_03": "gender = 'unspecified'",
        "random_04": "list_contains(purchased_scents, 'ylang_ylang')",
        "random_05": having(ORDERS, 90, "count(*) >= 2") + " AND NOT list_contains(tags, 'vip-event')",
        "random_06": "NOT list_contains(purchased_scents, 'eucalyptus')",
        "random_07": f"list_contains(tags, 'wholesale') AND registered_at < {ago(60)}",
        "random_08": f"gender = 'male' AND avg_items_per_order BETWEEN 5 AND 8 AND last_order_at < {ago(7)}",
        "random_09": "has_phone = false AND email_domain = 'example.net'",
        "random_10": "favourite_category IN ('bath_salts', 'candles') AND orders_90d BETWEEN 3 AND 4 "
        "AND avg_items_per_order = 6",
        "random_11": f'"row" NOT IN (SELECT "row" FROM {ORDERS} WHERE "at" {recent(180)})',
        "random_12": "orders_365d >= 8 OR avg_items_per_order >= 2 "
        "OR \"custom.loyalty_tier#text\" IN ('gold', 'bronze')",
        "random_13": "list_has_any(purchased_scents, ['frankincense', 'tea_tree'])",
        "random_14": f"first_order_at < {ago(14)} AND total_spent >= 525 AND spent_30d < 87",
        "random_15": "favourite_category <> 'carrier_oils'",
        "random_16": "list_has_any(tags, ['wholesale', 'vip-event']) "
        "AND \"consent.email\" IN ('subscribed', 'pending')",
        "random_17": "spent_30d < 48",
        "random_18": "total_spent >= 1148 AND " + did(CLICKS, 7),
        "random_19": "avg_order_value = 103 OR country = 'it' OR " + having(OPENS, 60, "count(*) >= 4"),
        "random_20": "days_since_last_order < 386",
        "random_21": f"NOT list_contains(purchased_scents, 'citrus') AND registered_at {recent(180)}",
        "random_22": "NOT list_contains(purchased_scents, 'peppermint') OR NOT list_contains(tags, 'vip-event') "
        f"OR first_order_at {recent(365)}",
        "random_23": did(ORDERS, 90),
        "random_24": "mean_days_between_orders < 121 AND "
        + having(ORDERS, 7, "sum(total) >= 100", "list_contains(scents, 'chamomile')")
        + " AND list_contains(tags, 'wholesale')",
        "random_25": "has_phone = false OR refunds_count >= 3 "
        "OR list_has_any(purchased_scents, ['rose', 'eucalyptus'])",
        "random_26": "list_contains(preferred_scents, 'citrus') OR "
        + having(ORDERS, 14, "count(*) >= 2")
        + f" OR registered_at < {ago(14)}",
        "random_27": "orders_365d >= 9 AND \"custom.loyalty_tier#text\" = 'gold'",
        "random_28": "site_visits_30d = 4",
        "random_29": "list_contains(purchased_scents, 'rose')",
        "random_30": having(CLICKS, 14, "count(*) >= 5")
        + f" OR site_visits_30d BETWEEN 1 AND 4 OR first_order_at {recent(14)}",
        "random_31": "list_has_any(preferred_categories, ['refills', 'essential_oils']) AND "
        + having(ORDERS, 14, "count(*) >= 5", "list_contains(scents, 'eucalyptus')"),
        "random_32": having(ORDERS, 60, "count(*) >= 5"),
        "random_33": "list_has_any(tags, ['vip-event', 'sample-box']) AND "
        "list_contains(preferred_categories, 'refills') AND \"consent.email\" = 'pending'",
        "random_34": "spent_365d >= 488",
        "random_35": "country = 'us'",
        "random_36": did(OPENS, 14),
        "random_37": "list_contains(purchased_scents, 'sandalwood')",
        "random_38": "\"consent.email\" IS DISTINCT FROM 'never_asked'",
        "random_39": f"registered_at {recent(90)}",
        "random_40": "\"consent.sms\" <> 'subscribed' AND spent_365d >= 947",
        "random_41": "spent_30d >= 89",
    }
    return {segment_id: f'SELECT "row" FROM {CUSTOMERS} WHERE {sql}' for segment_id, sql in where.items()}


# -- synthetic customers, column by column -----------------------------------------------------------------

_TEXT_POOLS: dict[str, tuple[str, ...]] = {
    "country": ("gb", "gb", "gb", "de", "fr", "nl", "ie", "us", "es", "it"),
    "gender": ("female", "female", "male", "non_binary", "unspecified"),
    "favourite_category": CATEGORIES,
    "email_domain": ("example.com", "example.org", "example.net"),
    "custom.loyalty_tier": ("gold", "silver", "bronze"),
}
_STATUSES = ("subscribed", "subscribed", "unsubscribed", "never_asked", "pending")
_LIST_POOLS: dict[str, tuple[str, ...]] = {
    "preferred_scents": SCENTS,
    "purchased_scents": SCENTS,
    "scents": SCENTS,
    "preferred_categories": CATEGORIES,
    "purchased_categories": CATEGORIES,
    "categories": CATEGORIES,
    "tags": ("newsletter", "vip-event", "sample-box", "wholesale"),
}
_NUMBER_SCALES: dict[str, float] = {
    "orders_count": 3,
    "orders_30d": 0.4,
    "orders_90d": 1,
    "orders_365d": 3,
    "refunds_count": 0.3,
    "email_opens_30d": 3,
    "email_clicks_30d": 1,
    "site_visits_30d": 2,
    "item_count": 3,
}
_AMOUNTS: dict[str, float] = {
    "total_spent": 300,
    "spent_30d": 40,
    "spent_90d": 100,
    "spent_365d": 300,
    "avg_order_value": 60,
    "total": 60,
    "net_total": 55,
}
_EVENT_RATES = {"order_completed": 3.0, "email_opened": 6.0, "email_clicked": 2.0, "site_visited": 4.0}


class Synthetic:
    """Random but plausible values, by attribute name and type, for a million customers at once."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = np.random.default_rng(seed)
        self.now_us = instant_micros(now)

    def base(self, source: str, type_: AttrType, n: int) -> np.ndarray[Any, Any]:
        """The underlying values of one attribute (object array, ``None`` where missing)."""
        rng = self.rng
        missing = rng.random(n) < 0.1
        values: np.ndarray[Any, Any]
        if type_ is AttrType.STRING or type_ is AttrType.ANY:
            pool = _TEXT_POOLS.get(source) or (_STATUSES if source.startswith("consent.") else ("a", "b", "c"))
            values = np.array(pool, dtype=object)[rng.integers(0, len(pool), n)]
        elif type_ is AttrType.NUMBER:
            if source in _AMOUNTS:
                values = np.round(rng.lognormal(np.log(_AMOUNTS[source]), 0.9, n), 2)
            elif source == "age":
                values = rng.integers(18, 80, n).astype(np.float64)
            elif source in ("days_since_last_order", "mean_days_between_orders"):
                values = rng.integers(0, 700, n).astype(np.float64)
            elif source == "avg_items_per_order":
                values = np.round(1 + rng.gamma(2.0, 1.5, n), 2)
            else:
                values = rng.poisson(_NUMBER_SCALES.get(source, 2), n).astype(np.float64)
            values = values.astype(object)
        elif type_ is AttrType.BOOLEAN:
            values = (rng.random(n) < 0.6).astype(object)
        elif type_ in (AttrType.DATETIME, AttrType.DATE):
            values = (self.now_us - rng.integers(0, 730 * 86_400_000_000, n)).astype(object)
        else:
            pool = _LIST_POOLS.get(source, ("a", "b", "c"))
            # A few hundred distinct lists, shared by reference: a million fresh lists would only cost time.
            lists = [sorted(set(rng.choice(pool, rng.integers(0, 4)).tolist())) for _ in range(512)]
            values = np.empty(n, dtype=object)
            picks = rng.integers(0, len(lists), n)
            for position, pick in enumerate(picks.tolist()):
                values[position] = lists[pick]
            missing[:] = False  # list attributes are always present, possibly empty
        values[missing] = None
        return values


def facet_array(values: np.ndarray[Any, Any], facet: Facet) -> np.ndarray[Any, Any]:
    """One facet of synthetic base values (text, numbers, booleans, micro-second instants or lists)."""
    present = np.array([value is not None for value in values.tolist()], dtype=bool)
    if facet is Facet.PRESENT:
        return present
    sample = next((value for value in values.tolist() if value is not None), None)
    if facet is Facet.NUMBER:
        out = np.full(len(values), np.nan)
        if isinstance(sample, float):
            out[present] = values[present].astype(np.float64)
        return out
    if facet is Facet.TIME:
        out_t = np.full(len(values), np.iinfo(np.int64).min, dtype=np.int64)
        if isinstance(sample, int):
            out_t[present] = values[present].astype(np.int64)
        return out_t.view("datetime64[us]")
    if facet is Facet.TEXT:
        return values if isinstance(sample, str) else np.full(len(values), None, dtype=object)
    if facet is Facet.BOOL:
        return values if isinstance(sample, bool) else np.full(len(values), None, dtype=object)
    if facet is Facet.TOKEN:
        if not isinstance(sample, str):
            return np.full(len(values), None, dtype=object)
        out_o = np.full(len(values), None, dtype=object)
        out_o[present] = np.char.add("s", values[present].astype(str)).astype(object)
        return out_o
    # LIST / TOKENS: only list attributes hold lists here.
    return values if isinstance(sample, list) and facet is Facet.LIST else np.full(len(values), None, dtype=object)


def load_synthetic(bulk: ModuleType, plan: SqlPlan, customers: int, seed: int, now: datetime) -> Any:
    """A shard of ``customers`` synthetic customers, loaded straight into the tables ``plan`` reads."""
    shard = bulk.open_shard(plan, plan.outputs)
    connection = shard.connection
    synthetic = Synthetic(seed, now)
    shard.ids = [f"c{n:07d}" for n in range(customers)]
    arrays: dict[str, np.ndarray[Any, Any]] = {"row": np.arange(customers, dtype=np.int32)}
    bases: dict[str, np.ndarray[Any, Any]] = {}
    for column in plan.customer_columns:
        entry = lookup(column.source)
        assert entry is not None
        if column.source not in bases:
            bases[column.source] = synthetic.base(column.source, entry.type, customers)
        arrays[column.name] = facet_array(bases[column.source], column.facet)
    bulk.insert(connection, CUSTOMERS, arrays, bulk.customer_schema(plan))
    seq = 0
    for event, columns in plan.event_columns.items():
        rng = synthetic.rng
        counts = rng.poisson(_EVENT_RATES.get(event, 2.0), customers)
        total = int(counts.sum())
        events: dict[str, np.ndarray[Any, Any]] = {
            "row": np.repeat(np.arange(customers, dtype=np.int32), counts),
            "seq": np.arange(seq, seq + total, dtype=np.int64),
            "at": (synthetic.now_us - rng.integers(-86_400_000_000, 730 * 86_400_000_000, total)).view(
                "datetime64[us]"
            ),
        }
        seq += total
        for column in columns:
            base = synthetic.base(column.source, EVENT_PROPERTIES[event][column.source], total)
            events[column.name] = facet_array(base, column.facet)
        bulk.insert(connection, event_table(event), events, bulk.event_schema(columns))
    return shard


def run_hand_written(shard: Any, queries: dict[str, str]) -> dict[str, set[str]]:
    ids = np.fromiter(shard.ids, dtype=object, count=len(shard.ids))
    found = {}
    for segment_id, query in queries.items():
        rows = shard.connection.execute(query).fetchnumpy()["row"]
        found[segment_id] = set(ids[np.asarray(rows)].tolist())
    return found


def check_public_path(bulk: ModuleType, rules: dict[str, Rule], customers: int) -> tuple[int, float, float]:
    """Views from the synthetic shop through ``BulkEvaluator.evaluate`` against ``Rule.evaluate``."""
    from local_runtime.shop import generate_histories
    from segmentation.features.compute import build_view

    views = [build_view(history, NOW, TZ) for history in generate_histories(SEED, customers, now=NOW)]
    evaluator = bulk.BulkEvaluator(rules, NOW, TZ)
    seconds, found = timed(lambda: evaluator.evaluate(views))
    per_customer_s, expected = timed(
        lambda: {
            segment_id: {view.customer_id for view in views if rule.evaluate(view, NOW, TZ)}
            for segment_id, rule in rules.items()
        }
    )
    assert found == expected, "the bulk evaluator disagrees with Rule.evaluate on the synthetic shop"
    return len(views), seconds, per_customer_s


def run(args: argparse.Namespace) -> list[Result]:
    bulk = load_bulk_module()
    customers = args.bulk_customers
    trees = segment_trees()
    rules = {segment_id: parse_rule(tree) for segment_id, tree in trees.items()}
    section(f"bulk_eval: {len(rules)} segments x {customers:,} synthetic customers (DuckDB, one process)")

    checked, public_s, per_customer_s = check_public_path(bulk, rules, CHECK_CUSTOMERS)
    print(
        f"public path check: {checked:,} views from the synthetic shop, BulkEvaluator.evaluate == Rule.evaluate "
        f"for all {len(rules)} segments ({public_s:.2f} s bulk incl. loading, {per_customer_s:.2f} s per customer)"
    )

    evaluator = bulk.BulkEvaluator(rules, NOW, TZ)
    plan = evaluator.plan()
    assert not plan.fallback, f"segments left to the per-customer path: {plan.fallback}"
    queries = hand_written(NOW, TZ)
    assert set(queries) == set(rules), "a segment has no hand-written counterpart"
    load_s, shard = timed(lambda: load_synthetic(bulk, plan, customers, SEED, NOW))
    sizes = {
        table_name: shard.connection.execute(f'SELECT count(*) FROM "{table_name}"').fetchone()[0]
        for table_name in [CUSTOMERS, *(event_table(event) for event in plan.event_columns)]
    }
    print(
        f"generated and loaded in {load_s:.0f} s (not timed): "
        + ", ".join(f"{name} {count:,} rows" for name, count in sizes.items())
    )
    print(
        f"plan: {len(plan.customer_columns)} customer columns, "
        f"{sum(len(c) for c in plan.event_columns.values())} event property columns, one statement"
    )

    results: dict[str, dict[str, set[str]]] = {}

    def sample(name: str, fn: Callable[[], dict[str, set[str]]]) -> Callable[[], float]:
        def measure() -> float:
            seconds, results[name] = timed(fn)
            return seconds

        return measure

    times = interleaved(
        {
            "ours": sample("ours", lambda: evaluator.run(shard)),
            "hand": sample("hand", lambda: run_hand_written(shard, queries)),
        },
        args.repeats,
    )
    ours, hand = results["ours"], results["hand"]
    differ = [segment_id for segment_id in rules if ours[segment_id] != hand[segment_id]]
    assert not differ, f"compiled and hand-written SQL disagree on {differ}"
    statement_s, _ = timed(lambda: shard.connection.execute(plan.statement).fetchnumpy())
    shard.close()

    ours_s, hand_s = median(times["ours"]), median(times["hand"])
    ratio = ours_s / hand_s
    members = sum(len(found) for found in ours.values())
    rows = [
        ["ours: compiled statement + sets", fmt(ours_s, "s"), f"{ratio:.2f}"],
        ["  of which the statement alone", fmt(statement_s, "s"), ""],
        ["hand-written: 50 queries + sets", fmt(hand_s, "s"), "1.00"],
    ]
    print(table(["candidate", f"median of {args.repeats}", "ratio"], rows, right={1, 2}))
    print(f"{members:,} memberships in total; identical on both sides for all {len(rules)} segments")
    return [
        Result(
            name="bulk_eval",
            measured=ours_s,
            baseline=hand_s,
            unit="s",
            ratio=ratio,
            goal=GOAL,
            details={
                "customers": customers,
                "segments": len(rules),
                "rows": sizes,
                "memberships": members,
                "statement_seconds": statement_s,
                "public_path_check": {"customers": checked, "bulk_s": public_s, "per_customer_s": per_customer_s},
                "members": {segment_id: len(found) for segment_id, found in ours.items()},
            },
        )
    ]
