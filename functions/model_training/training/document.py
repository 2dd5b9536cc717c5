"""The model document: its shape (checked before anything is stored) and its content-derived version.

The shape is the contract with the scoring side. Keys beyond it are additive and optional (``extra`` is
allowed at every level), so scoring never depends on them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = 1


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class DataCounts(_Open):
    customers: int = Field(ge=0)
    buyers: int = Field(ge=0)
    repeat_buyers: int = Field(ge=0)


class RfmBreaks(_Open):
    recency_days_breaks: list[float] = Field(min_length=4, max_length=4)
    frequency_breaks: list[float] = Field(min_length=4, max_length=4)
    monetary_breaks: list[float] = Field(min_length=4, max_length=4)


class BgNbdParams(_Open):
    r: float = Field(gt=0)
    alpha: float = Field(gt=0)
    a: float = Field(gt=0)
    b: float = Field(gt=0)
    loglik: float
    n: int = Field(gt=0)


class GammaGammaParams(_Open):
    p: float = Field(gt=0)
    q: float = Field(gt=1)
    v: float = Field(gt=0)
    n: int = Field(gt=0)


class GroupEstimate(_Open):
    orders_per_year: float = Field(ge=0)
    order_value: float = Field(ge=0)
    p_alive: float = Field(ge=0, le=1)
    orders_per_year_low: float = Field(ge=0)
    orders_per_year_high: float = Field(ge=0)


class FallbackEstimates(_Open):
    reason: str
    by_rfm_group: dict[str, GroupEstimate]


class Clv(_Open):
    horizon_days: int = Field(gt=0)
    annual_discount_rate: float = Field(ge=0)


class ChurnBands(_Open):
    low: float = Field(gt=0, le=1)
    medium: float = Field(gt=0, le=1)


class Clusters(_Open):
    features: list[str]
    means: list[float]
    stds: list[float]
    centroids: list[list[float]]
    ids: list[str]
    labels: list[str]
    sizes: list[int]
    silhouette: float
    k: int = Field(ge=1)
    rules: list[dict[str, Any]]
    drift: dict[str, Any]


class Replenishment(_Open):
    categories: list[str]
    population_interval_days: dict[str, float]


class Affinity(_Open):
    """Additive to the contract's first version: the prior that per-customer category affinity shrinks to."""

    population_order_share: dict[str, float]
    prior_orders: float = Field(gt=0)


class ModelDocument(_Open):
    schema_: int = Field(alias="schema")
    version: str = Field(pattern=r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
    trained_at: str
    as_of: str
    time_unit_days: float = Field(gt=0)
    data: DataCounts
    rfm: RfmBreaks | None
    bgnbd: BgNbdParams | None
    gamma_gamma: GammaGammaParams | None
    fallback: FallbackEstimates | None
    clv: Clv
    churn_bands: ChurnBands
    clusters: Clusters | None
    replenishment: Replenishment
    affinity: Affinity | None = None
    metrics: dict[str, Any]


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)


def with_version(document: dict[str, Any], trained_at: datetime) -> dict[str, Any]:
    """The document with its ``version``: the training time and the first 8 hex of the sha256 of the rest."""
    body = {k: v for k, v in document.items() if k != "version"}
    digest = hashlib.sha256(canonical(body).encode()).hexdigest()[:8]
    versioned = {**body, "version": f"{trained_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest}"}
    ModelDocument.model_validate(versioned)
    return versioned


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two documents say the same thing, whenever and under whatever version they were trained."""
    ignored = {"version", "trained_at"}
    return canonical({k: v for k, v in a.items() if k not in ignored}) == canonical(
        {k: v for k, v in b.items() if k not in ignored}
    )
