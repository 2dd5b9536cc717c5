"""`make demo`: a synthetic aromatherapy shop, end to end on the local runtime.

1. local AWS (moto) with every resource of template.yaml, a local signed-webhook receiver, and fake
   Mailchimp, HubSpot and Klaviyo servers whose credentials are stored as the channels' secrets;
2. the built-in segment templates created through the API;
3. two years of shop history replayed through the real customer-events handler (queue batches grouped by
   customer, as SQS would deliver them), then the last days live: EventBridge -> rule -> queue -> handler;
4. sync tasks delivered by the real channel-sync handler to the webhook; after the backfill the three
   platforms are added as destinations and the scheduled drift reconciliation fills them;
5. a summary: segment sizes, members with the reasons they are in, what the webhook and each platform received;
6. the AI segment models trained on that history (clusters with their labels, the RFM grid, where the model is
   stored), then the AI templates and the top customers by predicted CLV;
7. freshness: the impact preview of an edit, the refresh run the edit starts, and the boundary schedule moving a
   customer into "dormant 90 days" within one period of her day 90 (on the pinned clock, moved forward).

The clock is pinned to the end of the synthetic history so every run prints the same numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from local_runtime.channels import start_fakes, stop_fakes
from local_runtime.cli import Command, add_stack_arguments, local_stack, parse_overrides
from local_runtime.fakes.base import FakePlatform
from local_runtime.router import Router
from local_runtime.shop import Shop, generate_shop
from local_runtime.webhook_receiver import WebhookReceiver

LIVE_DAYS = 1
BACKFILL_BATCH = 100
DRAIN_EVERY = 5  # backfill batches between deliveries of queued sync tasks
LIVE_BURST = 50  # live events put on the bus between queue deliveries
# Channels the demo syncs: list name at the destination per built-in segment.
SYNCED = {"dormant_90": "win-back", "high_value": "vip", "lavender_lovers": "lavender-newsletter"}


def sqs_batch(events: list[dict[str, Any]], start: int) -> dict[str, Any]:
    """A queue batch shaped as Lambda receives it from SQS."""
    return {
        "Records": [
            {
                "messageId": f"backfill-{start + i}",
                "receiptHandle": f"backfill-{start + i}",
                "body": json.dumps(event),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:CustomerEventsQueue",
                "awsRegion": "eu-west-1",
            }
            for i, event in enumerate(events)
        ]
    }


def customer_batches(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Batches holding whole customers' histories, as a busy queue with a batching window delivers them."""
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_customer.setdefault(event["detail"]["customer_id"], []).append(event)
    batch: list[dict[str, Any]] = []
    for history in by_customer.values():
        if batch and len(batch) + len(history) > size:
            yield batch
            batch = []
        batch.extend(history)
    if batch:
        yield batch


def replay_backfill(router: Router, events: list[dict[str, Any]], log: Any) -> None:
    started, sent = time.perf_counter(), 0
    for number, batch in enumerate(customer_batches(events, BACKFILL_BATCH), start=1):
        result = router.invoke("CustomerEventsFunction", sqs_batch(batch, sent))
        if result["batchItemFailures"]:
            raise RuntimeError(f"backfill batch failed: {result['batchItemFailures'][:3]}")
        sent += len(batch)
        if number % DRAIN_EVERY == 0:
            router.drain()  # deliver the sync tasks as they come, as the channel-sync function would
        if sent % 10_000 < len(batch):
            log(f"  {sent:>6} / {len(events)} events ({time.perf_counter() - started:.0f} s)")
    log(f"  {sent} events in {time.perf_counter() - started:.0f} s")


def publish_live(router: Router, events: list[dict[str, Any]], bus: str) -> Any:
    """Put events on the bus in small bursts, delivering each burst through the queues before the next."""
    client = router.env.client("events")
    invocations: Counter[str] = Counter()
    for start in range(0, len(events), 10):
        entries = [
            {
                "Source": e["source"],
                "DetailType": e["detail-type"],
                "Detail": json.dumps(e["detail"]),
                "EventBusName": bus,
            }
            for e in events[start : start + 10]
        ]
        out = client.put_events(Entries=entries)
        if out.get("FailedEntryCount"):
            raise RuntimeError("EventBridge rejected demo events")
        if start % LIVE_BURST == 0:
            invocations.update(router.drain(max_rounds=10_000).invocations_by_function)
    invocations.update(router.drain(max_rounds=10_000).invocations_by_function)
    return invocations


def render(node: dict[str, Any], indent: str = "      ") -> list[str]:
    """An explanation tree as indented lines: verdict, condition and the value behind it."""
    mark = "yes" if node["verdict"] else "no "
    for kind in ("all", "any"):
        if kind in node:
            lines = [f"{indent}{mark} {kind} of:"]
            for child in node[kind]:
                lines += render(child, indent + "    ")
            return lines
    if "not" in node:
        return [f"{indent}{mark} not:", *render(node["not"], indent + "    ")]
    condition = {k: v for k, v in node.get("condition", {}).items() if k != "where"}
    return [f"{indent}{mark} {json.dumps(condition)}  -> actual {json.dumps(node.get('actual'))}"]


def run_demo(args: argparse.Namespace) -> int:
    log = print
    customers = args.customers
    log(f"generating a synthetic aromatherapy shop ({customers} customers, seed {args.seed}) ...")
    shop: Shop = generate_shop(seed=args.seed, customers=customers)
    events = list(shop.events())
    end = max(datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in events)
    os.environ["SEGMENTATION_FROZEN_NOW"] = end.isoformat()
    # CloudWatch metrics would print as JSON lines between the summary's; they matter in AWS, not here.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    counts = Counter(e["detail-type"] for e in events)
    log(
        f"  {len(shop.customers)} customers, {counts['OrderCompleted']} orders, {counts['OrderRefunded']} refunds, "
        f"{counts['EngagementRecorded']} engagement events; clock pinned at {end.isoformat()}"
    )

    receiver = WebhookReceiver().start()
    overrides = {"WebhookUrl": receiver.url, **parse_overrides(args.parameter_overrides)}
    args.parameter_overrides = [f"{k}={v}" for k, v in overrides.items()]
    with local_stack(args) as (aws, env):
        from segmentation.observability import logger

        logger.setLevel("WARNING")  # the summary below is the demo's output; handler logs stay in JSON
        receiver.secret = env.client("secretsmanager").get_secret_value(SecretId=env.physical_ids["WebhookSecret"])[
            "SecretString"
        ]
        router = Router(env)
        headers = {"x-api-key": router.api_key}
        log(f"local AWS at {aws.endpoint_url}; resources created from template.yaml: {len(env.physical_ids)}")
        platforms = start_platforms(env, log)

        log("creating the built-in segments through the API ...")
        templates = router.api("GET", "/segment-templates", headers=headers)[2]["templates"]
        templates = [t for t in templates if t.get("kind", "rules") == "rules"]  # AI ones need a model first
        for template in templates:
            tid = template["template_id"]
            body = {"destinations": [{"channel": "webhook", "list_name": SYNCED[tid]}]} if tid in SYNCED else None
            status, _, _ = router.api("POST", f"/segment-templates/{tid}/segments", body=body, headers=headers)
            if status != 201:
                raise RuntimeError(f"could not create segment {tid}: {status}")
        log(f"  {len(templates)} segments: {', '.join(t['template_id'] for t in templates)}")

        cutoff = end - timedelta(days=LIVE_DAYS)
        history = [e for e in events if e["time"] < cutoff.isoformat().replace("+00:00", "Z")]
        live = events[len(history) :]
        log(f"replaying {len(history)} historical events through CustomerEventsFunction ...")
        replay_backfill(router, history, log)

        connect_platforms(router, headers, log)

        log(f"publishing the last {LIVE_DAYS} days live to EventBridge ({len(live)} events) ...")
        invocations = publish_live(router, live, env.physical_ids["SegmentationBus"])
        bad = {
            "Source": "shop",
            "DetailType": "OrderCompleted",
            "EventBusName": env.physical_ids["SegmentationBus"],
            "Detail": json.dumps({"order_id": "o-broken", "customer_id": "c000001", "total": -1}),
        }
        env.client("events").put_events(Entries=[bad])
        stats = router.drain(max_rounds=10_000)
        invocations.update(stats.invocations_by_function)
        log(f"  handler invocations: {dict(invocations)}; errors: {len(stats.errors)}")

        summarize(router, headers, receiver, env)
        print_platforms(router, headers, platforms, log)
        import_exports(router, headers, args.seed, customers)
        stop_fakes(platforms)
        train_models(router)
        show_ai_segments(router, headers, env)
        show_freshness(router, headers, env, end)
    receiver.stop()
    return 0


def summarize(router: Router, headers: dict[str, str], receiver: WebhookReceiver, env: Any) -> None:
    log = print
    segments = router.api("GET", "/segments", headers=headers)[2]["segments"]
    log("\nsegment sizes")
    samples: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for segment in segments:
        sid = segment["segment_id"]
        size = sizes[sid] = router.api("GET", f"/segments/{sid}", headers=headers)[2]["member_count"]
        samples[sid] = router.api("GET", f"/segments/{sid}/members", headers=headers, query={"limit": "2"})[2][
            "members"
        ]
        log(f"  {segment['name']:<28} {size:>6}   {sid}")

    log("\nwhy they are in (explanations evaluated now)")
    for sid in ("dormant_90", "high_value", "lavender_lovers", "high_engagement"):
        for cid in samples.get(sid, [])[:1]:
            why = router.api("GET", f"/customers/{cid}/segments/{sid}/why", headers=headers)[2]
            log(f"  {cid} in {sid}:")
            for line in render(why["explanation"]):
                log(line)

    log("\nsync (only members who consented to email reach the destination)")
    for sid, list_name in SYNCED.items():
        state = router.api("GET", f"/segments/{sid}/sync", headers=headers)[2]["channels"]
        delivered = sum(c["delivered"] for c in state)
        log(
            f"  {sid:<18} -> webhook list {list_name!r}: holds {len(receiver.members[list_name])} of "
            f"{sizes[sid]} members; {delivered} adds/removes delivered"
        )
    log(f"  webhook deliveries: {len(receiver.deliveries)}, rejected signatures: {receiver.rejected}")
    dlq = env.physical_ids["CustomerEventsDLQ"]
    attrs = (
        env.client("sqs")
        .receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0)
        .get("Messages", [])
    )
    for message in attrs:
        log(f"  dead-lettered event, reason: {message['MessageAttributes']['reason']['StringValue']}")


# ---------------------------------------------------------------------------------- marketing platforms

PLATFORMS = ("mailchimp", "hubspot", "klaviyo")
FIELDS = {
    "mailchimp": {"FNAME": "first_name"},
    "hubspot": {"firstname": "first_name"},
    "klaviyo": {"first_name": "first_name"},
}


def start_platforms(env: Any, log: Any) -> dict[str, FakePlatform]:
    """Local fakes of three marketing platforms, their credentials stored as the channels' secrets."""
    platforms = start_fakes(env, PLATFORMS, unlimited=True)
    log(f"fake platforms: {', '.join(f'{c} at {f.url}' for c, f in platforms.items())}")
    return platforms


def connect_platforms(router: Router, headers: dict[str, str], log: Any) -> None:
    """Add the platforms to the synced segments after the backfill, then let drift reconciliation fill them:
    a destination added to an existing segment is backfilled in batches, not member by member."""
    log(f"adding {', '.join(PLATFORMS)} as destinations of {', '.join(SYNCED)}; reconciling ...")
    for sid in SYNCED:
        segment = router.api("GET", f"/segments/{sid}", headers=headers)[2]
        destinations = segment["destinations"] + [
            {"channel": c, "list_name": f"seg-{sid}", "fields": FIELDS[c]} for c in PLATFORMS
        ]
        body = {k: segment[k] for k in ("name", "description", "rule")} | {"destinations": destinations}
        status, _, payload = router.api("PUT", f"/segments/{sid}", body=body, headers=headers)
        if status != 200:
            raise RuntimeError(f"could not add destinations to {sid}: {payload}")
    router.drain(max_rounds=10_000)
    router.fire_schedule("ChannelReconcileFunction")
    stats = router.drain(max_rounds=10_000)
    log(
        f"  reconciliation and backfill: {stats.invocations_by_function.get('ChannelSyncFunction', 0)} sync invocations"
    )


def print_platforms(router: Router, headers: dict[str, str], platforms: dict[str, FakePlatform], log: Any) -> None:
    log("\nwhat each marketing platform received (consented members only; counts per list)")
    for channel, fake in platforms.items():
        calls = ", ".join(f"{name.split(' ', 1)[1]} {count}" for name, count in sorted(fake.requests.items()))
        log(f"  {channel}: {sum(fake.requests.values())} requests ({calls}); {len(fake.contacts)} contacts upserted")
        for sid in SYNCED:
            held = len(fake.members(f"seg-{sid}"))
            state = router.api("GET", f"/segments/{sid}/sync", headers=headers)[2]["channels"]
            row: dict[str, Any] = next((c for c in state if c["channel"] == channel), {})
            drift = row.get("drift") or {}
            log(
                f"    list seg-{sid:<16} holds {held:>5}   (wanted {drift.get('wanted', '?')}, "
                f"added {row.get('added', 0)}, removed {row.get('removed', 0)}, pending {row.get('pending', 0)}, "
                f"failures {row.get('failures', 0)})"
            )


def show_ai_segments(router: Router, headers: dict[str, str], env: Any, top: int = 10) -> bool:
    """AI segments from the CURRENT model: the AI templates with their sizes, customers per RFM group, and the
    top customers by predicted CLV. Returns False (saying why) when no model has been published."""
    from zoneinfo import ZoneInfo

    from segmentation import clock, wiring
    from segmentation.features.compute import build_view
    from segmentation.models.rfm import RFM_GROUPS
    from segmentation.models.scoring import ScoringModel
    from segmentation.store.dynamo import DynamoStore, scan_customers
    from segmentation.store.models import ModelDocuments

    log = print
    table = env.physical_ids["SegmentationTable"]
    stored = ModelDocuments(table).current()
    if stored is None:
        log("\nAI segments: no model has been published yet (train first); skipping")
        return False
    model = ScoringModel.from_json(stored.document)
    doc = model.document
    source = f"RFM-group fallback: {doc.fallback.reason}" if model.fallback and doc.fallback else "BG/NBD + Gamma-Gamma"
    log(f"\nAI segments from model {model.version} (trained {doc.trained_at.isoformat()}; {source})")
    # The handlers run in this process and cache the model for MODEL_CACHE_SECONDS: start them afresh, as new
    # containers would, so the segments below are computed with the model just published.
    wiring.reset()
    templates = router.api("GET", "/segment-templates", headers=headers)[2]["templates"]
    ai_templates = [t for t in templates if t.get("kind") == "ai"]
    for template in ai_templates:
        tid = template["template_id"]
        status, _, created = router.api("POST", f"/segment-templates/{tid}/segments", headers=headers)
        if status != 201:
            raise RuntimeError(f"could not create segment {tid}: {status} {created}")
    # Each creation started a refresh run; the refresh workers compute the memberships.
    router.drain(max_rounds=10_000, only={"SegmentRefreshFunction"})
    for template in ai_templates:
        tid = template["template_id"]
        size = router.api("GET", f"/segments/{tid}", headers=headers)[2]["member_count"]
        log(f"  {template['name']:<28} {size:>6}   {tid}")

    now, tz = clock.now(), ZoneInfo(env.function_environment("ApiFunction")["SHOP_TIME_ZONE"])
    views = [build_view(c.history, now, tz, model).attributes for c in scan_customers(DynamoStore(table))]
    groups = Counter(v["rfm.group"] for v in views if "rfm.group" in v)
    log("\ncustomers per RFM group")
    for group in RFM_GROUPS:
        log(f"  {group:<20} {groups.get(group, 0):>6}")
    ranked = sorted((v for v in views if "predicted.clv" in v), key=lambda v: -v["predicted.clv"])[:top]
    log(f"\ntop {len(ranked)} customers by predicted CLV over {doc.clv.horizon_days:g} days")
    log(f"  {'customer':<10} {'CLV':>9} {'P(alive)':>9} {'churn':<7} {'orders':>6}  RFM group")
    for v in ranked:
        log(
            f"  {v['customer_id']:<10} {v['predicted.clv']:>9,.2f} {v['predicted.p_alive']:>9.2f} "
            f"{v['predicted.churn_risk']:<7} {v['orders_count']:>6}  {v.get('rfm.group', '-')}"
        )
    return True


def train_models(router: Router) -> None:
    """6. Fit the AI segment models on what the shop has told us, and show what they found."""
    # Imported here: it loads the layer's store, whose metrics object must only be created once the demo has
    # switched CloudWatch metrics off (see run_demo).
    from local_runtime.training import train_step

    train_step(router, print)


def show_freshness(router: Router, headers: dict[str, str], env: Any, now: datetime) -> None:
    """Impact preview, the refresh run of an edit, and an exact-time entry by the boundary schedule."""
    log = print

    def refresh_workers() -> None:
        stats = router.drain(max_rounds=10_000, only={"SegmentRefreshFunction"})
        if stats.errors:
            raise RuntimeError(f"refresh workers failed: {stats.errors[0]}")

    def run(segment_id: str, run_id: str) -> dict[str, Any]:
        return router.api("GET", f"/segments/{segment_id}/refreshes/{run_id}", headers=headers)[2]

    log("\nfreshness")
    segment = router.api("GET", "/segments/high_value", headers=headers)[2]
    rule = {"attr": "total_spent", "op": "gte", "value": 400}
    started = router.api("POST", "/segments/high_value/impact", body={"rule": rule}, headers=headers)[2]
    refresh_workers()
    impact = run("high_value", started["run_id"])["impact"]
    names = ", ".join(s["name"] or s["customer_id"] for s in impact["sample_enter"][:3])
    log(
        f"  impact preview, high_value at 400 instead of 500: {impact['would_enter']} would enter "
        f"({names}, ...), {impact['would_leave']} would leave; nothing saved"
    )
    body = {k: segment[k] for k in ("name", "description", "destinations", "refresh")} | {"rule": rule}
    saved = router.api("PUT", "/segments/high_value", body=body, headers=headers)[2]
    started_at = time.perf_counter()
    refresh_workers()
    done = run("high_value", saved["refresh"]["run_id"])
    log(
        f"  saved; refresh run {done['run_id']} ({done['trigger']}): {done['state']}, "
        f"{done['shards']['done']}/{done['shards']['total']} shards, {done['evaluated']} customers evaluated, "
        f"{done['entered']} entered, {done['left']} left ({time.perf_counter() - started_at:.1f} s locally)"
    )

    # A customer whose last order was 90 days ago, less ten minutes (90 days on the shop's calendar).
    tz = ZoneInfo(str(env.parameters["ShopTimeZone"]))
    day_90 = now + timedelta(minutes=10)
    placed = (day_90.astimezone(tz) - timedelta(days=90)).astimezone(UTC)
    customer_id = "c-day-90"
    router.api("PUT", f"/customers/{customer_id}", body={"email": "day90@example.com"}, headers=headers)
    order = {
        "order_id": "o-day-90",
        "placed_at": placed.isoformat(),
        "total": 24.0,
        "lines": [
            {"sku": "EO-LAV-10", "category": "essential_oils", "scent": "lavender", "quantity": 1, "unit_price": 24.0}
        ],
    }
    router.api("POST", f"/customers/{customer_id}/orders", body=order, headers=headers)
    boundary = router.api("GET", f"/customers/{customer_id}", headers=headers)[2]["next_boundary_at"]
    why = router.api("GET", f"/customers/{customer_id}/segments/dormant_90/why", headers=headers)[2]
    log(
        f"  {customer_id}: last order {placed:%Y-%m-%d %H:%M} UTC, in dormant_90: {why['member']}, "
        f"next boundary {boundary}"
    )
    period = next(e for _, name, e in router.schedules() if name == "BoundarySchedule")
    minutes = int(period.removeprefix("rate(").split()[0])
    tick = now + timedelta(minutes=minutes)
    os.environ["SEGMENTATION_FROZEN_NOW"] = tick.isoformat()
    try:
        result = router.fire_schedule("BoundarySchedule")
        why = router.api("GET", f"/customers/{customer_id}/segments/dormant_90/why", headers=headers)[2]
    finally:
        os.environ["SEGMENTATION_FROZEN_NOW"] = now.isoformat()
    log(
        f"  boundary schedule ({period}) at {tick:%H:%M} UTC: {result['due']} due customers re-evaluated "
        f"with {result['queries']} index queries, {result['changes']} changes"
    )
    log(
        f"  {customer_id} in dormant_90: {why['member']}, entered at {why['entered_at']}, "
        f"{(tick - day_90).total_seconds() / 60:.0f} minutes after her day 90"
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    add_stack_arguments(parser)
    parser.add_argument("--customers", type=int, default=5000, help="size of the synthetic shop (default 5000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the synthetic shop")


COMMAND = Command(help="run the synthetic shop end to end on the local runtime", configure=_configure, run=run_demo)


# ---------------------------------------------------------------- imports


IMPORT_EXISTING = 40  # customers of the shop above, exported again: merged
IMPORT_NEW = 25  # people the shop above does not have: created


def import_exports(router: Router, headers: dict[str, str], seed: int, customers: int) -> None:
    """A Shopify customers export and an orders export (with a few bad rows) imported through the API and S3."""
    import csv
    import io
    import urllib.request

    from local_runtime.exports import customer_rows, order_rows, people

    log = print
    everyone = list(people(seed, customers + IMPORT_NEW))
    known, new = everyone[: min(IMPORT_EXISTING, customers)], everyone[customers:]
    customer_lines = list(customer_rows([*known, *new]))
    bad_customers = [
        [
            "'9000001",
            "Broken",
            "Email",
            "not-an-email",
            "no",
            "",
            "",
            "",
            "",
            "",
            "GB",
            "",
            "",
            "",
            "no",
            "0",
            "0",
            "",
            "no",
            "",
        ],
        [
            "'9000002",
            '=HYPERLINK("http://example.com")',
            "Smith",
            "formula@example.com",
            "no",
            "",
            "",
            "",
            "",
            "",
            "Atlantis",
            "",
            "",
            "",
            "no",
            "0",
            "0",
            "",
            "no",
            "",
        ],
        ["'9000003", "Short", "Row", "short@example.com"],
    ]
    customer_lines[5:5] = [_csv_line(row) for row in bad_customers]
    order_lines = list(order_rows(new))
    first_order = next(csv.reader([order_lines[1]]))
    bad_line = [
        first_order[0],
        first_order[1],
        *[""] * 9,
        "several",
        "Lavender oil",
        "7.50",
        "EO-LAV-10",
        "",
        "",
        "",
        "",
        "",
    ]
    order_lines.insert(2, _csv_line(bad_line))  # a line with a bad quantity: its whole order is rejected
    log("\nimporting a Shopify customers export and an orders export (POST /imports, PUT to S3, S3 event) ...")
    for file_name, lines in (("customers_export.csv", customer_lines), ("orders_export.csv", order_lines)):
        status, _, created = router.api("POST", "/imports", body={"file_name": file_name}, headers=headers)
        if status != 201:
            raise RuntimeError(f"POST /imports failed: {status} {created}")
        # A content type, as any HTTP client uploading a file sends: without one, urllib sends form encoding,
        # which the local emulator (unlike S3) reads as a form and stores an empty object.
        request = urllib.request.Request(  # noqa: S310 - the presigned URL of the local runtime
            created["upload_url"], data="".join(lines).encode(), method="PUT", headers={"Content-Type": "text/csv"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30):
            pass
        stats = router.drain(max_rounds=10_000)
        for error in stats.errors[:1]:
            log(f"  import error: {error}")
        job = router.api("GET", f"/imports/{created['job_id']}", headers=headers)[2]
        counts = ", ".join(f"{name} {value}" for name, value in job["counts"].items())
        log(
            f"  {file_name}: {len(lines) - 1} rows, preset {job['preset']}, "
            f"{job['state']} in {job['duration_seconds']} s"
        )
        log(
            f"    {counts}; chunks {job['chunks_done']}/{job['chunks_total']}; "
            f"invocations {stats.invocations_by_function}"
        )
        if job.get("report_key"):
            bucket = router.env.physical_ids["ImportBucket"]
            log(f"    reject report: s3://{bucket}/{job['report_key']} (GET /imports/{created['job_id']} gives a link)")
            body = router.env.client("s3").get_object(Bucket=bucket, Key=job["report_key"])["Body"].read().decode()
            for row in list(csv.reader(io.StringIO(body)))[1:4]:
                log(f"      row {row[0]}: {row[1] or '(row)'}: {row[2]}")


def _csv_line(cells: list[str]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()
