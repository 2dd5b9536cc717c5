"""Segment definitions, built-in templates and real-time membership."""
