"""Built-in segment templates: the everyday audiences of a shop, as ordinary rules a marketer can copy and edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Template:
    template_id: str
    name: str
    description: str
    rule: dict[str, Any]


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

BY_ID = {t.template_id: t for t in TEMPLATES}
