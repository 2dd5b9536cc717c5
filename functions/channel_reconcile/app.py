"""Schedule -> one drift-reconciliation task per segment destination, into the sync queue."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from segmentation.observability import logger, metrics
from segmentation.sync.reconcile import queue_reconciliation
from segmentation.wiring import services


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    return {"queued": queue_reconciliation(services())}
