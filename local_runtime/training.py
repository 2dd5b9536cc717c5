"""The AI-segment models on the local runtime: a fast history backfill, and the demo's training step.

``store_histories`` writes customers' facts straight into the table with the store's own item shapes
(no segment evaluation), which is all training needs and much faster than replaying every event through
the real-time handler. The demo itself replays through the handlers and only then trains.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from local_runtime.router import Router
from segmentation.features.compute import CustomerHistory
from segmentation.store.dynamo import DynamoStore, engagement_fact, order_fact, refund_fact

FUNCTION = "ModelTrainingFunction"
_GROUP_ORDER = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)


def store_histories(store: DynamoStore, histories: Iterable[CustomerHistory]) -> int:
    """Write each customer's profile, orders, refunds and engagement; returns how many customers."""
    count = 0
    for history in histories:
        customer_id = history.profile.customer_id
        facts = []
        for order in history.orders:
            facts.append(order_fact(order))
            if order.refunded > 0 and order.refunded_at is not None:
                facts.append(refund_fact(order.order_id, order.refunded, order.refunded_at))
        facts.extend(engagement_fact(event) for event in history.engagements)
        if facts:
            store.put_facts(customer_id, facts)
        store.save_profile(history.profile, {}, 0)
        count += 1
    return count


def current_model(router: Router) -> dict[str, Any] | None:
    """The CURRENT model document, as the scoring side reads it."""
    out = router.env.client("dynamodb").get_item(
        TableName=router.env.physical_ids["SegmentationTable"],
        Key={"PK": {"S": "MODEL"}, "SK": {"S": "CURRENT"}},
        ConsistentRead=True,
    )
    item = out.get("Item")
    return json.loads(item["document"]["S"]) if item else None


def train_step(router: Router, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Invoke the training function as a direct request would, then print what it learned."""
    log("\ntraining the AI segment models (ModelTrainingFunction) ...")
    outcome = router.invoke(FUNCTION, {"reason": "demo"})
    document = current_model(router)
    if document is None:
        raise RuntimeError(f"training stored no model: {outcome}")
    for line in describe(document):
        log(line)
    log(f"  model {document['version']} stored at {outcome['model']} and as MODEL/CURRENT in the table")
    return document


def describe(document: dict[str, Any]) -> list[str]:
    """The model in a few lines: fit or fallback, clusters with labels, the RFM grid."""
    lines = []
    data = document["data"]
    lines.append(
        f"  {data['customers']} customers, {data['buyers']} buyers, {data['repeat_buyers']} repeat buyers "
        f"(as of {document['as_of']})"
    )
    bgnbd, spend = document.get("bgnbd"), document.get("gamma_gamma")
    if bgnbd and spend:
        lines.append(
            f"  BG/NBD r={bgnbd['r']:.3g} alpha={bgnbd['alpha']:.3g} a={bgnbd['a']:.3g} b={bgnbd['b']:.3g}; "
            f"Gamma-Gamma p={spend['p']:.3g} q={spend['q']:.3g} v={spend['v']:.3g}"
        )
    if document.get("fallback"):
        lines.append(f"  predictions use per-RFM-group rates: {document['fallback']['reason']}")
    check = (document.get("metrics") or {}).get("bgnbd_holdout") or {}
    if check.get("customers"):
        lines.append(
            f"  holdout ({check['model']}, last {check['holdout_days']:.0f} days): predicted {check['predicted']:.0f} "
            f"purchases, actual {check['actual']:.0f}; mean absolute error {check['mae_per_customer']:.2f} per customer"
        )
    clusters = document.get("clusters")
    if clusters:
        lines.append(f"\nclusters (k={clusters['k']}, silhouette {clusters['silhouette']:.2f})")
        for cid, label, size in zip(clusters["ids"], clusters["labels"], clusters["sizes"], strict=True):
            lines.append(f"  {cid:<4} {size:>6}  {label}")
    counts = ((document.get("metrics") or {}).get("rfm") or {}).get("groups") or {}
    grid = ((document.get("metrics") or {}).get("rfm") or {}).get("grid")
    if grid:
        lines.append("\nRFM grid (customers per recency x frequency score)")
        lines.append("         " + "".join(f"{'F' + str(f):>7}" for f in range(1, 6)))
        for r in range(5, 0, -1):
            lines.append(f"    R{r}   " + "".join(f"{grid[r - 1][f - 1]:>7}" for f in range(1, 6)))
        lines.append("  " + ", ".join(f"{g} {counts.get(g, 0)}" for g in _GROUP_ORDER))
    return lines
