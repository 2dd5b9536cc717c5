"""Model documents for the scoring tests, shaped as training publishes them (see the model contract).

The BG/NBD and Gamma-Gamma parameters are the published CDNOW estimates, so the expected values of the
well-known worked examples apply.
"""

from __future__ import annotations

import copy
import json
from typing import Any

CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}

FALLBACK_GROUPS: dict[str, dict[str, float]] = {
    "Champions": {
        "orders_per_year": 4.1,
        "order_value": 38.2,
        "p_alive": 0.9,
        "orders_per_year_low": 3.2,
        "orders_per_year_high": 5.0,
    },
    "Potential Loyalist": {
        "orders_per_year": 2.0,
        "order_value": 31.0,
        "p_alive": 0.75,
        "orders_per_year_low": 1.2,
        "orders_per_year_high": 2.9,
    },
    "New": {"orders_per_year": 0.8, "order_value": 28.0, "p_alive": 0.6},
    "Lost": {
        "orders_per_year": 0.1,
        "order_value": 25.0,
        "p_alive": 0.1,
        "orders_per_year_low": 0.0,
        "orders_per_year_high": 0.3,
    },
}

BASE: dict[str, Any] = {
    "schema": 1,
    "version": "20261115T101500Z-1a2b3c4d",
    "trained_at": "2026-11-15T10:15:00Z",
    "as_of": "2026-11-15T10:00:00Z",
    "time_unit_days": 7,
    "data": {"customers": 5000, "buyers": 4100, "repeat_buyers": 2500},
    "rfm": {
        "recency_days_breaks": [30, 90, 180, 365],
        "frequency_breaks": [1, 2, 3, 5],
        "monetary_breaks": [40, 80, 150, 300],
    },
    "bgnbd": {**CDNOW_BGNBD, "loglik": -9582.4, "n": 2357},
    "gamma_gamma": {**CDNOW_GAMMA_GAMMA, "n": 946},
    "fallback": None,
    "clv": {"horizon_days": 365, "annual_discount_rate": 0.10},
    "churn_bands": {"low": 0.7, "medium": 0.4},
    "clusters": {
        "features": ["orders_count", "avg_order_value", "category_share.candles"],
        "means": [3.0, 40.0, 0.2],
        "stds": [2.0, 20.0, 0.2],
        "centroids": [[1.5, 0.5, -0.5], [-0.8, -0.3, 0.2], [0.0, 0.0, 2.0]],
        "ids": ["c1", "c2", "c3"],
        "labels": ["frequent buyers, large baskets", "occasional buyers", "candle lovers"],
        "sizes": [800, 2500, 800],
        "silhouette": 0.41,
        "k": 3,
        "rules": [
            {"attr": "orders_count", "op": "gte", "value": 5},
            {"attr": "orders_count", "op": "lt", "value": 3},
            {"attr": "category_share.candles", "op": "gte", "value": 0.5},
        ],
        "drift": {"previous_version": None, "matched": {}, "new": ["c1", "c2", "c3"], "retired": []},
    },
    "replenishment": {
        "categories": ["essential_oils", "refills", "candles"],
        "population_interval_days": {"essential_oils": 46.0, "refills": 60.0, "candles": 90.0},
    },
    "affinity": {"population_order_share": {"essential_oils": 0.6, "candles": 0.3, "diffusers": 0.1}},
    "metrics": {
        "bgnbd_holdout": {"predicted": 1234.5, "actual": 1190, "mae_per_customer": 0.42},
        "clustering": {"silhouette": 0.41},
    },
}


def document(**overrides: Any) -> dict[str, Any]:
    """The base document with top-level keys replaced (``None`` removes a part, as a null does)."""
    doc = copy.deepcopy(BASE)
    doc.update(copy.deepcopy(overrides))
    return doc


def fallback_document(**overrides: Any) -> dict[str, Any]:
    """A small shop's document: no BG/NBD or Gamma-Gamma, predictions by RFM group."""
    fallback = {"reason": "only 120 repeat buyers; the threshold is 200", "by_rfm_group": FALLBACK_GROUPS}
    return document(**{"bgnbd": None, "gamma_gamma": None, "fallback": fallback, **overrides})


def publish(ddb: Any, table: str, doc: dict[str, Any], *, current: bool = True) -> None:
    """Write a document as training does: one ``V#<version>`` item, and ``CURRENT`` when it is the newest."""
    text = json.dumps(doc)
    attributes = {
        "document": {"S": text},
        "version": {"S": doc["version"]},
        "trained_at": {"S": doc["trained_at"]},
    }
    ddb.put_item(TableName=table, Item={"PK": {"S": "MODEL"}, "SK": {"S": f"V#{doc['version']}"}, **attributes})
    if current:
        ddb.put_item(TableName=table, Item={"PK": {"S": "MODEL"}, "SK": {"S": "CURRENT"}, **attributes})
