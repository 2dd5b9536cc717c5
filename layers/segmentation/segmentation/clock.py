"""The service's notion of "now".

Evaluators never read the clock; handlers ask this module once per invocation and pass the value down.
``SEGMENTATION_FROZEN_NOW`` pins it (ISO timestamp) for deterministic local demos and replays.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now() -> datetime:
    frozen = os.environ.get("SEGMENTATION_FROZEN_NOW")
    if frozen:
        return datetime.fromisoformat(frozen.replace("Z", "+00:00")).astimezone(UTC)
    return datetime.now(UTC)
