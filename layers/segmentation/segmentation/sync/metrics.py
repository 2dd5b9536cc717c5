"""Sync metrics with a ``channel`` dimension (CloudWatch EMF through Powertools).

The shared ``metrics`` object carries one dimension set per invocation, but one batch of sync tasks can span
several channels, so each task flushes its own isolated set of metrics dimensioned by its channel.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def emit(channel: str, counts: Mapping[str, float], seconds: Mapping[str, float] | None = None) -> None:
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    metrics = EphemeralMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Segmentation"))
    metrics.add_dimension(name="channel", value=channel)
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for name, value in (seconds or {}).items():
        metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)
    metrics.flush_metrics()
