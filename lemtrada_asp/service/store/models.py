"""The store's tables (SQLAlchemy 2 declarative models); migrations/ creates them.

One row per request received (its Claim's first identifier is unique: the
idempotency key, so two servers given the same Claim at once cannot both store
it), one per answer sent, one per authorisation issued (its preAuthRef unique,
one per request line), one per state change with who or what made it; and the
Subscriptions, the notifications owed to them and every delivery attempt.
JSON documents are stored as text so both back ends hold them the same way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Request", "Answer", "Authorisation", "StateChange", "Subscription", "Notification", "Delivery",
           "Reviewer", "ReviewerSession", "SignedLetter", "CoverageAssertion", "CoverageLink"]


class Base(DeclarativeBase):
    pass


class Request(Base):
    """A PAS request as received: its Bundle, the case it became, its current state."""

    __tablename__ = "requests"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    identifier_key: Mapped[str | None] = mapped_column(String(512), unique=True)  # "system|value"; NULL: none
    tracking_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    replaces_id: Mapped[str | None] = mapped_column(ForeignKey("requests.id"))
    replaced_by_id: Mapped[str | None] = mapped_column(String(36))
    provider_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of "system|value" of Claim.provider
    bundle: Mapped[str] = mapped_column(Text)
    case: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Answer(Base):
    """A response Bundle sent for a request (the newest is its current answer)."""

    __tablename__ = "answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    claim_response_id: Mapped[str] = mapped_column(String(64), unique=True)
    decision: Mapped[str | None] = mapped_column(Text)
    bundle: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Authorisation(Base):
    """One certified line: its preAuthRef, period and quantity; cancelled by an update."""

    __tablename__ = "authorisations"
    __table_args__ = (UniqueConstraint("request_id", "item_sequence", name="uq_authorisation_line"),)
    pre_auth_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    item_sequence: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))  # active | cancelled | replaced
    period_start: Mapped[str | None] = mapped_column(String(10))
    period_end: Mapped[str | None] = mapped_column(String(10))
    quantity: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    changed_at: Mapped[datetime | None]


class StateChange(Base):
    """One move of a request's state, with who or what made it and why."""

    __tablename__ = "state_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]


class Subscription(Base):
    """An R4 Backport Subscription to PAS's topic, with its rest-hook channel."""

    __tablename__ = "subscriptions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(String(16))  # empty | id-only | full-resource
    headers: Mapped[str] = mapped_column(Text, default="[]")
    filters: Mapped[str] = mapped_column(Text, default="[]")
    events: Mapped[int] = mapped_column(Integer, default=0)  # events-since-subscription-start
    resource: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Notification(Base):
    """A notification owed to a subscriber for one state change: its payload and outcome."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status", "status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    state_change_id: Mapped[int] = mapped_column(ForeignKey("state_changes.id"))
    event_number: Mapped[int]
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]  # when a worker last took it on (migration 0002)


class Delivery(Base):
    """One attempt to deliver a notification: when, the HTTP status or the error."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    attempt: Mapped[int]
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    ok: Mapped[bool]


class Reviewer(Base):
    """A clinical reviewer of the review desk: name, credentials, Argon2 hash, failed sign-ins (lock-out)."""

    __tablename__ = "reviewers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    credentials: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ReviewerSession(Base):
    """A signed-in reviewer's session: the SHA-256 of its cookie token (never the token), its CSRF token, expiry."""

    __tablename__ = "reviewer_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SignedLetter(Base):
    """The letter a reviewer signed with a final decision: the PDF, who signed it, when and why."""

    __tablename__ = "signed_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    claim_response_id: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))  # approve | deny | records
    reviewer: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]
    pdf: Mapped[bytes] = mapped_column(LargeBinary)


class CoverageAssertion(Base):
    """A CRD answer (service/crd/): its coverage-assertion-id, the order and hook it answered, what it said.

    CRD servers retain the coverage guidance they give (CRD 2.0.1, "Accuracy"), so a PAS
    request naming the id can be linked to it (CoverageLink). Migration 0004.
    """

    __tablename__ = "coverage_assertions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the coverage-assertion-id
    hook: Mapped[str] = mapped_column(String(32))
    hook_instance: Mapped[str] = mapped_column(String(128))
    order_ref: Mapped[str | None] = mapped_column(String(200))  # MedicationRequest/<id> of the order
    patient: Mapped[str | None] = mapped_column(String(200))  # context.patientId
    client: Mapped[str | None] = mapped_column(String(200))  # the token's client id
    covered: Mapped[str] = mapped_column(String(16))
    pa_needed: Mapped[str | None] = mapped_column(String(16))
    doc_needed: Mapped[str | None] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(32))  # approve | deny | pend:<reason>
    missing: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of criterion ids
    failing: Mapped[str] = mapped_column(Text, default="[]")
    case: Mapped[str] = mapped_column(Text)  # the partial case the chart gave (JSON)
    kb_version: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class CoverageLink(Base):
    """A PAS request's link to a CRD answer (coverage-assertion-id) or to the authorisation that satisfied it
    (satisfied-pa-id), made only when the id is one this server issued. Migration 0004."""

    __tablename__ = "coverage_links"
    __table_args__ = (UniqueConstraint("request_id", "kind", "value", name="uq_coverage_link"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # coverage-assertion-id | satisfied-pa-id
    value: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime]
