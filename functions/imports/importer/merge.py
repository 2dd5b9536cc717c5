"""Merging normalised rows into customers, through the same membership engine as real-time events.

Per batch: rows are grouped by person (email, else external id) so duplicates within the file are folded,
suppressed addresses are checked with one batched read, people are found by email (``E#<email>``) or
external id (``X#<source>#<id>``) with batched reads, and each person's facts go to
``MembershipEngine.record_facts`` together: one load, one evaluation and one commit per person, exactly as a
queue batch of shop events. Profile fields merge per field by time (older data never overwrites newer) and
remember the import that set them; consent columns upgrade only when the file is a consent source.

A person the import creates gets a deterministic id, ``imp-<job>-<row of the first row about them>``. So a
chunk processed again (after a crash) recognises its own creations and counts them as created again, not as
merged, and counts stay exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from importer.mapping import Mapping, Reject, Row
from segmentation.domain.models import (
    ConsentChannel,
    ConsentStatus,
    CustomerUpsert,
    EngagementRecorded,
    OrderCompleted,
)
from segmentation.privacy.suppression import SuppressionList
from segmentation.segments.realtime import ConsentFact, MembershipEngine, ProfileFact
from segmentation.store.clients import client
from segmentation.store.dynamo import DynamoStore
from segmentation.store.errors import Conflict

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "gender",
    "country",
    "region",
    "city",
    "postal_code",
    "preferred_scents",
    "preferred_categories",
    "tags",
    "custom",
    "registered_at",
)
EXTERNAL_SK = "#X"
UNASSEMBLED = "order or event could not be assembled (no order time, or more than 500 lines)"


@dataclass
class Counts:
    read: int = 0
    created: int = 0
    merged: int = 0
    duplicates: int = 0
    rejected: int = 0
    suppressed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def external_pk(source: str, external_id: str) -> str:
    return f"X#{source}#{external_id}"


def id_prefix(job_id: str) -> str:
    return "imp-" + re.sub(r"[^A-Za-z0-9]", "", job_id)[:16] + "-"


@dataclass
class Merger:
    store: DynamoStore
    engine: MembershipEngine
    suppressions: SuppressionList
    clock: Callable[[], datetime]

    def merge(
        self, job_id: str, mapping: Mapping, rows: list[Row], counts: Counts, on_reject: Callable[..., None]
    ) -> None:
        if not rows:
            return
        source = f"import:{job_id}"
        if mapping.kind in ("consent", "suppression"):
            self._consent(job_id, source, mapping, rows, counts, on_reject)
        else:
            self._people(job_id, source, mapping, rows, counts, on_reject)

    # ------------------------------------------------------------ contacts, orders, events

    def _people(
        self,
        job_id: str,
        source: str,
        mapping: Mapping,
        rows: list[Row],
        counts: Counts,
        on_reject: Callable[..., None],
    ) -> None:
        now = self.clock()
        prefix = id_prefix(job_id)
        groups: dict[str, list[Row]] = {}
        for row in rows:
            groups.setdefault(row.identity, []).append(row)
        suppressed = self.suppressions.get_many([g[0].email for g in groups.values() if g[0].email])
        found = self._find(mapping.source_name, [g[0] for g in groups.values()])
        known: list[tuple[str, list[Row]]] = []
        new: list[tuple[str, list[Row], list[object]]] = []
        for identity, group in groups.items():
            primary = group[0]
            existing = found.get(identity)
            entry = suppressed.get(primary.email) if primary.email else None
            if entry is not None and (mapping.kind == "contacts" or existing is None):
                consented = [
                    row.values.get("consent_at") or row.at
                    for row in group
                    if mapping.consent_source and "subscribed" in (row.values.get("consent") or {}).values()
                ]
                if not any(at > entry.at for at in consented):
                    counts.suppressed += len(group)
                    continue
            if existing is not None:
                known.append((existing, group))
                continue
            facts = self._facts(source, mapping, group, new=True)
            if facts is None:
                for row in group:
                    on_reject(Reject(row.row, "", UNASSEMBLED, row.email), None)
                continue
            new.append((f"{prefix}{primary.row}", group, facts))
        taken = self._claim_all(mapping.source_name, new)
        if taken:
            held = self._find(mapping.source_name, [group[0] for own, group, _ in new if own in taken])
            for own, group, _ in new:
                if own in taken:
                    holder = held.get(group[0].identity)
                    if holder is None:
                        raise Conflict("an address or id was claimed and released concurrently; the chunk is retried")
                    known.append((holder, group))
        creations = [(own, _owned(facts, own)) for own, _, facts in new if own not in taken]
        fallback = self.engine.create_customers(creations, now) if creations else set()
        for own, facts in creations:
            if own in fallback:
                self.engine.record_facts(own, facts, now)
        for own, group, _ in new:
            if own not in taken:
                self._count(mapping, counts, own, own, group)
        for customer_id, group in known:
            facts = self._facts(source, mapping, group, new=False)
            if facts is None:
                for row in group:
                    on_reject(Reject(row.row, "", UNASSEMBLED, row.email), None)
                continue
            try:
                self.engine.record_facts(customer_id, _owned(facts, customer_id), now)
            except Conflict:
                # Found by external id, but the row's email belongs to someone else: the row cannot say which.
                for row in group:
                    on_reject(Reject(row.row, "", "email belongs to another customer than the id", row.email), None)
                continue
            self._count(mapping, counts, customer_id, f"{prefix}{group[0].row}", group)

    @staticmethod
    def _count(mapping: Mapping, counts: Counts, customer_id: str, own: str, group: list[Row]) -> None:
        """Rows created a customer (``own``: this row's deterministic id, so a re-run counts the same), were
        folded into one created by another row of the job, or merged into an existing customer."""
        prefix = own[: own.rindex("-") + 1]
        contacts = mapping.kind == "contacts"
        if customer_id == own:
            counts.created += 1 if contacts else len(group)
        elif customer_id.startswith(prefix):
            if contacts:
                counts.duplicates += 1
            else:
                counts.created += len(group)
        else:
            counts.merged += 1 if contacts else len(group)
        if contacts:
            counts.duplicates += len(group) - 1

    def _claim_all(self, source_name: str, new: list[tuple[str, list[Row], list[object]]]) -> set[str]:
        """Claim email and external id of each new customer with conditional inserts (batched); the ids
        whose claim someone else holds. A half-made claim (email ours, id theirs) is released again."""
        claims: list[tuple[str, dict[str, Any]]] = []
        claimed_at = {"N": str(int(self.clock().timestamp()))}
        for own, group, _ in new:
            row = group[0]
            if row.email:
                claims.append(
                    (
                        own,
                        {
                            "PK": {"S": f"E#{row.email}"},
                            "SK": {"S": "#E"},
                            "customer_id": {"S": own},
                            "claimed_at": claimed_at,
                        },
                    )
                )
            if row.external_id:
                key = external_pk(source_name, row.external_id)
                claims.append((own, {"PK": {"S": key}, "SK": {"S": EXTERNAL_SK}, "customer_id": {"S": own}}))
        results = self.store.insert_items([item for _, item in claims])
        ours = {(own, item["PK"]["S"]) for (own, item), ok in zip(claims, results, strict=True) if ok}
        # An item that already names us is ours too (a re-run after a crash between claim and commit).
        taken = {own for (own, item), ok in zip(claims, results, strict=True) if not ok and not self._holds(item, own)}
        for own, key in ours:
            if own in taken:
                sk = "#E" if key.startswith("E#") else EXTERNAL_SK
                try:
                    client("dynamodb").delete_item(
                        TableName=self.store.table,
                        Key={"PK": {"S": key}, "SK": {"S": sk}},
                        ConditionExpression="customer_id = :me",
                        ExpressionAttributeValues={":me": {"S": own}},
                    )
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                        raise
        return taken

    def _holds(self, item: dict[str, Any], own: str) -> bool:
        current = (
            client("dynamodb")
            .get_item(TableName=self.store.table, Key={"PK": item["PK"], "SK": item["SK"]}, ConsistentRead=True)
            .get("Item")
        )
        return bool(current and current["customer_id"]["S"] == own)

    def _facts(self, source: str, mapping: Mapping, group: list[Row], *, new: bool) -> list[object] | None:
        """The facts a person's rows state; None when they do not make a valid order or event."""
        try:
            return self._build_facts(source, mapping, group, new=new)
        except ValueError:  # pydantic: e.g. an order of more than 500 lines
            return None

    def _build_facts(self, source: str, mapping: Mapping, group: list[Row], *, new: bool) -> list[object] | None:
        if mapping.kind == "contacts":
            return [ProfileFact(_upsert(row), source, mapping.consent_source) for row in group]
        facts: list[object] = []
        if new:  # a person first seen in an orders or events file: who they are, without consent
            first = group[0]
            contact = {k: v for k, v in first.values.items() if k in PROFILE_FIELDS}
            upsert = _upsert(Row(first.row, first.email, first.external_id, first.at, contact))
            facts.append(ProfileFact(upsert, source, consent_source=False))
        customer = "unassigned"  # set by ``_owned`` once the person is resolved or created
        if mapping.kind == "events":
            for row in group:
                facts.append(EngagementRecorded.model_validate({"customer_id": customer, **row.values["event"]}))
            return facts
        orders: dict[str, list[Row]] = {}
        for row in group:
            orders.setdefault(row.values["order_id"], []).append(row)
        for order_id, lines in orders.items():
            head = lines[0].values
            placed_at = head.get("placed_at")
            if placed_at is None:
                return None
            items = [row.values["line"] for row in lines]
            total = head.get("total")
            if total is None:
                total = round(sum(i["quantity"] * i["unit_price"] for i in items), 2)
            facts.append(
                OrderCompleted.model_validate(
                    {
                        "customer_id": customer,
                        "order_id": order_id,
                        "placed_at": placed_at,
                        "currency": head.get("currency", "EUR"),
                        "total": total,
                        "lines": items,
                    }
                )
            )
        return facts

    def _find(self, source_name: str, rows: list[Row]) -> dict[str, str]:
        """Customer id per row identity, from the email index, then the external-id index (batched reads)."""
        keys: dict[str, tuple[str, str]] = {}
        for row in rows:
            if row.email:
                keys[f"E#{row.email}"] = (row.identity, "#E")
            if row.external_id:
                keys[external_pk(source_name, row.external_id)] = (row.identity, EXTERNAL_SK)
        table = self.store.table
        by_key: dict[str, str] = {}
        requested = [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, (_, sk) in keys.items()]
        for start in range(0, len(requested), 100):
            request: dict[str, Any] = {table: {"Keys": requested[start : start + 100], "ConsistentRead": True}}
            while request:
                out = client("dynamodb").batch_get_item(RequestItems=request)
                for item in out.get("Responses", {}).get(table, []):
                    by_key[item["PK"]["S"]] = item["customer_id"]["S"]
                request = out.get("UnprocessedKeys") or {}
        found: dict[str, str] = {}
        for row in rows:
            by_email = by_key.get(f"E#{row.email}") if row.email else None
            by_external = by_key.get(external_pk(source_name, row.external_id)) if row.external_id else None
            if by_email or by_external:
                found[row.identity] = by_email or by_external  # type: ignore[assignment]
        return found

    def _claim(self, source_name: str, row: Row, customer_id: str) -> str:
        """Reserve the person's email and external id for a new customer; the holder's id if taken."""
        if row.email:
            self.store.claim_email(row.email, customer_id, None)  # Conflict: someone else has it
        if row.external_id:
            try:
                client("dynamodb").put_item(
                    TableName=self.store.table,
                    Item={
                        "PK": {"S": external_pk(source_name, row.external_id)},
                        "SK": {"S": EXTERNAL_SK},
                        "customer_id": {"S": customer_id},
                    },
                    ConditionExpression="attribute_not_exists(PK) OR customer_id = :me",
                    ExpressionAttributeValues={":me": {"S": customer_id}},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                holder = client("dynamodb").get_item(
                    TableName=self.store.table,
                    Key={"PK": {"S": external_pk(source_name, row.external_id)}, "SK": {"S": EXTERNAL_SK}},
                    ConsistentRead=True,
                )["Item"]["customer_id"]["S"]
                return str(holder)
        return customer_id

    # ------------------------------------------------------------ consent changes and suppression lists

    def _consent(
        self,
        job_id: str,
        source: str,
        mapping: Mapping,
        rows: list[Row],
        counts: Counts,
        on_reject: Callable[..., None],
    ) -> None:
        now = self.clock()
        prefix = id_prefix(job_id)
        found = self._find(mapping.source_name, rows)
        per_customer: dict[str, list[object]] = {}
        for row in rows:
            channels = {ConsentChannel(c): ConsentStatus(s) for c, s in row.values["consent"].items()}
            # An opt-in dates from when it was given; anything else from when the row says it changed.
            opt_in = ConsentStatus.SUBSCRIBED in channels.values()
            at = (row.values.get("consent_at") if opt_in else None) or row.at
            customer_id = found.get(row.identity)
            reason = row.values.get("reason")
            opt_out = all(status == ConsentStatus.UNSUBSCRIBED for status in channels.values())
            if reason is not None or (customer_id is None and opt_out):
                if not row.email:
                    on_reject(Reject(row.row, "", "a suppression needs an email address"), None)
                    continue
                self.suppressions.add(row.email, reason=reason or "unsubscribed", source=source, at=at)
                counts.suppressed += 1
                if customer_id is not None:
                    per_customer.setdefault(customer_id, []).append(
                        ConsentFact(channels, source, at, mapping.consent_source)
                    )
                continue
            if customer_id is None:
                if not mapping.consent_source:
                    reason_text = "unknown customer: only a consent source can subscribe someone new"
                    on_reject(Reject(row.row, "", reason_text, row.email), None)
                    continue
                customer_id = self._claim(mapping.source_name, row, f"{prefix}{row.row}")
                upsert = CustomerUpsert.model_construct(email=row.email, occurred_at=at)
                per_customer.setdefault(customer_id, []).append(ProfileFact(upsert, source, True))
                counts.created += 1
            else:
                counts.merged += 1
            per_customer.setdefault(customer_id, []).append(ConsentFact(channels, source, at, mapping.consent_source))
        for customer_id, facts in per_customer.items():
            self.engine.record_facts(customer_id, facts, now)


def _upsert(row: Row) -> CustomerUpsert:
    """A profile change from normalised values (every value already passed the import's rules)."""
    values: dict[str, Any] = {k: v for k, v in row.values.items() if k in PROFILE_FIELDS}
    if row.email:
        values["email"] = row.email
    consent = row.values.get("consent")
    if consent:
        values["consent"] = {ConsentChannel(c): ConsentStatus(s) for c, s in consent.items()}
    values["occurred_at"] = row.at
    return CustomerUpsert.model_construct(**values)


def _owned(facts: list[object], customer_id: str) -> list[object]:
    return [
        fact.model_copy(update={"customer_id": customer_id})
        if isinstance(fact, (OrderCompleted, EngagementRecorded))
        else fact
        for fact in facts
    ]
