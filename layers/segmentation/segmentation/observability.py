"""One logger and one metrics object for the whole service; everything imports them from here.

Log lines are lowercase events with structured fields. Never log an email address, phone or name:
identify people by ``customer_id`` only.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="segmentation")
metrics = Metrics(namespace="Segmentation", service="segmentation")
