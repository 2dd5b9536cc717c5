"""The documented attribute catalogue: every name a rule may use, with its type.

Types drive validation (a value that does not fit the attribute is rejected when the rule is defined) and
evaluation (dates compare as instants, strings case-insensitively). Families such as ``custom.<key>``,
``category_share.<category>`` and ``affinity.<category>`` accept any key; their type is the family's.
Attributes flagged ``model`` are scored from the published model document (``segmentation.models``) and are
missing until one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AttrType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    STRING_LIST = "string_list"
    ANY = "any"  # custom attributes: whatever the shop stores


@dataclass(frozen=True)
class Attribute:
    name: str
    type: AttrType
    group: str
    description: str
    time_relative: bool = False  # its value changes with the mere passage of time
    model: bool = False  # scored from the published model document: changes when a new model is published

    @property
    def is_family(self) -> bool:
        return self.name.endswith(".*")


_S, _N, _B, _DT, _D, _L, _ANY = (
    AttrType.STRING,
    AttrType.NUMBER,
    AttrType.BOOLEAN,
    AttrType.DATETIME,
    AttrType.DATE,
    AttrType.STRING_LIST,
    AttrType.ANY,
)


def _scored(name: str, kind: AttrType, group: str, text: str, time_relative: bool = False) -> Attribute:
    return Attribute(name, kind, group, text, time_relative=time_relative, model=True)


ATTRIBUTES: tuple[Attribute, ...] = (
    # demographics and geography
    Attribute("customer_id", _S, "profile", "The shop's id for the customer."),
    Attribute("email_domain", _S, "profile", "Domain part of the email address, e.g. gmail.com."),
    Attribute("has_email", _B, "profile", "Whether an email address is on file."),
    Attribute("has_phone", _B, "profile", "Whether a phone number is on file."),
    Attribute("birth_date", _D, "demographics", "Date of birth."),
    Attribute("age", _N, "demographics", "Age in whole years on the evaluation date.", time_relative=True),
    Attribute("gender", _S, "demographics", "female, male, non_binary or unspecified."),
    Attribute("country", _S, "geography", "ISO 3166-1 alpha-2 country code, e.g. GB."),
    Attribute("region", _S, "geography", "Region, state or county."),
    Attribute("city", _S, "geography", "City."),
    Attribute("postal_code", _S, "geography", "Postal code as given."),
    Attribute("registered_at", _DT, "profile", "When the customer registered."),
    # preferences
    Attribute("preferred_scents", _L, "preferences", "Scent families the customer said they like."),
    Attribute("preferred_categories", _L, "preferences", "Product categories the customer said they like."),
    Attribute("purchased_scents", _L, "preferences", "Scents of products the customer has bought."),
    Attribute("purchased_categories", _L, "preferences", "Categories of products the customer has bought."),
    # purchases
    Attribute("first_order_at", _DT, "purchases", "Time of the first completed order."),
    Attribute("last_order_at", _DT, "purchases", "Time of the most recent completed order."),
    Attribute("days_since_last_order", _N, "purchases", "Whole days since the last order.", time_relative=True),
    Attribute("orders_count", _N, "purchases", "Completed orders, lifetime, excluding fully refunded ones."),
    Attribute("orders_30d", _N, "purchases", "Completed orders in the last 30 days.", time_relative=True),
    Attribute("orders_90d", _N, "purchases", "Completed orders in the last 90 days.", time_relative=True),
    Attribute("orders_365d", _N, "purchases", "Completed orders in the last 365 days.", time_relative=True),
    Attribute("total_spent", _N, "purchases", "Lifetime spend, net of refunds."),
    Attribute("spent_30d", _N, "purchases", "Spend in the last 30 days, net of refunds.", time_relative=True),
    Attribute("spent_90d", _N, "purchases", "Spend in the last 90 days, net of refunds.", time_relative=True),
    Attribute("spent_365d", _N, "purchases", "Spend in the last 365 days, net of refunds.", time_relative=True),
    Attribute("avg_order_value", _N, "purchases", "Mean net order value; missing before the first order."),
    Attribute(
        "avg_items_per_order", _N, "purchases", "Mean items per order (basket size); missing before the first order."
    ),
    Attribute("favourite_category", _S, "purchases", "Category with the largest share of items bought."),
    Attribute(
        "category_share.*", _N, "purchases", "Share (0..1) of items bought in a category, e.g. category_share.candles."
    ),
    Attribute("mean_days_between_orders", _N, "purchases", "Mean gap between consecutive orders; needs 2+ orders."),
    Attribute("refunds_count", _N, "purchases", "Orders with a refund, lifetime."),
    Attribute("refunded_total", _N, "purchases", "Amount refunded, lifetime."),
    # engagement
    Attribute("last_engaged_at", _DT, "engagement", "Latest email open, click or site visit."),
    Attribute("email_opens_30d", _N, "engagement", "Email opens in the last 30 days.", time_relative=True),
    Attribute("email_clicks_30d", _N, "engagement", "Email clicks in the last 30 days.", time_relative=True),
    Attribute("site_visits_30d", _N, "engagement", "Site visits in the last 30 days.", time_relative=True),
    # marketing
    Attribute("tags", _L, "tags", "Tags set by campaign managers or imports."),
    Attribute("consent.email", _S, "consent", "subscribed, unsubscribed, never_asked or pending."),
    Attribute("consent.sms", _S, "consent", "subscribed, unsubscribed, never_asked or pending."),
    Attribute("consent.push", _S, "consent", "subscribed, unsubscribed, never_asked or pending."),
    Attribute("consent.ads", _S, "consent", "subscribed, unsubscribed, never_asked or pending."),
    Attribute("custom.*", _ANY, "custom", "Any custom attribute stored on the profile, e.g. custom.loyalty_tier."),
    # AI segments: scored from the current model document (docs/models.md); missing until a model is published
    _scored("model.version", _S, "model", "Version of the model document the scores come from."),
    _scored("model.fallback", _B, "model", "True when predictions come from the RFM-group fallback (small data)."),
    _scored(
        "rfm.recency_score", _N, "rfm", "1-5 by quintile breaks of days since the last order; 5 = most recent.", True
    ),
    _scored("rfm.frequency_score", _N, "rfm", "1-5 by quintile breaks of orders_count; 5 = most orders."),
    _scored("rfm.monetary_score", _N, "rfm", "1-5 by quintile breaks of total_spent; 5 = highest spend."),
    _scored("rfm.group", _S, "rfm", "Named RFM group, e.g. Champions, At Risk, Lost (the R x F grid).", True),
    _scored("predicted.p_alive", _N, "predictive", "Probability (0..1) that the customer is still buying.", True),
    _scored("predicted.orders_next_30d", _N, "predictive", "Expected orders in the next 30 days.", True),
    _scored("predicted.orders_next_90d", _N, "predictive", "Expected orders in the next 90 days.", True),
    _scored("predicted.orders_next_365d", _N, "predictive", "Expected orders in the next 365 days.", True),
    _scored("predicted.orders_next_90d_low", _N, "predictive", "Fallback only: low bound of orders_next_90d.", True),
    _scored("predicted.orders_next_90d_high", _N, "predictive", "Fallback only: high bound of orders_next_90d.", True),
    _scored("predicted.order_value", _N, "predictive", "Expected value of the customer's future orders.", True),
    _scored("predicted.clv", _N, "predictive", "Predicted customer value over the model's horizon, discounted.", True),
    _scored("predicted.clv_low", _N, "predictive", "Fallback only: low bound of the predicted CLV.", True),
    _scored("predicted.clv_high", _N, "predictive", "Fallback only: high bound of the predicted CLV.", True),
    _scored(
        "predicted.churn_risk", _S, "predictive", "low, medium or high, from P(alive) and the model's bands.", True
    ),
    _scored("predicted.next_order_at", _DT, "predictive", "Expected next order, if still buying; else missing.", True),
    _scored("cluster.id", _S, "clustering", "Id of the behavioural cluster (stable across retrains), e.g. c2.", True),
    _scored("cluster.label", _S, "clustering", "Plain-language description of the cluster.", True),
    _scored("affinity.*", _N, "affinity", "Affinity (0..1) for a category, 0.5 = average, e.g. affinity.candles."),
    _scored("replenish_at.*", _DT, "replenishment", "When a consumable category is expected to run out."),
    _scored("replenish_in_days.*", _N, "replenishment", "Whole days until replenish_at; negative when overdue.", True),
    _scored(
        "replenish_interval_days.*", _N, "replenishment", "Reorder interval used: own (2+ purchases) or population."
    ),
    _scored("replenish_next_in_days", _N, "replenishment", "Days until the next replenishment not yet overdue.", True),
    _scored("replenish_next_category", _S, "replenishment", "Category of replenish_next_in_days.", True),
)

_BY_NAME = {a.name: a for a in ATTRIBUTES if not a.is_family}
_FAMILIES = {a.name[:-2]: a for a in ATTRIBUTES if a.is_family}


def lookup(name: str) -> Attribute | None:
    """The catalogue entry for ``name``, resolving families (``custom.tier`` -> ``custom.*``)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    prefix, _, key = name.partition(".")
    family = _FAMILIES.get(prefix)
    if family is not None and key and key.replace("_", "").replace("-", "").isalnum():
        return family
    return None


def is_model_attribute(name: str) -> bool:
    """Whether ``name`` is scored from the model document (so a new model can change it)."""
    entry = lookup(name)
    return entry is not None and entry.model


def all_names() -> list[str]:
    return [a.name for a in ATTRIBUTES]


# Behaviour conditions match events by name; ``where`` clauses use these properties.
EVENT_PROPERTIES: dict[str, dict[str, AttrType]] = {
    "order_completed": {
        "order_id": _S,
        "total": _N,
        "net_total": _N,
        "item_count": _N,
        "categories": _L,
        "scents": _L,
        "skus": _L,
        "currency": _S,
        "refunded": _B,
    },
    "order_refunded": {"order_id": _S, "amount": _N},
    "email_opened": {"campaign": _S},
    "email_clicked": {"campaign": _S, "url": _S},
    "site_visited": {"url": _S},
}
