"""The model document: what training publishes and scoring reads (``MODEL``/``CURRENT`` in the table).

Parsed with pydantic at the boundary, so a malformed document is rejected as a whole with a clear message instead
of failing half-way through a customer's features. Unknown keys are ignored: the document may grow additively.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from segmentation.domain.types import Model


class Part(Model):
    model_config = ConfigDict(extra="ignore", defer_build=True)


def _ascending(breaks: list[float]) -> list[float]:
    if any(b2 < b1 for b1, b2 in pairwise(breaks)):
        raise ValueError("breaks must be ascending")
    return breaks


class RfmBreaks(Part):
    recency_days_breaks: list[float] = Field(min_length=4, max_length=4)
    frequency_breaks: list[float] = Field(min_length=4, max_length=4)
    monetary_breaks: list[float] = Field(min_length=4, max_length=4)

    _check = field_validator("recency_days_breaks", "frequency_breaks", "monetary_breaks")(_ascending)


class BgNbd(Part):
    r: float = Field(gt=0)
    alpha: float = Field(gt=0)
    a: float = Field(gt=0)
    b: float = Field(gt=0)
    loglik: float | None = None
    n: int | None = None


class GammaGamma(Part):
    p: float = Field(gt=0)
    q: float = Field(gt=1, description="q <= 1 has no finite expected order value.")
    v: float = Field(gt=0)
    n: int | None = None


class FallbackGroup(Part):
    orders_per_year: float = Field(ge=0)
    order_value: float = Field(ge=0)
    p_alive: float = Field(ge=0, le=1)
    orders_per_year_low: float | None = Field(default=None, ge=0)
    orders_per_year_high: float | None = Field(default=None, ge=0)


class Fallback(Part):
    reason: str = ""
    by_rfm_group: dict[str, FallbackGroup] = Field(default_factory=dict)


class Clv(Part):
    horizon_days: float = Field(default=365, gt=0, le=3650)
    annual_discount_rate: float = Field(default=0.10, ge=0, le=1)


class ChurnBands(Part):
    low: float = Field(default=0.7, ge=0, le=1)
    medium: float = Field(default=0.4, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ChurnBands:
        if self.medium > self.low:
            raise ValueError("churn_bands.medium must not exceed churn_bands.low")
        return self


class Clusters(Part):
    features: list[str] = Field(min_length=1)
    means: list[float]
    stds: list[float]
    centroids: list[list[float]] = Field(min_length=1)
    ids: list[str]
    labels: list[str]
    sizes: list[int] = Field(default_factory=list)
    silhouette: float | None = None
    k: int | None = None
    rules: list[dict[str, Any]] = Field(default_factory=list)
    drift: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _shapes(self) -> Clusters:
        width = len(self.features)
        if len(self.means) != width or len(self.stds) != width:
            raise ValueError("clusters.means and clusters.stds need one value per feature")
        if any(len(c) != width for c in self.centroids):
            raise ValueError("every centroid needs one coordinate per feature")
        if len(self.ids) != len(self.centroids) or len(self.labels) != len(self.centroids):
            raise ValueError("clusters.ids and clusters.labels need one entry per centroid")
        if self.rules and len(self.rules) != len(self.centroids):
            raise ValueError("clusters.rules needs one rule per centroid")
        return self


class Replenishment(Part):
    categories: list[str] = Field(default_factory=list)
    population_interval_days: dict[str, float] = Field(default_factory=dict)


class Affinity(Part):
    """Optional (added to the document after schema 1): the population's share of orders holding each
    category, the prior the per-customer affinity shrinks towards."""

    population_order_share: dict[str, float] = Field(default_factory=dict)
    prior_orders: float = Field(default=2.0, gt=0)

    @field_validator("population_order_share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        if any(not 0 < share <= 1 for share in value.values()):
            raise ValueError("population order shares must be in (0, 1]")
        return value


class ModelDocument(Part):
    schema_: int = Field(alias="schema", ge=1)
    version: str = Field(min_length=1, max_length=64)
    trained_at: datetime
    as_of: datetime | None = None
    time_unit_days: float = Field(default=7, gt=0)
    data: dict[str, int] = Field(default_factory=dict)
    rfm: RfmBreaks | None = None
    bgnbd: BgNbd | None = None
    gamma_gamma: GammaGamma | None = None
    fallback: Fallback | None = None
    clv: Clv = Field(default_factory=Clv)
    churn_bands: ChurnBands = Field(default_factory=ChurnBands)
    clusters: Clusters | None = None
    replenishment: Replenishment | None = None
    affinity: Affinity | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="ignore", defer_build=True, populate_by_name=True)

    @property
    def uses_fallback(self) -> bool:
        """Whether a prediction comes from the RFM-group fallback rather than BG/NBD or Gamma-Gamma."""
        return self.fallback is not None and (self.bgnbd is None or self.gamma_gamma is None)
