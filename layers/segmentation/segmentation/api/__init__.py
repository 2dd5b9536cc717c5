"""REST API: one Router per resource, assembled in ``segmentation.api.app``."""
