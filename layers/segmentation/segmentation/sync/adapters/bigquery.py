"""Google BigQuery: membership changes are appended as event rows; a scheduled query in BigQuery builds the
current membership (the latest ``op`` per segment and customer, where that op is ``add``).

* Add and remove both append, with ``tabledata.insertAll``:
  ``POST /projects/{p}/datasets/{d}/tables/{t}/insertAll`` with ``skipInvalidRows: false`` and rows
  ``{"insertId", "json": {"segment_id", "customer_id", "op", "event_ts", "sync_id", ...mapped fields}}``.
  ``segment_id`` holds the destination's list name (the segment id unless the destination names another).
  Streamed rows cannot be changed by DML for a while, which is why nothing is updated or deleted.
* A 200 can hold ``insertErrors[]`` (row ``index`` and reasons): ``invalid`` is terminal for that row; rows
  ``stopped`` because another row was invalid, and any other reason, are sent again.
* ``insertId`` de-duplicates resends for a short while only (best effort): the same change keeps the same
  ``sync_id`` and ``event_ts`` across retries from this container, and the scheduled query should
  de-duplicate on ``(sync_id, customer_id, op)`` as well.
* Auth, with no long-lived Google key: workload identity federation. The function's AWS role signs an STS
  ``GetCallerIdentity`` request (never sent to AWS); Google's STS (``POST https://sts.googleapis.com/v1/token``)
  exchanges it for a federated token, which, when ``service_account`` is set, is exchanged again by
  ``POST https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{sa}:generateAccessToken`` for a
  one-hour token with the ``bigquery.insertdata`` scope. Tokens are cached and renewed on 401.
* Limits: project quotas, no per-request rate to pace by; quota and rate errors come as 403 with reason
  ``rateLimitExceeded`` / ``quotaExceeded`` and are retried with exponential backoff; ``backendError``
  (500/503) is retried. insertAll takes up to 50,000 rows per request (500 recommended) and 10 MB.

Secret ``<prefix>bigquery``: ``{"project_id": "...", "dataset_id": "...", "table_id": "...", "audience":
"//iam.googleapis.com/projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>",
"service_account": "<name>@<project>.iam.gserviceaccount.com"}`` (``base_url``, ``token_url`` and
``iam_credentials_url`` override the Google hosts, e.g. for the local fake).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from segmentation.sync.adapters.base import (
    ChannelSpec,
    Contact,
    Http,
    NotConfigured,
    Outcomes,
    Retryable,
    Target,
    Throttled,
    ok,
    retry,
    terminal,
)

BATCH = 500  # Google's recommended rows per request (the maximum is 50,000)
SCOPE = "https://www.googleapis.com/auth/bigquery.insertdata"
FEDERATION_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_THROTTLE_REASONS = frozenset({"rateLimitExceeded", "quotaExceeded"})

SPEC = ChannelSpec(
    name="bigquery",
    title="Google BigQuery",
    representation="append-only membership event rows (op add / remove); current membership by scheduled query",
    auth="Google OAuth2 Bearer via workload identity federation from the function's AWS role",
    throttle_signal="403 reason rateLimitExceeded / quotaExceeded (exponential backoff)",
    identity="customer_id",
    needs_upsert=False,
    add_batch=BATCH,
    remove_batch=BATCH,
    rates={},
    can_list=False,
    requires_purpose=False,
    field_pattern=r"^(?!(segment_id|customer_id|op|event_ts|sync_id)$)[A-Za-z_][A-Za-z0-9_]{0,299}$",  # columns
    unverified=(
        "HTTP status of quota and rate errors (403 with reason rateLimitExceeded / quotaExceeded assumed)",
        "insertAll limits: 50,000 rows and 10 MB per request, 500 rows recommended",
    ),
)


class BigQueryAdapter:
    spec = SPEC

    def __init__(self, config: Mapping[str, Any], http: Http) -> None:
        missing = [k for k in ("project_id", "dataset_id", "table_id", "audience") if not config.get(k)]
        if missing:
            raise NotConfigured(f"bigquery needs {', '.join(missing)}")
        base = str(config.get("base_url") or "https://bigquery.googleapis.com/bigquery/v2").rstrip("/")
        self.url = (
            f"{base}/projects/{config['project_id']}/datasets/{config['dataset_id']}"
            f"/tables/{config['table_id']}/insertAll"
        )
        self.audience = str(config["audience"])
        self.service_account = str(config.get("service_account") or "")
        self.token_url = str(config.get("token_url") or "https://sts.googleapis.com/v1/token")
        self.iam_url = str(config.get("iam_credentials_url") or "https://iamcredentials.googleapis.com/v1").rstrip("/")
        self.http = http
        self._token: str | None = None
        self._expires = 0.0
        # (list, customer, op) -> (sync_id, event_ts) of a change not yet acknowledged: a resend repeats it.
        self._pending: dict[tuple[str, str, str], tuple[str, str]] = {}

    # ------------------------------------------------------------------------------------------ auth

    def _subject_token(self) -> str:
        """A signed (never sent) STS GetCallerIdentity request, serialised as Google's STS expects it."""
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        host = f"sts.{region}.amazonaws.com"
        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise NotConfigured("bigquery: no AWS credentials to sign the federation request with")
        request = AWSRequest(
            method="POST",
            url=f"https://{host}/?Action=GetCallerIdentity&Version=2011-06-15",
            headers={"host": host, "x-goog-cloud-target-resource": self.audience},
        )
        SigV4Auth(credentials.get_frozen_credentials(), "sts", region).add_auth(request)
        headers = [{"key": k, "value": v} for k, v in sorted(request.headers.items(), key=lambda kv: kv[0].lower())]
        serialised = {"url": request.url, "method": "POST", "headers": headers}
        return quote(json.dumps(serialised, separators=(",", ":"), sort_keys=True))

    def _access_token(self) -> tuple[str, bool]:
        if self._token and time.time() < self._expires:
            return self._token, False
        from segmentation.sync.http import check

        exchange = {
            "grantType": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": self.audience,
            "scope": FEDERATION_SCOPE,
            "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
            "subjectToken": self._subject_token(),
            "subjectTokenType": "urn:ietf:params:aws:token-type:aws4_request",
        }
        response = self.http.request("POST", self.token_url, json_body=exchange)
        if response.status in (400, 401, 403):
            raise NotConfigured(f"bigquery federation: {response.status} refused ({response.text()[:120]})")
        body = check(response, "bigquery federation").json() or {}
        token, lifetime = str(body.get("access_token") or ""), float(body.get("expires_in") or 3600)
        if self.service_account:
            response = self.http.request(
                "POST",
                f"{self.iam_url}/projects/-/serviceAccounts/{self.service_account}:generateAccessToken",
                json_body={"scope": [SCOPE]},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status in (400, 401, 403, 404):
                raise NotConfigured(f"bigquery impersonation: {response.status} refused ({response.text()[:120]})")
            body = check(response, "bigquery impersonation").json() or {}
            token = str(body.get("accessToken") or "")
            expires = _timestamp(body.get("expireTime"))
            lifetime = expires - time.time() if expires else 3600.0
        if not token:
            raise Retryable("bigquery: no access token in the answer")
        self._token = token
        self._expires = time.time() + max(0.0, lifetime - 60)  # renewed a minute early
        return token, True

    # ------------------------------------------------------------------------------------------ rows

    def _append(self, op: str, target: Target, contacts: list[Contact]) -> Outcomes:
        from segmentation.sync.http import check

        rows = []
        keys = []
        if len(self._pending) > 100_000:  # changes given up on long ago; a resend then gets a new sync_id
            self._pending.clear()
        for contact in contacts:
            key = (target.list_name, contact.customer_id, op)
            # A change now supersedes an unacknowledged opposite one: its event_ts must not be reused later.
            self._pending.pop((target.list_name, contact.customer_id, "remove" if op == "add" else "add"), None)
            sync_id, event_ts = self._pending.setdefault(key, (uuid.uuid4().hex, _now()))
            keys.append(key)
            row = {
                **dict(contact.fields),
                "segment_id": target.list_name,
                "customer_id": contact.customer_id,
                "op": op,
                "event_ts": event_ts,
                "sync_id": sync_id,
            }
            rows.append({"insertId": f"{sync_id}:{contact.customer_id}:{op}", "json": row})
        token, fresh = self._access_token()
        response = self.http.request(
            "POST",
            self.url,
            json_body={"skipInvalidRows": False, "ignoreUnknownValues": False, "rows": rows},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        reasons = _error_reasons(body)
        if response.status == 403 and reasons & _THROTTLE_REASONS:
            # Before ``check``, which would take a 403 for refused credentials.
            raise Throttled(f"bigquery insertAll: 403 {', '.join(sorted(reasons & _THROTTLE_REASONS))}")
        if response.status == 401:
            self._token = None
            if fresh:
                raise NotConfigured("bigquery insertAll: 401 with a new token")
            raise Retryable("bigquery insertAll: 401 (token renewed)", 0.0)
        if response.status == 404:
            raise NotConfigured("bigquery insertAll: 404 table or dataset not found")
        check(response, "bigquery insertAll")
        failed: dict[int, list[dict[str, Any]]] = {}
        for entry in (body or {}).get("insertErrors") or []:
            failed[int(entry["index"])] = [e for e in entry.get("errors") or [] if isinstance(e, dict)]
        out: Outcomes = {}
        for index, contact in enumerate(contacts):
            if index not in failed:
                out[contact.customer_id] = ok()
                self._pending.pop(keys[index], None)
                continue
            errors = failed[index]
            text = "; ".join(f"{e.get('reason')}: {e.get('message') or ''}".strip() for e in errors)[:160]
            if any(e.get("reason") == "invalid" for e in errors):
                out[contact.customer_id] = terminal(text)
                self._pending.pop(keys[index], None)
            else:  # "stopped" (another row was invalid), timeouts, backend errors: send again
                out[contact.customer_id] = retry(text or "row not inserted")
        return out

    def upsert(self, target: Target, contacts: list[Contact]) -> Outcomes:
        raise NotImplementedError("bigquery rows carry the customer id: nothing to upsert (needs_upsert is False)")

    def add(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._append("add", target, contacts)

    def remove(self, target: Target, contacts: list[Contact]) -> Outcomes:
        return self._append("remove", target, contacts)

    def list_members(self, target: Target) -> Iterator[str]:
        raise NotImplementedError("bigquery membership is built by a scheduled query (spec.can_list is False)")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _error_reasons(body: Any) -> set[str]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set()
    return {str(e.get("reason")) for e in error.get("errors") or [] if isinstance(e, dict)}


def create(config: Mapping[str, Any], http: Http) -> BigQueryAdapter:
    return BigQueryAdapter(config, http)
