"""Weekly schedule, a ModelTrainingRequested event, or a direct invocation -> fit and publish the models."""

import os

# One BLAS thread, set before numpy loads: every product here is tall and skinny (customers x a few features,
# or 4-vectors in the optimiser), where BLAS threads cost more in hand-offs than they save, and stall badly
# when the CPU is shared.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from segmentation import clock
from segmentation.observability import logger
from training.config import TrainingConfig
from training.pipeline import run
from training.requests import as_of_from


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    now = clock.now()
    return run(TrainingConfig.from_environment(), as_of_from(event, now), now)
