"""The store's functions: every request, answer, authorisation and state change, read and written here.

Only this package knows SQL. A submission is one transaction: the request (its
Claim's identifier unique -- a second server storing the same Claim at the same
moment gets ``Conflict`` and answers with what the first stored), its answer,
its authorisations, its first state change, the move of the request it updates
and the notifications owed to subscribers. A move is a compare-and-set on the
state, so two servers can never both move one request, and only the moves
``states.MOVES`` lists are made.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import states
from .database import WRITE, open_engine
from .errors import Conflict, StateError
from .models import (Answer, Authorisation, CoverageAssertion, CoverageLink, Delivery, Notification, Request, StateChange,
                     Subscription)

__all__ = ["Store", "Stored", "NewRequest", "Line", "Change", "Notify"]

# notify(subscription, event_number, change) -> the notification's payload (a JSON object)
Notify = Callable[[dict, int, "Change"], dict]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)  # stored as UTC, naive on both back ends


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Line:
    """One certified line to store as an authorisation."""

    pre_auth_ref: str
    item_sequence: int
    period_start: str | None = None
    period_end: str | None = None
    quantity: str | None = None


@dataclass
class NewRequest:
    """A request and its first answer, as the lifecycle hands them to ``Store.submit``."""

    identifier_key: str | None
    state: str
    bundle: dict
    answer: dict
    claim_response_id: str
    case: dict | None = None
    decision: dict | None = None
    provider_ids: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    # (kind, value): the CRD coverage-assertion-ids / satisfied-pa-ids the request names that this server issued
    links: list[tuple[str, str]] = field(default_factory=list)
    tracking_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Stored:
    """A stored request with its current (newest) answer."""

    id: str
    identifier_key: str | None
    tracking_id: str
    state: str
    replaces_id: str | None
    replaced_by_id: str | None
    answer: dict
    decision: dict | None
    case: dict | None
    bundle: dict | None = None  # the request Bundle as received


@dataclass(frozen=True)
class Change:
    """A state change as subscribers hear of it: which request, from, to, by whom, and the answer to show."""

    request_id: str
    tracking_id: str
    identifier_key: str | None
    source: str
    target: str
    actor: str
    reason: str
    answer: dict
    provider_ids: tuple[str, ...] = ()
    id: int = 0


class Store:
    """One database: SQLite or PostgreSQL, by URL. Safe to share between the threads of a worker."""

    def __init__(self, url: str):
        self.engine = open_engine(url)
        self.session = sessionmaker(self.engine, expire_on_commit=False)  # reads
        self._writer = sessionmaker(self.engine.execution_options(**{WRITE: True}), expire_on_commit=False)
        # SQLite has one writer at a time: the threads of this process queue here, in order,
        # rather than polling SQLite's busy handler (whose waits grow to 100 ms each)
        self._one_writer = threading.Lock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction: committed at the end, rolled back on an error."""
        with self._one_writer, self._writer.begin() as s:
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # --- reading -------------------------------------------------------------------------

    def _stored(self, s: Session, row: Request) -> Stored:
        answer = s.execute(select(Answer).where(Answer.request_id == row.id).order_by(Answer.id.desc()).limit(1)).scalar_one()
        return Stored(row.id, row.identifier_key, row.tracking_id, row.state, row.replaces_id, row.replaced_by_id,
                      json.loads(answer.bundle), json.loads(answer.decision) if answer.decision else None,
                      json.loads(row.case) if row.case else None, json.loads(row.bundle))

    def find(self, identifier_key: str) -> Stored | None:
        """The request stored under this Claim identifier ("system|value"), if any."""
        with self.session() as s:
            row = s.execute(select(Request).where(Request.identifier_key == identifier_key)).scalar_one_or_none()
            return self._stored(s, row) if row else None

    def find_any(self, identifier_keys: Iterable[str] = (), tracking_ids: Iterable[str] = ()) -> Stored | None:
        """The first request stored under any of these identifiers or tracking ids."""
        keys, tracking = list(identifier_keys), list(tracking_ids)
        with self.session() as s:
            for column, values in ((Request.identifier_key, keys), (Request.tracking_id, tracking)):
                if values:
                    row = s.execute(select(Request).where(column.in_(values)).limit(1)).scalar_one_or_none()
                    if row:
                        return self._stored(s, row)
        return None

    def claim_response(self, claim_response_id: str) -> dict | None:
        """A ClaimResponse the service answered, by its id (a notification's focus), or None."""
        with self.session() as s:
            row = s.execute(select(Answer.bundle).where(Answer.claim_response_id == claim_response_id)).scalar_one_or_none()
        return None if row is None else json.loads(row)["entry"][0]["resource"]

    def latest(self, stored: Stored) -> Stored:
        """The request that now stands for ``stored``: itself, or the newest update that replaced it."""
        seen: set[str] = set()
        with self.session() as s:
            row = s.get(Request, stored.id)  # as stored now, not as the caller last read it
            while row.replaced_by_id and row.replaced_by_id not in seen:
                seen.add(row.id)
                row = s.get(Request, row.replaced_by_id)
            return self._stored(s, row)

    def history(self, request_id: str) -> list[dict]:
        """Every state change of a request, oldest first, with who or what made it."""
        with self.session() as s:
            rows = s.execute(select(StateChange).where(StateChange.request_id == request_id).order_by(StateChange.id)).scalars()
            return [{"from": r.from_state, "to": r.to_state, "actor": r.actor, "reason": r.reason,
                     "at": r.at.isoformat()} for r in rows]

    def authorisations(self, request_id: str | None = None) -> list[dict]:
        """The authorisations issued (for one request, or all), oldest first."""
        with self.session() as s:
            query = select(Authorisation).order_by(Authorisation.created_at, Authorisation.pre_auth_ref)
            if request_id:
                query = query.where(Authorisation.request_id == request_id)
            return [{"pre_auth_ref": a.pre_auth_ref, "request_id": a.request_id, "item_sequence": a.item_sequence,
                     "status": a.status, "period": [a.period_start, a.period_end], "quantity": a.quantity}
                    for a in s.execute(query).scalars()]

    def authorisation(self, pre_auth_ref: str) -> dict | None:
        """One authorisation by its preAuthRef (a PAS request's satisfied-pa-id), or None."""
        with self.session() as s:
            a = s.get(Authorisation, pre_auth_ref)
            return None if a is None else {"pre_auth_ref": a.pre_auth_ref, "request_id": a.request_id,
                                           "item_sequence": a.item_sequence, "status": a.status,
                                           "period": [a.period_start, a.period_end], "quantity": a.quantity}

    # --- CRD's coverage assertions (service/crd/) -----------------------------------------

    def add_coverage_assertion(self, *, hook: str, hook_instance: str, order_ref: str | None, patient: str | None,
                               client: str | None, covered: str, pa_needed: str | None, doc_needed: str | None,
                               decision: str, missing: Iterable[str], failing: Iterable[str], case: dict,
                               kb_version: str) -> tuple[str, datetime]:
        """Store one CRD answer; its new coverage-assertion-id and when it was made (UTC)."""
        assertion_id, now = uuid.uuid4().hex, _now()
        with self._write() as s:
            s.add(CoverageAssertion(id=assertion_id, hook=hook[:32], hook_instance=hook_instance[:128],
                                    order_ref=order_ref[:200] if order_ref else None,
                                    patient=patient[:200] if patient else None, client=client, covered=covered,
                                    pa_needed=pa_needed, doc_needed=doc_needed, decision=decision,
                                    missing=_dump(list(missing)), failing=_dump(list(failing)), case=_dump(case),
                                    kb_version=kb_version, created_at=now))
        return assertion_id, now

    def coverage_assertion(self, assertion_id: str) -> dict | None:
        """A stored CRD answer by its coverage-assertion-id, or None."""
        with self.session() as s:
            a = s.get(CoverageAssertion, assertion_id) if len(assertion_id) <= 64 else None
            if a is None:
                return None
            return {"id": a.id, "hook": a.hook, "hook_instance": a.hook_instance, "order_ref": a.order_ref,
                    "patient": a.patient, "client": a.client, "covered": a.covered, "pa_needed": a.pa_needed,
                    "doc_needed": a.doc_needed, "decision": a.decision, "missing": json.loads(a.missing),
                    "failing": json.loads(a.failing), "case": json.loads(a.case), "kb_version": a.kb_version,
                    "created_at": a.created_at.isoformat(timespec="seconds")}

    def coverage_links(self, request_id: str) -> list[dict]:
        """The CRD answers and authorisations a stored request is linked to, in the order stored."""
        with self.session() as s:
            rows = s.execute(select(CoverageLink).where(CoverageLink.request_id == request_id)
                             .order_by(CoverageLink.id)).scalars()
            return [{"kind": r.kind, "value": r.value} for r in rows]

    def count_requests(self) -> int:
        with self.session() as s:
            return len(s.execute(select(Request.id)).all())

    # --- writing -------------------------------------------------------------------------

    def submit(self, new: NewRequest, actor: str, *, replaces: Stored | None = None, cancelled_lines: Iterable[int] = (),
               notify: Notify | None = None) -> tuple[Stored, list[int]]:
        """Store a request, its answer, its lines and its first move; move the request it updates.

        ``replaces`` (a PAS update) moves to ``replaced`` -- or to ``cancelled`` when the new
        request is itself cancelled -- and its authorisations of ``cancelled_lines`` become
        cancelled, the others replaced. Returns the stored request and the ids of the
        notifications to deliver. ``Conflict`` when the identifier is already stored;
        ``StateError`` when the updated request moved meanwhile (nothing is stored then).
        """
        now = _now()
        notifications: list[int] = []
        try:
            with self._write() as s:
                s.add(Request(id=new.id, identifier_key=new.identifier_key, tracking_id=new.tracking_id, state=new.state,
                              replaces_id=replaces.id if replaces else None, provider_ids=_dump(new.provider_ids),
                              bundle=_dump(new.bundle), case=_dump(new.case) if new.case is not None else None,
                              received_at=now, updated_at=now))
                s.flush()  # the unique identifier is checked here, before anything else is written
                s.add(Answer(request_id=new.id, claim_response_id=new.claim_response_id, bundle=_dump(new.answer),
                             decision=_dump(new.decision) if new.decision is not None else None, created_at=now))
                for line in new.lines:
                    s.add(Authorisation(pre_auth_ref=line.pre_auth_ref, request_id=new.id, item_sequence=line.item_sequence,
                                        status="active", period_start=line.period_start, period_end=line.period_end,
                                        quantity=line.quantity, created_at=now))
                for kind, value in dict.fromkeys(new.links):
                    s.add(CoverageLink(request_id=new.id, kind=kind, value=value, created_at=now))
                reason = f"update of {replaces.identifier_key or replaces.tracking_id}" if replaces else "first answer"
                first = Change(new.id, new.tracking_id, new.identifier_key, states.NEW, new.state, actor, reason,
                               new.answer, tuple(new.provider_ids))
                notifications += self._move(s, first, now, notify)
                if replaces is not None:
                    target = states.CANCELLED if new.state == states.CANCELLED else states.REPLACED
                    change = Change(replaces.id, replaces.tracking_id, replaces.identifier_key, replaces.state, target,
                                    actor, f"{'cancelled' if target == states.CANCELLED else 'replaced'} by "
                                           f"{new.identifier_key or new.tracking_id}", new.answer, tuple(new.provider_ids))
                    notifications += self._move(s, change, now, notify, replaced_by=new.id)
                    cancelled = set(cancelled_lines)
                    for auth in s.execute(select(Authorisation).where(Authorisation.request_id == replaces.id,
                                                                      Authorisation.status == "active")).scalars():
                        auth.status = "cancelled" if auth.item_sequence in cancelled else "replaced"
                        auth.changed_at = now
        except IntegrityError as exc:
            if new.identifier_key and self.find(new.identifier_key) is not None:
                raise Conflict(new.identifier_key) from None
            raise StateError(f"the request could not be stored: {str(exc.orig).splitlines()[0]}") from None
        stored = Stored(new.id, new.identifier_key, new.tracking_id, new.state, replaces.id if replaces else None, None,
                        new.answer, new.decision, new.case, new.bundle)
        return stored, notifications

    def move(self, request_id: str, target: str, actor: str, reason: str = "", *, answer: dict | None = None,
             claim_response_id: str | None = None, decision: dict | None = None, lines: Iterable[Line] = (),
             notify: Notify | None = None) -> tuple[Stored, list[int]]:
        """Move a stored request (a reviewer's decision), with its new answer and authorisations if given."""
        now = _now()
        with self._write() as s:
            row = s.get(Request, request_id)
            if row is None:
                raise StateError(f"no stored request {request_id}")
            if answer is not None:
                s.add(Answer(request_id=row.id, claim_response_id=claim_response_id or str(uuid.uuid4()),
                             bundle=_dump(answer), decision=_dump(decision) if decision is not None else None, created_at=now))
                s.flush()
            for line in lines:
                s.add(Authorisation(pre_auth_ref=line.pre_auth_ref, request_id=row.id, item_sequence=line.item_sequence,
                                    status="active", period_start=line.period_start, period_end=line.period_end,
                                    quantity=line.quantity, created_at=now))
            current = self._stored(s, row)
            change = Change(row.id, row.tracking_id, row.identifier_key, row.state, target, actor, reason,
                            current.answer, tuple(json.loads(row.provider_ids)))
            ids = self._move(s, change, now, notify)
            if target in (states.CANCELLED,):
                s.execute(update(Authorisation).where(Authorisation.request_id == row.id, Authorisation.status == "active")
                          .values(status="cancelled", changed_at=now))
        return self.latest(self.find_by_id(request_id)), ids

    def find_by_id(self, request_id: str) -> Stored:
        with self.session() as s:
            return self._stored(s, s.get(Request, request_id))

    def _move(self, s: Session, change: Change, now: datetime, notify: Notify | None,
              replaced_by: str | None = None) -> list[int]:
        """Compare-and-set the state, record the change, queue its notifications."""
        if not states.allowed(change.source, change.target):
            raise StateError(f"a request cannot move from {change.source} to {change.target}")
        if change.source != states.NEW:
            values: dict[str, Any] = {"state": change.target, "updated_at": now}
            if replaced_by:
                values["replaced_by_id"] = replaced_by
            moved = s.execute(update(Request).where(Request.id == change.request_id, Request.state == change.source)
                              .values(**values)).rowcount
            if moved != 1:
                raise StateError(f"request {change.identifier_key or change.request_id} is no longer {change.source}: "
                                 f"another request moved it first")
        row = StateChange(request_id=change.request_id, from_state=change.source, to_state=change.target,
                          actor=change.actor[:200], reason=change.reason, at=now)
        s.add(row)
        s.flush()
        change = Change(**{**change.__dict__, "id": row.id})
        if notify is None:
            return []
        ids = []
        for sub in s.execute(select(Subscription).where(Subscription.status == "active")).scalars():
            if not _matches(json.loads(sub.filters), change.provider_ids):
                continue
            number = s.execute(update(Subscription).where(Subscription.id == sub.id)
                               .values(events=Subscription.events + 1).returning(Subscription.events)).scalar_one()
            payload = notify({"id": sub.id, "content": sub.content, "endpoint": sub.endpoint}, number, change)
            n = Notification(subscription_id=sub.id, state_change_id=row.id, event_number=number, payload=_dump(payload),
                             status="pending", attempts=0, created_at=now, claimed_at=now)
            s.add(n)
            s.flush()
            ids.append(n.id)
        return ids

    # --- subscriptions and their deliveries ---------------------------------------------

    def add_subscription(self, *, endpoint: str, content: str, headers: list[str], filters: list[str],
                         resource: Callable[[str], dict]) -> dict:
        """Store an active Subscription; ``resource(id)`` gives the resource to store and answer."""
        sub_id = str(uuid.uuid4())
        body = resource(sub_id)
        with self._write() as s:
            s.add(Subscription(id=sub_id, status="active", endpoint=endpoint, content=content, headers=_dump(headers),
                               filters=_dump(filters), events=0, resource=_dump(body), created_at=_now()))
        return body

    def subscription(self, sub_id: str) -> dict | None:
        with self.session() as s:
            row = s.get(Subscription, sub_id)
            return None if row is None else {**json.loads(row.resource), "_events": row.events}

    def notification(self, notification_id: int) -> dict:
        """What a delivery needs: the payload, the endpoint and headers, the attempts made so far."""
        with self.session() as s:
            n = s.get(Notification, notification_id)
            sub = s.get(Subscription, n.subscription_id)
            return {"payload": json.loads(n.payload), "endpoint": sub.endpoint, "headers": json.loads(sub.headers),
                    "attempts": n.attempts, "status": n.status}

    def record_attempt(self, notification_id: int, attempt: int, *, status_code: int | None, error: str | None,
                       ok: bool, final: bool) -> None:
        """Record one delivery attempt; the notification is delivered on success, failed after the last."""
        with self._write() as s:
            s.add(Delivery(notification_id=notification_id, attempt=attempt, at=_now(), status_code=status_code,
                           error=error, ok=ok))
            status = "delivered" if ok else ("failed" if final else "pending")
            s.execute(update(Notification).where(Notification.id == notification_id)
                      .values(attempts=attempt, status=status, claimed_at=_now()))

    def claim_stale(self, lease_s: float, limit: int = 100) -> list[tuple[int, int]]:
        """Take on pending notifications no worker has touched for ``lease_s`` seconds (its worker stopped or died).

        Each is taken by a compare-and-set on ``claimed_at``, so of several workers
        sweeping at once one takes it. Returns (notification id, attempts made).
        """
        stale = _now() - timedelta(seconds=lease_s)
        taken = []
        with self.session() as s:
            rows = s.execute(select(Notification.id, Notification.attempts, Notification.claimed_at)
                             .where(Notification.status == "pending",
                                    or_(Notification.claimed_at.is_(None), Notification.claimed_at < stale))
                             .order_by(Notification.id).limit(limit)).all()
        for nid, attempts, claimed_at in rows:
            with self._write() as s:
                same = Notification.claimed_at.is_(None) if claimed_at is None else Notification.claimed_at == claimed_at
                won = s.execute(update(Notification).where(Notification.id == nid, Notification.status == "pending", same)
                                .values(claimed_at=_now())).rowcount
            if won == 1:
                taken.append((nid, attempts))
        return taken

    def deliveries(self, subscription_id: str | None = None) -> list[dict]:
        """Every delivery attempt (of one subscription's notifications, or all), oldest first."""
        with self.session() as s:
            query = (select(Delivery, Notification).join(Notification, Delivery.notification_id == Notification.id)
                     .order_by(Delivery.id))
            if subscription_id:
                query = query.where(Notification.subscription_id == subscription_id)
            return [{"notification": n.id, "event_number": n.event_number, "attempt": d.attempt, "ok": d.ok,
                     "status_code": d.status_code, "error": d.error, "notification_status": n.status}
                    for d, n in s.execute(query).all()]


def _matches(filters: list[str], provider_ids: Iterable[str]) -> bool:
    """No filter matches every request; else one of the provider's identifiers ("system|value" or "value")."""
    if not filters:
        return True
    ids = set(provider_ids)
    values = {i.split("|", 1)[-1] for i in ids}
    return any(f in ids or ("|" not in f and f in values) for f in filters)
