"""SQS FIFO sync tasks -> channel adapters (level-triggered, consent-gated, rate-limited per channel)."""

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from segmentation.observability import logger, metrics
from segmentation.sync.consumer import consume

# A failed task holds back the rest of its channel's group (order matters: an add must not overtake the
# removal after it) but not the other channels' groups.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    consume(record.body, record.receipt_handle, lambda_context.get_remaining_time_in_millis())


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
