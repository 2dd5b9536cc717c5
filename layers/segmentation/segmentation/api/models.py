"""AI models: the published model versions with their quality, and the clusters as suggested segments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import ConfigDict, Field, ValidationError

from segmentation import clock
from segmentation.api.refresh import run_view
from segmentation.api.responses import CREATED, ERROR
from segmentation.domain.types import Model
from segmentation.segments.models import Destination, SegmentInput
from segmentation.segments.service import slugify
from segmentation.store.errors import NotFound
from segmentation.store.models import ModelDocuments, StoredModel
from segmentation.wiring import services

if TYPE_CHECKING:
    from segmentation.models.document import ModelDocument

router = Router()

ClusterPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
PREVIOUS_VERSIONS = 10


class AdoptCluster(Model):
    """Body of ``POST /clusters/{id}/adopt``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    mode: Literal["membership", "rule"] = Field(
        default="membership",
        description="membership: the segment is the cluster as the model assigns it (cluster.id eq ...), and "
        "follows retrains; rule: the cluster's editable rule, copied into the segment.",
    )
    segment_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=1000)
    destinations: list[Destination] = Field(default_factory=list, max_length=20)


def _documents() -> ModelDocuments:
    return ModelDocuments(services().settings.table_name)


def _parse(stored: StoredModel) -> tuple[ModelDocument | None, str | None]:
    from segmentation.models.document import ModelDocument  # deferred: only these routes parse documents

    try:
        return ModelDocument.model_validate_json(stored.document), None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return None, problems


def _summary(stored: StoredModel) -> dict[str, Any]:
    doc, error = _parse(stored)
    if doc is None:
        return {"version": stored.version, "trained_at": stored.trained_at, "valid": False, "error": error}
    clusters = doc.clusters
    return {
        "version": doc.version,
        "trained_at": doc.trained_at.isoformat(),
        "as_of": doc.as_of.isoformat() if doc.as_of else None,
        "valid": True,
        "data": doc.data,
        "fallback": doc.uses_fallback,
        "fallback_reason": doc.fallback.reason if doc.fallback is not None and doc.uses_fallback else None,
        "time_unit_days": doc.time_unit_days,
        "parameters": {
            "bgnbd": doc.bgnbd.model_dump() if doc.bgnbd else None,
            "gamma_gamma": doc.gamma_gamma.model_dump() if doc.gamma_gamma else None,
            "rfm": doc.rfm.model_dump() if doc.rfm else None,
        },
        "clv": doc.clv.model_dump(),
        "churn_bands": doc.churn_bands.model_dump(),
        "clusters": {"k": len(clusters.ids), "silhouette": clusters.silhouette, "drift": clusters.drift}
        if clusters
        else None,
        "replenishment_categories": doc.replenishment.categories if doc.replenishment else [],
        "metrics": doc.metrics,
    }


@router.get("/models", summary="The current model version, its data and quality metrics, and previous versions")
def get_models() -> dict[str, Any]:
    documents = _documents()
    current = documents.current()
    previous = [v for v in documents.versions(PREVIOUS_VERSIONS + 1) if current is None or v.version != current.version]
    return {
        "current": _summary(current) if current else None,
        "previous": [_summary(v) for v in previous[:PREVIOUS_VERSIONS]],
        "cache_seconds": services().settings.model_cache_seconds,
        "message": None if current else "no model has been published yet: model attributes are missing",
    }


def _current_document() -> ModelDocument:
    stored = _documents().current()
    if stored is None:
        raise NotFound("no model has been published yet")
    doc, error = _parse(stored)
    if doc is None:
        raise NotFound(f"the current model document is invalid: {error}")
    return doc


def _membership_rule(cluster_id: str) -> dict[str, Any]:
    return {"attr": "cluster.id", "op": "eq", "value": cluster_id}


@router.get("/clusters", summary="Behavioural clusters of the current model, as suggested segments")
def get_clusters() -> dict[str, Any]:
    stored = _documents().current()
    doc = _parse(stored)[0] if stored else None
    if doc is None or doc.clusters is None:
        return {"model_version": doc.version if doc else None, "clusters": [], "message": "no clusters published"}
    clusters = doc.clusters
    adopted: dict[str, list[str]] = {}
    for definition in services().segments.definitions():
        if definition.template and definition.template.startswith("cluster:"):
            adopted.setdefault(definition.template.split(":", 2)[1], []).append(definition.segment_id)
    total = sum(clusters.sizes) or None
    out = []
    for index, cluster_id in enumerate(clusters.ids):
        size = clusters.sizes[index] if index < len(clusters.sizes) else None
        out.append(
            {
                "cluster_id": cluster_id,
                "label": clusters.labels[index],
                "size": size,
                "share": round(size / total, 4) if size is not None and total else None,
                "membership_rule": _membership_rule(cluster_id),
                "rule": clusters.rules[index] if clusters.rules else None,
                "adopt": f"/clusters/{cluster_id}/adopt",
                "adopted_by": sorted(adopted.get(cluster_id, [])),
            }
        )
    return {
        "model_version": doc.version,
        "k": len(clusters.ids),
        "silhouette": clusters.silhouette,
        "features": clusters.features,
        "drift": clusters.drift,
        "clusters": out,
    }


@router.post(
    "/clusters/<cluster_id>/adopt",
    responses={**CREATED, 404: ERROR},
    summary="Adopt a cluster as a segment: by cluster membership, or as its editable rule",
)
def adopt_cluster(
    cluster_id: ClusterPath, body: Annotated[AdoptCluster | None, Body()] = None
):  # returns Response: unannotated, Powertools cannot build a schema for it
    request = body or AdoptCluster()
    doc = _current_document()
    clusters = doc.clusters
    if clusters is None or cluster_id not in clusters.ids:
        raise NotFound(f"cluster {cluster_id} not found in model {doc.version}")
    index = clusters.ids.index(cluster_id)
    label = clusters.labels[index]
    if request.mode == "rule":
        if not clusters.rules:
            raise NotFound(f"model {doc.version} has no editable rule for cluster {cluster_id}")
        rule = clusters.rules[index]
        default_id = slugify(f"cluster_{cluster_id}_rule")
        description = f"Editable rule approximating cluster {cluster_id} ({label}) of model {doc.version}."
    else:
        rule = _membership_rule(cluster_id)
        default_id = slugify(f"cluster_{cluster_id}")
        description = f"Customers the current model assigns to cluster {cluster_id} ({label}); follows retrains."
    data = SegmentInput(
        segment_id=request.segment_id or default_id,
        name=request.name or f"Cluster {cluster_id}: {label}"[:120],
        description=request.description if request.description is not None else description,
        rule=rule,
        destinations=request.destinations,
    )
    definition, run = services().segments.create(data, clock.now(), template=f"cluster:{cluster_id}:{request.mode}")
    # Membership is computed by the refresh run the creation started (as for every saved segment).
    body_out = {"segment": definition.model_dump(mode="json"), "refresh": run_view(run)}
    headers = {"Location": f"/segments/{definition.segment_id}/refreshes/{run.run_id}"}
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body_out, headers=headers)
