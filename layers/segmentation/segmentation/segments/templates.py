"""Built-in segment templates: the everyday audiences of a shop, as ordinary rules a marketer can copy and edit.

``TEMPLATES`` are plain rules over facts; ``AI_TEMPLATES`` use the model attributes (RFM, predictions,
replenishment), so they stay empty until a model has been published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    description: str
    rule: dict[str, Any]
    kind: str = "rules"  # "ai": reads model attributes


TEMPLATES: tuple[Template, ...] = (
    Template(
        "dormant_30",
        "Dormant 30 days",
        "Bought before, but no order for more than 30 days.",
        {"attr": "last_order_at", "op": "more_than_days_ago", "value": 30},
    ),
    Template(
        "dormant_90",
        "Dormant 90 days",
        "Bought before, but no order for more than 90 days: win-back candidates.",
        {"attr": "last_order_at", "op": "more_than_days_ago", "value": 90},
    ),
    Template(
        "high_value",
        "High-value customers",
        "Top spenders: 500 or more spent in total, net of refunds. Tune the threshold to your shop.",
        {"attr": "total_spent", "op": "gte", "value": 500},
    ),
    Template(
        "first_time_buyers",
        "First-time buyers",
        "Exactly one order, placed in the last 90 days: ready for a second-purchase nudge.",
        {
            "all": [
                {"attr": "orders_count", "op": "eq", "value": 1},
                {"attr": "first_order_at", "op": "within_last_days", "value": 90},
            ]
        },
    ),
    Template(
        "lapsed_repeat_buyers",
        "Lapsed repeat buyers",
        "Two or more orders, but none in the last 90 days.",
        {
            "all": [
                {"attr": "orders_count", "op": "gte", "value": 2},
                {"attr": "last_order_at", "op": "more_than_days_ago", "value": 90},
            ]
        },
    ),
    Template(
        "frequent_buyers",
        "Frequent buyers",
        "Four or more orders in the last 365 days.",
        {"event": "order_completed", "within_last_days": 365, "count": {"op": "gte", "value": 4}},
    ),
    Template(
        "high_engagement",
        "Highly engaged",
        "Opened three or more emails in the last 30 days.",
        {"event": "email_opened", "within_last_days": 30, "count": {"op": "gte", "value": 3}},
    ),
    Template(
        "uk_customers",
        "Customers in the UK",
        "Geography example: country is GB.",
        {"attr": "country", "op": "eq", "value": "GB"},
    ),
    Template(
        "lavender_lovers",
        "Lavender lovers",
        "Preference example: says they like lavender, or bought lavender twice in the last year.",
        {
            "any": [
                {"attr": "preferred_scents", "op": "contains", "value": "lavender"},
                {
                    "event": "order_completed",
                    "where": {"attr": "scents", "op": "contains", "value": "lavender"},
                    "within_last_days": 365,
                    "count": {"op": "gte", "value": 2},
                },
            ]
        },
    ),
)

AI_TEMPLATES: tuple[Template, ...] = (
    Template(
        "champions",
        "Champions",
        "RFM group Champions: bought recently and often. Reward them; ask for reviews.",
        {"attr": "rfm.group", "op": "eq", "value": "Champions"},
        kind="ai",
    ),
    Template(
        "high_value_at_risk",
        "High value, at risk",
        "Top two-fifths by spend (RFM monetary 4-5) whose probability of still buying has fallen into the medium "
        "or high churn-risk band: win them back before they go.",
        {
            "all": [
                {"attr": "rfm.monetary_score", "op": "gte", "value": 4},
                {"attr": "predicted.churn_risk", "op": "in", "value": ["medium", "high"]},
            ]
        },
        kind="ai",
    ),
    Template(
        "cant_lose_them",
        "At risk and can't lose",
        "RFM groups At Risk and Can't Lose Them: bought often, but not for a while.",
        {"attr": "rfm.group", "op": "in", "value": ["At Risk", "Can't Lose Them"]},
        kind="ai",
    ),
    Template(
        "replenishment_due_7d",
        "Replenishment due in 7 days",
        "A consumable (oils, refills, candles...) is expected to run out within the next 7 days, from the "
        "customer's own reorder interval or the population's.",
        {"attr": "replenish_next_in_days", "op": "between", "value": [0, 7]},
        kind="ai",
    ),
)

ALL_TEMPLATES: tuple[Template, ...] = TEMPLATES + AI_TEMPLATES

BY_ID = {t.template_id: t for t in ALL_TEMPLATES}
