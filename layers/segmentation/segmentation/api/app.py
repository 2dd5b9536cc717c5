"""The REST resolver: routers, OpenAPI/Swagger, and domain exceptions mapped to HTTP once."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from segmentation.api import catalogue, customers, imports, models, refresh, segments
from segmentation.observability import logger
from segmentation.rules import RuleValidationError
from segmentation.store.errors import ConcurrentUpdate, Conflict, NotFound

app = APIGatewayRestResolver(enable_validation=True)
app.include_router(catalogue.router)
app.include_router(segments.router)
app.include_router(customers.router)
app.include_router(refresh.router)
app.include_router(models.router)
app.include_router(imports.router)
app.enable_swagger(path="/swagger", title="Customer segmentation API", version="1.0.0")


def _error(status: int, message: str, **extra: object) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"message": message, **extra})


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    # Location, message and type of each bad field, as the OpenAPI document promises; never the input value,
    # which may be personal data.
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", "invalid"), "type": e.get("type", "")} for e in exc.errors()
    ]
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body={"message": "invalid request", "detail": detail},
    )


@app.exception_handler(RuleValidationError)
def _invalid_rule(exc: RuleValidationError) -> Response:
    issues = [{"path": i.path, "message": i.message, "suggestions": list(i.suggestions)} for i in exc.issues]
    return _error(400, "invalid rule", issues=issues)


@app.exception_handler(NotFound)
def _not_found(exc: NotFound) -> Response:
    return _error(404, str(exc))


@app.exception_handler(Conflict)
def _conflict(exc: Conflict) -> Response:
    return _error(409, str(exc))


@app.exception_handler(ConcurrentUpdate)
def _concurrent(exc: ConcurrentUpdate) -> Response:
    logger.warning("concurrent update rejected")
    return _error(409, "the resource changed concurrently; reload and retry")


@app.exception_handler(ValueError)
def _bad_value(exc: ValueError) -> Response:
    return _error(400, str(exc))
