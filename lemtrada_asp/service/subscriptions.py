"""R4 Subscriptions Backport for PAS: Subscriptions to PAS's topic, rest-hook notifications, retried.

A provider registers a ``Subscription`` (Backport IG, R4) whose ``criteria`` is PAS's
topic and whose channel is a rest-hook; every state change of a request (its first
answer, an update, a reviewer's decision, a cancellation) becomes a
``subscription-notification`` Bundle per matching Subscription, queued in the
store in the same transaction as the change. A delivery thread in each worker
POSTs it, retrying with exponential back-off up to ``MAX_ATTEMPTS`` times; every
attempt is recorded in the store (HTTP status or error). A notification left
pending by a worker that stopped is taken over by another worker's sweep (or the
same server's next start) once it is ``LEASE_S`` old.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ..case.pas import ids
from ..case.pas.problems import BundleError, FhirProblem
from .fhir_out import checked

__all__ = ["TOPIC", "BACKPORT", "MAX_ATTEMPTS", "FIRST_DELAY_S", "BACKOFF", "TIMEOUT_S", "LEASE_S", "SWEEP_S", "SubscriptionRequest",
           "read_subscription", "notification_bundle", "Deliverer"]

TOPIC = "http://hl7.org/fhir/us/davinci-pas/SubscriptionTopic/PASSubscriptionTopic"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
FILTER_EXT = BACKPORT + "backport-filter-criteria"
CONTENT_EXT = BACKPORT + "backport-payload-content"
NOTIFICATION_PROFILE = BACKPORT + "backport-subscription-notification-r4"
STATUS_PROFILE = BACKPORT + "backport-subscription-status-r4"
SUBSCRIPTION_PROFILE = ids.BACKPORT_SUBSCRIPTION  # the one the CapabilityStatement names
CONTENTS = ("empty", "id-only", "full-resource")
FILTERS = ("org-identifier",)  # a filter on Claim.provider's identifier: [system|]value

MAX_ATTEMPTS = 5  # deliveries of one notification before it is marked failed
FIRST_DELAY_S = 0.5  # wait before the second attempt; doubled before each next one
BACKOFF = 2.0
TIMEOUT_S = 5.0  # for one POST to the subscriber
# A pending notification untouched this long belongs to a worker that stopped: another takes it
# over. Longer than one notification's whole retry schedule (its waits and timeouts).
LEASE_S = 2 * (sum(FIRST_DELAY_S * BACKOFF ** n for n in range(MAX_ATTEMPTS - 1)) + MAX_ATTEMPTS * TIMEOUT_S)
SWEEP_S = 30.0  # how often each worker looks for such notifications


@dataclass(frozen=True)
class SubscriptionRequest:
    endpoint: str
    content: str
    headers: list[str]
    filters: list[str]
    resource: dict


def _problem(path: str, code: str, message: str) -> BundleError:
    return BundleError([FhirProblem(path, code, message)])


def read_subscription(data: Any) -> SubscriptionRequest:
    """A Backport Subscription to PAS's topic with a rest-hook channel; BundleError (400) otherwise."""
    if not isinstance(data, dict) or data.get("resourceType") != "Subscription":
        raise BundleError([FhirProblem(None, "structure", "expected a Subscription resource")])
    try:
        checked(data)
    except Exception as exc:
        raise _problem("Subscription", "structure", f"not a valid FHIR R4 Subscription: {str(exc).splitlines()[0]}") from None
    if data.get("criteria") != TOPIC:
        raise _problem("Subscription.criteria", "not-supported", f"expected PAS's topic {TOPIC}")
    channel = data.get("channel") or {}
    if channel.get("type") != "rest-hook":
        raise _problem("Subscription.channel.type", "not-supported", "expected a rest-hook channel")
    endpoint = channel.get("endpoint") or ""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _problem("Subscription.channel.endpoint", "required", "expected the http(s) URL notifications are POSTed to")
    if channel.get("payload") not in (None, "application/fhir+json", "application/json"):
        raise _problem("Subscription.channel.payload", "not-supported", "expected application/fhir+json")
    content = "id-only"
    for ext in (channel.get("_payload") or {}).get("extension") or []:
        if ext.get("url") == CONTENT_EXT:
            content = ext.get("valueCode")
    if content not in CONTENTS:
        raise _problem("Subscription.channel._payload", "not-supported", f"payload content must be one of {', '.join(CONTENTS)}")
    filters = []
    for i, ext in enumerate((data.get("_criteria") or {}).get("extension") or []):
        if ext.get("url") != FILTER_EXT:
            continue
        name, _, value = str(ext.get("valueString") or "").partition("=")
        if name not in FILTERS or not value:
            raise _problem(f"Subscription._criteria.extension[{i}]", "not-supported",
                           f"expected a filter {' or '.join(f + '=[system|]value' for f in FILTERS)}")
        filters.append(value)
    headers = [h for h in channel.get("header") or [] if isinstance(h, str) and ":" in h]
    resource = {**data, "status": "active"}
    resource.setdefault("meta", {})["profile"] = [SUBSCRIPTION_PROFILE]
    return SubscriptionRequest(endpoint, content, headers, filters, resource)


def notification_bundle(subscription: dict, event_number: int, change: Any, now: datetime | None = None) -> dict:
    """The Backport notification of one state change: a SubscriptionStatus, then the ClaimResponse if asked for."""
    now = now or datetime.now(timezone.utc)
    response = change.answer["entry"][0]["resource"]
    focus = f"ClaimResponse/{response['id']}"
    event: list[dict] = [{"name": "event-number", "valueString": str(event_number)},
                         {"name": "timestamp", "valueInstant": now.isoformat(timespec="milliseconds")}]
    if subscription["content"] != "empty":
        event.append({"name": "focus", "valueReference": {"reference": focus}})
    status = {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": [
            {"name": "subscription", "valueReference": {"reference": f"Subscription/{subscription['id']}"}},
            {"name": "topic", "valueCanonical": TOPIC},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": str(event_number)},
            {"name": "notification-event", "part": event},
        ],
    }
    entries = [{"fullUrl": f"urn:uuid:{status['id']}", "resource": status,
                "request": {"method": "GET", "url": f"Subscription/{subscription['id']}/$status"},
                "response": {"status": "200"}}]
    if subscription["content"] == "full-resource":
        entries.append({"fullUrl": f"urn:uuid:{response['id']}", "resource": response,
                        "request": {"method": "PUT", "url": focus}, "response": {"status": "200"}})
    elif subscription["content"] == "id-only":
        entries.append({"fullUrl": f"urn:uuid:{response['id']}", "request": {"method": "PUT", "url": focus},
                        "response": {"status": "200"}})
    return checked({"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"profile": [NOTIFICATION_PROFILE]},
                    "type": "history", "timestamp": now.isoformat(timespec="milliseconds"), "entry": entries})


class Deliverer:
    """One daemon thread per worker delivering queued notifications, retried with back-off; each attempt stored."""

    def __init__(self, store, *, attempts: int = MAX_ATTEMPTS, first_delay: float = FIRST_DELAY_S,
                 backoff: float = BACKOFF, timeout: float = TIMEOUT_S):
        self.store = store
        self.attempts, self.first_delay, self.backoff, self.timeout = attempts, first_delay, backoff, timeout
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def deliver(self, notification_ids: list[int]) -> None:
        """Queue notifications (already stored) for delivery now."""
        if not notification_ids:
            return
        self.start()
        for nid in notification_ids:
            self._queue.put((time.monotonic(), nid, 1))

    def start(self) -> None:
        """Start the delivery thread now (it also takes over notifications a stopped worker left pending)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lemtrada-notify", daemon=True)
                self._thread.start()

    def _sweep(self) -> None:
        for nid, attempts in self.store.claim_stale(LEASE_S):
            if attempts >= self.attempts:  # its last attempt was made; only its outcome was not recorded
                self.store.record_attempt(nid, attempts + 1, status_code=None, ok=False, final=True,
                                          error="not delivered: its worker stopped before recording the outcome")
            else:
                self._queue.put((time.monotonic(), nid, attempts + 1))

    def _run(self) -> None:
        import httpx

        next_sweep = time.monotonic()
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            while True:
                if time.monotonic() >= next_sweep:
                    try:
                        self._sweep()
                    except Exception:  # the store unreachable: try again at the next sweep
                        pass
                    next_sweep = time.monotonic() + SWEEP_S
                try:
                    due, nid, attempt = self._queue.get(timeout=min(1.0, max(0.01, next_sweep - time.monotonic())))
                except queue.Empty:
                    continue
                wait = due - time.monotonic()
                if wait > 0:  # not due yet: wait for it, or for a sooner one to arrive
                    self._queue.put((due, nid, attempt))
                    time.sleep(min(wait, 0.05))
                    continue
                try:
                    self._attempt(client, nid, attempt)
                except Exception:  # the store unreachable: the notification stays pending in it
                    pass

    def _attempt(self, client, nid: int, attempt: int) -> None:
        note = self.store.notification(nid)
        headers = {"content-type": "application/fhir+json"}
        for header in note["headers"]:
            name, _, value = header.partition(":")
            headers[name.strip()] = value.strip()
        status, error = None, None
        try:
            r = client.post(note["endpoint"], json=note["payload"], headers=headers)
            status = r.status_code
            ok = 200 <= status < 300
            if not ok:
                error = f"HTTP {status}"
        except Exception as exc:  # refused, timed out, unreachable: an attempt that failed
            ok, error = False, f"{type(exc).__name__}: {exc}"[:500]
        final = ok or attempt >= self.attempts
        self.store.record_attempt(nid, attempt, status_code=status, error=error, ok=ok, final=final)
        if not final:
            delay = self.first_delay * self.backoff ** (attempt - 1)
            self._queue.put((time.monotonic() + delay, nid, attempt + 1))
