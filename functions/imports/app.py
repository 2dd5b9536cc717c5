"""S3 uploads under imports/ and chunks from the import queue -> the import pipeline.

An S3 notification binds the upload to a job and plans it (a small file is processed in the same
invocation); each chunk of a larger file arrives as one SQS message. Both are at-least-once: the pipeline
keys jobs on the uploaded content and counts each chunk once.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from importer.wiring import importer
from pydantic import BaseModel

from segmentation.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


class ChunkMessage(BaseModel):
    job_id: str
    chunk: int


def chunk_handler(record: SQSRecord) -> None:
    message = ChunkMessage.model_validate_json(record.body)
    importer().process_chunk(message.job_id, message.chunk)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        return process_partial_response(event=event, record_handler=chunk_handler, processor=processor, context=context)
    from importer.pipeline import Upload

    for record in records:
        if record.get("eventSource") == "aws:s3" and str(record.get("eventName", "")).startswith("ObjectCreated"):
            importer().on_upload(Upload.from_s3_record(record))
    return {"processed": len(records)}
