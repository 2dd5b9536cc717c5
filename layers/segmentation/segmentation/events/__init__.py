"""Inbound shop events (EventBridge, delivered through SQS) and their dispatch to the membership engine."""
