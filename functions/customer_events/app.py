"""SQS (fed by the EventBridge shop-events rule) -> real-time membership, one customer at a time.

The batch is processed as a whole rather than record by record, so that several events of one customer cost
one load and one commit; failures are reported per message (ReportBatchItemFailures).
"""

from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from segmentation.events.shop import process_batch
from segmentation.observability import logger, metrics
from segmentation.wiring import services


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    svc = services()
    messages = [(record.message_id, record.body) for record in SQSEvent(event).records]
    failed = process_batch(messages, svc.engine, svc.settings.dead_letter_queue_url)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
