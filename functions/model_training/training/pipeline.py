"""One training run: read every history, fit, assemble the model document, check it, store it.

Deterministic: the same histories, ``as_of`` and previous model give the same document (seeded k-means, sorted
customers), which is what makes a re-run idempotent: a run whose result says nothing new is not stored again.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from segmentation.features.compute import CustomerHistory, build_view
from segmentation.observability import logger
from training import bgnbd, clusters, fallback, gamma_gamma, holdout, replenishment, rfm
from training.bgnbd import FitError
from training.config import TrainingConfig
from training.document import SCHEMA, iso, same_content, with_version
from training.store import ModelStore, load_histories, model_key
from training.transactions import counted_orders, epoch_days, shop_occasions, summarise

# Pseudo-orders by which a customer's category shares are shrunk towards the population's (scoring side).
AFFINITY_PRIOR_ORDERS = 2.0


@dataclass(frozen=True)
class Trained:
    document: dict[str, Any]  # everything but version and trained_at
    holdout: dict[str, Any]


def fit_models(
    histories: list[CustomerHistory],
    as_of: datetime,
    config: TrainingConfig,
    previous: dict[str, Any] | None = None,
) -> Trained:
    tz = config.tz
    histories = [h for h in histories if h.profile.registered_at is None or h.profile.registered_at <= as_of]
    orders = [h.orders for h in histories]
    views = [build_view(h, as_of, tz) for h in histories]

    # RFM over the active base, from the catalogue attributes the scoring side reads.
    base = [v for v in views if (v.attributes.get("orders_count") or 0) >= 1]
    breaks = rfm.fit_breaks(
        np.array([v.attributes["days_since_last_order"] for v in base], dtype=np.float64),
        np.array([v.attributes["orders_count"] for v in base], dtype=np.float64),
        np.array([v.attributes["total_spent"] for v in base], dtype=np.float64),
    )
    metrics: dict[str, Any] = {"rfm": _rfm_counts(breaks, base)} if base else {}

    occasions = [shop_occasions(o, as_of, tz) for o in orders]
    unit = config.time_unit_days
    summary = summarise(occasions, epoch_days(as_of), unit_days=unit)
    repeat_buyers = int(np.sum(summary.x > 0))
    model: bgnbd.BgNbd | None = None
    spend: gamma_gamma.GammaGamma | None = None
    reasons: list[str] = []
    if repeat_buyers < config.min_repeat_buyers:
        reasons.append(f"only {repeat_buyers} repeat buyers; the threshold is {config.min_repeat_buyers}")
    else:
        try:
            model = bgnbd.fit(summary.x, summary.t_x, summary.T)
            metrics["bgnbd_fit"] = {
                "iterations": model.iterations,
                "standard_errors": model.standard_errors,
                "at_bounds": list(model.at_bounds),
            }
        except FitError as exc:
            reasons.append(str(exc))
        try:
            spend = gamma_gamma.fit(summary.x, summary.monetary)
            metrics["gamma_gamma_fit"] = {
                "iterations": spend.iterations,
                "standard_errors": spend.standard_errors,
                "excluded_non_positive_spend": spend.excluded_non_positive,
                # Gamma-Gamma assumes spend per order does not depend on how often one buys; check it.
                "corr_frequency_value": _correlation(summary.x, summary.monetary),
            }
        except FitError as exc:
            reasons.append(str(exc))
    estimates = None
    if model is None or spend is None:
        estimates = fallback.estimate(orders, as_of, tz, seed=config.seed)

    report = _holdout(occasions, orders, as_of, config, use_bgnbd=model is not None)
    metrics["bgnbd_holdout"] = holdout.summary(report)
    metrics["gamma_gamma"] = _spend_holdout(occasions, orders, as_of, config, use_model=spend is not None)

    clustering = clusters.cluster(
        views, as_of, tz, (previous or {}).get("clusters"), (previous or {}).get("version"), seed=config.seed
    )
    if clustering is not None:
        metrics["clustering"] = clustering.metrics
    intervals, sample_sizes = replenishment.population_intervals(orders, as_of, tz, config.consumable_categories)
    if previous is not None:
        metrics["rfm_movement"] = _movement(orders, previous, breaks, as_of, config)
        metrics["previous_version"] = previous.get("version")

    document: dict[str, Any] = {
        "schema": SCHEMA,
        "as_of": iso(as_of),
        "time_unit_days": unit,
        "data": {"customers": len(histories), "buyers": len(base), "repeat_buyers": repeat_buyers},
        "rfm": breaks.as_document() if base else None,
        "bgnbd": model.as_document() if model else None,
        "gamma_gamma": spend.as_document() if spend else None,
        "fallback": None,
        "clv": {"horizon_days": config.clv_horizon_days, "annual_discount_rate": config.annual_discount_rate},
        "churn_bands": {"low": config.churn_low, "medium": config.churn_medium},
        "clusters": clustering.document if clustering else None,
        "replenishment": {
            "categories": list(config.consumable_categories),
            "population_interval_days": intervals,
            "sample_sizes": sample_sizes,
        },
        "affinity": {"population_order_share": _order_shares(orders, as_of), "prior_orders": AFFINITY_PRIOR_ORDERS},
        "metrics": metrics,
    }
    if estimates is not None:
        document["fallback"] = {
            "reason": "; ".join(reasons),
            "by_rfm_group": estimates.by_group,
            "window_days": estimates.window_days,
            "method": "rates observed over the window by customers grouped as they stood at its start",
        }
    elif reasons:  # not even a fallback: no purchase history to estimate from
        metrics["unfitted"] = "; ".join(reasons)
    return Trained(document, report)


def _order_shares(orders: list[Any], as_of: datetime) -> dict[str, float]:
    """Per category, the share of all counted orders that hold it: the population prior of category affinity."""
    counted = [o for customer in orders for o in counted_orders(customer, as_of)]
    holding: Counter[str] = Counter(c for o in counted for c in {line.category for line in o.lines})
    return {c: round(n / len(counted), 4) for c, n in sorted(holding.items())} if counted else {}


def _rfm_counts(breaks: rfm.RfmBreaks, base: list[Any]) -> dict[str, Any]:
    """Customers per named group and per (R, F) cell at ``as_of``: ``grid[r - 1][f - 1]``."""
    recency = np.array([v.attributes["days_since_last_order"] for v in base], dtype=np.float64)
    frequency = np.array([v.attributes["orders_count"] for v in base], dtype=np.float64)
    r, f = rfm.scores(breaks, recency, frequency)
    grid = np.zeros((5, 5), dtype=int)
    np.add.at(grid, (r - 1, f - 1), 1)
    named = Counter(rfm.GRID[ri - 1][fi - 1] for ri, fi in zip(r.tolist(), f.tolist(), strict=True))
    return {"groups": {g: named.get(g, 0) for g in rfm.GROUPS}, "grid": grid.tolist()}


def _correlation(x: np.ndarray, m: np.ndarray) -> float | None:
    repeat = x > 0
    if repeat.sum() < 3 or np.std(x[repeat]) == 0 or np.std(m[repeat]) == 0:
        return None
    return round(float(np.corrcoef(x[repeat], m[repeat])[0, 1]), 4)


def _holdout(
    occasions: list[Any], orders: list[Any], as_of: datetime, config: TrainingConfig, *, use_bgnbd: bool
) -> dict[str, Any]:
    """Fit on data up to ``as_of - holdout_days``, predict the holdout period, compare with what happened."""
    tz, unit, days = config.tz, config.time_unit_days, config.holdout_days
    split = as_of - timedelta(days=days)
    summary = summarise(occasions, epoch_days(split), unit_days=unit, holdout_end=epoch_days(as_of))
    common: dict[str, Any] = {"calibration_end": iso(split), "holdout_end": iso(as_of), "holdout_days": float(days)}
    if summary.index.size == 0:
        return holdout.report(summary.x, summary.x, summary.x, model="none", **common)
    if use_bgnbd:
        try:
            model = bgnbd.fit(summary.x, summary.t_x, summary.T)
            predicted = bgnbd.expected_purchases(model, days / unit, summary.x, summary.t_x, summary.T)
            return holdout.report(summary.x, predicted, summary.holdout, model="bgnbd", **common)
        except FitError as exc:
            logger.info("holdout calibration fit failed; reporting the fallback", extra={"reason": str(exc)})
    estimates = fallback.estimate(orders, split, tz, seed=config.seed)
    predicted = np.zeros(summary.index.size)
    if estimates is not None:
        inputs = fallback.rfm_inputs(orders, split, tz)
        breaks = rfm.fit_breaks(inputs.recency_days, inputs.frequency, inputs.monetary)
        group_of = dict(
            zip(inputs.index.tolist(), rfm.groups(breaks, inputs.recency_days, inputs.frequency), strict=True)
        )
        rates = np.array([estimates.rate(group_of[int(i)]) for i in summary.index])
        predicted = rates * days / 365.0
    return holdout.report(summary.x, predicted, summary.holdout, model="fallback", **common)


def _spend_holdout(
    occasions: list[Any], orders: list[Any], as_of: datetime, config: TrainingConfig, *, use_model: bool
) -> dict[str, Any]:
    """Expected spend per order (from the calibration period) against the holdout's actual mean spend."""
    split = as_of - timedelta(days=config.holdout_days)
    summary = summarise(occasions, epoch_days(split), unit_days=config.time_unit_days, holdout_end=epoch_days(as_of))
    bought = summary.holdout > 0
    if not bought.any():
        return {"model": "none", "customers": 0}
    actual = summary.holdout_value[bought] / summary.holdout[bought]
    model_name = "fallback"
    predicted: np.ndarray | None = None
    if use_model:
        try:
            fitted = gamma_gamma.fit(summary.x, summary.monetary)
            predicted = gamma_gamma.expected_order_value(fitted, summary.x[bought], summary.monetary[bought])
            model_name = "gamma_gamma"
        except FitError:
            predicted = None
    if predicted is None:
        estimates = fallback.estimate(orders, split, config.tz, seed=config.seed)
        if estimates is None:
            return {"model": "none", "customers": int(bought.sum())}
        inputs = fallback.rfm_inputs(orders, split, config.tz)
        breaks = rfm.fit_breaks(inputs.recency_days, inputs.frequency, inputs.monetary)
        group_of = dict(
            zip(inputs.index.tolist(), rfm.groups(breaks, inputs.recency_days, inputs.frequency), strict=True)
        )
        predicted = np.array(
            [float(estimates.by_group[group_of[int(i)]]["order_value"]) for i in summary.index[bought]]
        )
    return {
        "model": model_name,
        "customers": int(bought.sum()),
        "predicted_mean": round(float(predicted.mean()), 2),
        "actual_mean": round(float(actual.mean()), 2),
        "mae_per_customer": round(float(np.abs(predicted - actual).mean()), 2),
    }


def _movement(
    orders: list[Any], previous: dict[str, Any], breaks: rfm.RfmBreaks, as_of: datetime, config: TrainingConfig
) -> dict[str, Any]:
    """How many customers moved between RFM groups since the previous model (its breaks at its as_of)."""
    before_at = datetime.fromisoformat(previous["as_of"].replace("Z", "+00:00"))
    before = fallback.rfm_inputs(orders, before_at, config.tz)
    after = fallback.rfm_inputs(orders, as_of, config.tz)
    was: dict[int, str] = {}
    if previous.get("rfm"):  # a model trained before anyone had bought has no breaks
        earlier = rfm.RfmBreaks.from_document(previous["rfm"])
        groups = rfm.groups(earlier, before.recency_days, before.frequency)
        was = dict(zip(before.index.tolist(), groups, strict=True))
    now = dict(zip(after.index.tolist(), rfm.groups(breaks, after.recency_days, after.frequency), strict=True))
    transitions: Counter[tuple[str, str]] = Counter()
    for customer in set(was) | set(now):
        transitions[(was.get(customer, "none"), now.get(customer, "none"))] += 1
    table: dict[str, dict[str, int]] = {}
    for (old, new), count in sorted(transitions.items()):
        table.setdefault(old, {})[new] = count
    moved = sum(c for (old, new), c in transitions.items() if old != new)
    return {"from_version": previous.get("version"), "since": previous["as_of"], "moved": moved, "transitions": table}


# ---------------------------------------------------------------- the run


def reference_model(current: dict[str, Any] | None, as_of: datetime, models: ModelStore) -> dict[str, Any] | None:
    """The model this run builds on (cluster ids, RFM movement): the current one, unless the current one was
    trained for this same ``as_of`` (a re-run), in which case the one *it* built on, so a re-run reproduces it."""
    if current is None:
        return None
    if current["as_of"] != iso(as_of):
        return current
    earlier = (current.get("metrics") or {}).get("previous_version")
    return models.version(earlier) if earlier else None


def run(config: TrainingConfig, as_of: datetime, trained_at: datetime) -> dict[str, Any]:
    """Train on everything up to ``as_of`` and publish, unless the current model already says exactly this."""
    if not config.model_bucket:
        raise ValueError("MODEL_BUCKET is not set: the training function has nowhere to store models")
    models = ModelStore(config.table_name, config.model_bucket)
    current = models.current()
    previous = reference_model(current, as_of, models)
    histories = load_histories(config.table_name, config.scan_segments)
    trained = fit_models(histories, as_of, config, previous)
    body = {**trained.document, "trained_at": iso(trained_at)}
    if current is not None and same_content(current, body):
        logger.info("model unchanged", extra={"version": current["version"], "as_of": body["as_of"]})
        return _outcome("unchanged", current, config, became_current=False)
    document = with_version(body, trained_at)
    became_current = models.publish(
        document, json.dumps(trained.holdout, sort_keys=True), holdout.to_csv(trained.holdout)
    )
    logger.info(
        "model trained",
        extra={"version": document["version"], "current": became_current, "fallback": document["fallback"] is not None},
    )
    return _outcome("trained", document, config, became_current=became_current)


def _outcome(status: str, document: dict[str, Any], config: TrainingConfig, *, became_current: bool) -> dict[str, Any]:
    return {
        "status": status,
        "version": document["version"],
        "as_of": document["as_of"],
        "current": became_current or status == "unchanged",
        "model": f"s3://{config.model_bucket}/{model_key(document['version'])}",
        "fallback": document["fallback"] is not None,
        "clusters": (document.get("clusters") or {}).get("k", 0),
        "data": document["data"],
    }
