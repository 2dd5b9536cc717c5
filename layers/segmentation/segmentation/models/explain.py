"""What an AI segment's explanation adds to the rule's own: the scores behind it and where they come from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from segmentation.features.catalogue import is_model_attribute

if TYPE_CHECKING:
    from segmentation.models.scoring import ScoringModel

# Scores that explain another: a group by its R, F and M scores and their inputs, a band by its probability.
_SUPPORTING: dict[str, tuple[str, ...]] = {
    "rfm.group": ("rfm.recency_score", "rfm.frequency_score", "rfm.monetary_score"),
    "rfm.recency_score": ("days_since_last_order",),
    "rfm.frequency_score": ("orders_count",),
    "rfm.monetary_score": ("total_spent",),
    "predicted.churn_risk": ("predicted.p_alive",),
    "predicted.clv": ("predicted.orders_next_365d", "predicted.order_value", "predicted.p_alive"),
    "predicted.next_order_at": ("predicted.p_alive",),
    "cluster.id": ("cluster.label",),
    "replenish_next_in_days": ("replenish_next_category",),
}
_BOUNDS = ("predicted.orders_next_90d_low", "predicted.orders_next_90d_high", "predicted.clv_low", "predicted.clv_high")


def _json(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _supporting(name: str) -> tuple[str, ...]:
    if name in _SUPPORTING:
        return _SUPPORTING[name]
    family, _, category = name.partition(".")
    if family in ("replenish_at", "replenish_in_days"):
        return (f"replenish_at.{category}", f"replenish_interval_days.{category}")
    return ()


def model_context(
    rule_attributes: Iterable[str], attributes: dict[str, Any], model: ScoringModel | None
) -> dict[str, Any] | None:
    """The model behind a rule's verdict, or None when the rule reads no model attribute.

    ``scores`` holds the model attributes the rule reads and the ones that explain them (missing ones as null:
    no model, or no orders yet); ``bounds`` the fallback's low/high bounds when the fallback was used.
    """
    used = sorted(name for name in rule_attributes if is_model_attribute(name))
    if not used:
        return None
    names: list[str] = []
    pending = list(used)
    while pending:
        name = pending.pop(0)
        if name not in names:
            names.append(name)
            pending.extend(_supporting(name))
    fallback = bool(attributes.get("model.fallback"))
    context: dict[str, Any] = {
        "version": attributes.get("model.version"),
        "trained_at": _json(model.document.trained_at) if model is not None else None,
        "fallback": fallback,
        "scores": {name: _json(attributes.get(name)) for name in names},
    }
    if model is not None and model.document.fallback is not None and fallback:
        context["fallback_reason"] = model.document.fallback.reason
        context["bounds"] = {name: attributes[name] for name in _BOUNDS if name in attributes}
    return context
