"""Level-triggered delivery of one sync task, behind the consent gate.

The task only names customers. Whether each is added or removed is decided here, from the membership,
consent and sync records stored *now*:

* a contact is **wanted** at the destination only while a member, subscribed for the destination's purpose,
  and reachable by the platform's identity (an email address for an email platform);
* a wanted contact is added unless our record says the platform already confirmed it under the same id;
* an unwanted contact is removed only if we hold a record for it: we remove what we added, never more;
* opt-out wins over everything, including a stale task queued before the opt-out.

Order of writes: the record is marked *pending* before any request, so a crash after the platform applied
an add still leaves the mark that lets a later run remove the contact. Platform ids are cached as soon as the
upsert returns them. Confirmed adds become *present*; confirmed removes delete the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from segmentation.domain.models import ConsentChannel, ConsentStatus, CustomerProfile
from segmentation.domain.types import iso
from segmentation.sync.adapters.base import (
    ChannelAdapter,
    ChannelSpec,
    Contact,
    Outcome,
    Outcomes,
    Target,
    Verdict,
)
from segmentation.sync.engine import DeliveryEngine
from segmentation.sync.state import ContactView, RecordState, SyncRecord, SyncState, identity_hash
from segmentation.sync.tasks import SyncTask


def consented(profile: CustomerProfile | None, purpose: ConsentChannel | None) -> bool:
    if profile is None:
        return False
    if purpose is None:
        return True
    state = profile.consent.get(purpose)
    return state is not None and state.status == ConsentStatus.SUBSCRIBED


def identity(profile: CustomerProfile | None, customer_id: str, spec: ChannelSpec) -> str | None:
    if spec.identity == "customer_id":
        return customer_id
    if profile is None:
        return None
    return profile.email if spec.identity == "email" else profile.phone


def mapped_fields(profile: CustomerProfile | None, customer_id: str, mapping: Mapping[str, str]) -> dict[str, Any]:
    """Platform field -> value for the destination's field mapping (attributes that are unset are left out)."""
    out: dict[str, Any] = {}
    for platform_field, attribute in mapping.items():
        if attribute == "customer_id":
            value: Any = customer_id
        elif profile is None:
            value = None
        elif attribute.startswith("custom."):
            value = profile.custom.get(attribute.removeprefix("custom."))
        else:
            value = getattr(profile, attribute, None)
        if isinstance(value, (datetime, date)):
            value = iso(value) if isinstance(value, datetime) else value.isoformat()
        if value is not None:
            out[platform_field] = value
    return out


@dataclass
class DeliveryReport:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    terminal: dict[str, str] = field(default_factory=dict)
    retrying: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None

    def retry(self, customer_id: str, outcome: Outcome) -> None:
        self.retrying[customer_id] = outcome.reason or "retryable"
        if outcome.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, outcome.retry_after)

    @property
    def first_error(self) -> str | None:
        return next(iter(self.terminal.values()), None) or next(iter(self.retrying.values()), None)


def wanted_at_destination(view: ContactView, task: SyncTask, spec: ChannelSpec) -> tuple[bool, str | None]:
    if not view.member:
        return False, None
    if not consented(view.profile, task.purpose):
        return False, f"no {task.purpose} consent"
    if identity(view.profile, view.customer_id, spec) is None:
        return False, f"no {spec.identity}"
    return True, None


def _already_there(view: ContactView, spec: ChannelSpec, ident: str) -> bool:
    record = view.record
    if record is None or record.state != RecordState.PRESENT:
        return False
    if not spec.needs_upsert:
        return record.platform_id in (None, ident)
    # Confirmed under the id we would use now (an address change means a new upsert and maybe a new id).
    return view.cached_identity == identity_hash(ident) and record.platform_id == view.cached_id


def deliver(task: SyncTask, state: SyncState, adapter: ChannelAdapter, engine: DeliveryEngine) -> DeliveryReport:
    spec = adapter.spec
    target = Target(task.segment_id, task.target_list, task.fields)
    ids = list(dict.fromkeys(task.customer_ids))
    views = state.views(task.segment_id, task.channel, ids)
    report = DeliveryReport()

    adds: list[ContactView] = []
    removes: list[ContactView] = []
    for cid in ids:
        view = views[cid]
        wanted, why_not = wanted_at_destination(view, task, spec)
        if wanted:
            if not _already_there(view, spec, identity(view.profile, cid, spec) or ""):
                adds.append(view)
        elif view.record is not None:
            removes.append(view)
        elif why_not is not None:
            report.skipped[cid] = why_not

    # Intent first (see the module docstring). Non-upsert platforms know the id now, so it goes in the mark.
    marks: dict[str, SyncRecord | None] = {}
    for view in adds:
        known = None if spec.needs_upsert else identity(view.profile, view.customer_id, spec)
        marks[view.customer_id] = SyncRecord(RecordState.PENDING_ADD, known or _recorded_id(view))
    for view in removes:
        marks[view.customer_id] = SyncRecord(RecordState.PENDING_REMOVE, _recorded_id(view) or view.cached_id)
    if marks:
        state.set_records(task.segment_id, task.channel, marks)

    final: dict[str, SyncRecord | None] = {}
    contacts = {view.customer_id: _contact(view, task, spec) for view in adds}
    if spec.needs_upsert:
        contacts = _with_platform_ids(contacts, views, task, state, adapter, engine, target, report, final)
    moved = {
        cid: Contact(cid, platform_id=old)
        for cid, contact in contacts.items()
        if (old := _recorded_id(views[cid])) and old != contact.platform_id
    }

    added = engine.run("add", target, list(contacts.values()))
    stale = [cid for cid, outcome in added.items() if outcome.verdict == Verdict.STALE_ID]
    if stale:
        # The platform no longer knows the cached id (contact deleted or merged there): upsert again, once.
        state.forget_ids(task.channel, stale)
        fresh = {cid: replace(contacts[cid], platform_id=None) for cid in stale}
        fresh = _with_platform_ids(fresh, views, task, state, adapter, engine, target, report, final, cached=False)
        contacts.update(fresh)
        added.update(engine.run("add", target, list(fresh.values())))
    for cid, contact in contacts.items():
        outcome = added.get(cid) or Outcome(Verdict.RETRY, "no answer")
        if outcome.verdict == Verdict.OK:
            final[cid] = SyncRecord(RecordState.PRESENT, contact.platform_id)
            report.added.append(cid)
        elif outcome.verdict == Verdict.TERMINAL:
            final[cid] = SyncRecord(RecordState.REJECTED, contact.platform_id, outcome.reason)
            report.terminal[cid] = outcome.reason
        else:
            final[cid] = SyncRecord(RecordState.PENDING_ADD, contact.platform_id)
            report.retry(cid, outcome)

    to_remove: list[Contact] = []
    for view in removes:
        platform_id = _recorded_id(view) or view.cached_id
        if platform_id is None and spec.needs_upsert:
            final[view.customer_id] = None  # never got an id, so nothing was ever added under it
            continue
        to_remove.append(_contact(view, task, spec, platform_id))
    removed = engine.run("remove", target, to_remove)
    for contact in to_remove:
        outcome = removed.get(contact.customer_id) or Outcome(Verdict.RETRY, "no answer")
        if outcome.verdict in (Verdict.OK, Verdict.STALE_ID):  # gone either way
            final[contact.customer_id] = None
            report.removed.append(contact.customer_id)
        elif outcome.verdict == Verdict.TERMINAL:
            final[contact.customer_id] = SyncRecord(RecordState.PENDING_REMOVE, contact.platform_id, outcome.reason)
            report.terminal[contact.customer_id] = outcome.reason
        else:
            report.retry(contact.customer_id, outcome)

    if moved:
        # The contact is now present under a new id; the record under the old one is ours to take away.
        gone = engine.run("remove", target, list(moved.values()))
        for cid, contact in moved.items():
            outcome = gone.get(cid) or Outcome(Verdict.RETRY, "no answer")
            if outcome.verdict not in (Verdict.OK, Verdict.STALE_ID):
                final[cid] = SyncRecord(RecordState.PENDING_ADD, contact.platform_id, outcome.reason)
                report.retry(cid, outcome)

    if final:
        state.set_records(task.segment_id, task.channel, final)
    return report


def _recorded_id(view: ContactView) -> str | None:
    return view.record.platform_id if view.record else None


def _contact(view: ContactView, task: SyncTask, spec: ChannelSpec, platform_id: str | None = None) -> Contact:
    profile = view.profile
    if platform_id is None and not spec.needs_upsert:
        platform_id = identity(profile, view.customer_id, spec)
    return Contact(
        customer_id=view.customer_id,
        email=profile.email if profile else None,
        phone=profile.phone if profile else None,
        platform_id=platform_id,
        fields=mapped_fields(profile, view.customer_id, task.fields),
    )


def _with_platform_ids(
    contacts: dict[str, Contact],
    views: Mapping[str, ContactView],
    task: SyncTask,
    state: SyncState,
    adapter: ChannelAdapter,
    engine: DeliveryEngine,
    target: Target,
    report: DeliveryReport,
    final: dict[str, SyncRecord | None],
    *,
    cached: bool = True,
) -> dict[str, Contact]:
    """Contacts that have a platform id: from the cache when it was obtained for the same address, else from
    an upsert (whose ids are cached at once). Contacts the upsert failed for are reported and left out."""
    spec = adapter.spec
    ready: dict[str, Contact] = {}
    need: list[Contact] = []
    hashes: dict[str, str] = {}
    for cid, contact in contacts.items():
        view = views[cid]
        hashes[cid] = identity_hash(identity(view.profile, cid, spec) or "")
        if cached and view.cached_id and view.cached_identity == hashes[cid]:
            ready[cid] = replace(contact, platform_id=view.cached_id)
        else:
            need.append(contact)
    upserted: Outcomes = engine.run("upsert", target, need) if need else {}
    cache: dict[str, tuple[str, str]] = {}
    for contact in need:
        cid = contact.customer_id
        outcome = upserted.get(cid) or Outcome(Verdict.RETRY, "no answer")
        if outcome.verdict == Verdict.OK and outcome.platform_id:
            ready[cid] = replace(contact, platform_id=outcome.platform_id)
            cache[cid] = (outcome.platform_id, hashes[cid])
        elif outcome.verdict == Verdict.TERMINAL:
            final[cid] = SyncRecord(RecordState.REJECTED, _recorded_id(views[cid]), outcome.reason)
            report.terminal[cid] = outcome.reason
        else:
            final[cid] = SyncRecord(RecordState.PENDING_ADD, _recorded_id(views[cid]))
            report.retry(cid, outcome if outcome.verdict == Verdict.RETRY else Outcome(Verdict.RETRY, outcome.reason))
    if cache:
        state.cache_ids(task.channel, cache)
    return ready
