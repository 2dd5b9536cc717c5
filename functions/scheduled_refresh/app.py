"""EventBridge Scheduler -> the boundary run (due customers only) or a cadence's full refresh."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from segmentation.observability import logger, metrics
from segmentation.refresh.tasks import run_scheduled
from segmentation.wiring import services


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    return run_scheduled(event, services(), context.get_remaining_time_in_millis)
