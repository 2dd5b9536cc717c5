"""Movement between RFM groups over time, kept on the profile so every writer of the profile carries it along."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from segmentation.domain.models import CustomerProfile, RfmMove

HISTORY_LIMIT = 24  # moves kept per customer; a group rarely changes more than monthly


def track_rfm_group(profile: CustomerProfile, attributes: dict[str, Any], now: datetime) -> CustomerProfile:
    """The profile with a move appended if the customer's RFM group differs from the last one recorded.

    Compared with the history rather than the previous feature snapshot, so a spell without a model (or
    without a counted order) does not record a move out of the group and back again.
    """
    group = attributes.get("rfm.group")
    if group is None:
        return profile
    last = profile.rfm_history[-1].to_group if profile.rfm_history else None
    if group == last:
        return profile
    move = RfmMove(at=now, from_group=last, to_group=group, model_version=attributes.get("model.version"))
    return profile.model_copy(update={"rfm_history": [*profile.rfm_history, move][-HISTORY_LIMIT:]})
