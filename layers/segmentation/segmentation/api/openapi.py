"""Print the OpenAPI document generated from the routes: ``python -m segmentation.api.openapi``."""

from __future__ import annotations


def document() -> str:
    from segmentation.api.app import app

    return app.get_openapi_json_schema(title="Customer segmentation API", version="1.0.0")


if __name__ == "__main__":
    print(document())
