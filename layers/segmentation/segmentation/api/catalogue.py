"""The attribute catalogue and the built-in segment templates, for rule builders."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from segmentation.features.catalogue import ATTRIBUTES, EVENT_PROPERTIES
from segmentation.segments.templates import ALL_TEMPLATES

router = Router()


@router.get("/attributes", summary="Every attribute and event property a rule may use")
def list_attributes() -> dict[str, Any]:
    return {
        "attributes": [
            {
                "name": a.name,
                "type": a.type.value,
                "group": a.group,
                "description": a.description,
                "time_relative": a.time_relative,
                "model": a.model,
            }
            for a in ATTRIBUTES
        ],
        "events": {name: {p: t.value for p, t in props.items()} for name, props in EVENT_PROPERTIES.items()},
    }


@router.get("/segment-templates", summary="Built-in segment templates (ordinary rules to copy and edit)")
def list_templates() -> dict[str, Any]:
    return {
        "templates": [
            {"template_id": t.template_id, "name": t.name, "description": t.description, "rule": t.rule, "kind": t.kind}
            for t in ALL_TEMPLATES
        ]
    }
