"""Run the service on one machine without AWS: moto plays AWS, template.yaml says what to create and wire.

Typical use::

    from local_runtime import LocalAws, Router, create_resources, load_template

    with LocalAws() as aws:
        env = create_resources(load_template(), endpoint_url=aws.endpoint_url)
        router = Router(env)
        status, headers, body = router.api("GET", "/segments", headers={"x-api-key": router.api_key})
        router.drain()
"""

import sys
from pathlib import Path

# The shared layer is importable here as it is in Lambda, where SAM puts it on /opt/python.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "segmentation")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)

from local_runtime.aws import LocalAws, local_aws
from local_runtime.resources import LocalEnvironment, create_resources
from local_runtime.router import ApiResponse, DrainStats, FakeLambdaContext, Router
from local_runtime.template import EventSource, FunctionSpec, Template, TemplateError, load_template

__all__ = [
    "ApiResponse",
    "DrainStats",
    "EventSource",
    "FakeLambdaContext",
    "FunctionSpec",
    "LocalAws",
    "LocalEnvironment",
    "Router",
    "Template",
    "TemplateError",
    "create_resources",
    "load_template",
    "local_aws",
]
