"""The review desk's records: reviewers, their sessions, the queue of pended requests, the letters signed.

Only this package knows SQL, so the desk (service/desk/) reads and writes here.
A reviewer's password is stored only as the Argon2 hash the desk made; a session
only as the SHA-256 of its cookie token, so a copy of the database opens no
session. Failed sign-ins are counted per reviewer and lock the account for a
while once there are too many (the desk's ``auth`` module says how many and how
long); a state change a reviewer makes is recorded by ``Store.move`` with the
reviewer as its actor, as every other move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from . import states
from .errors import StoreError
from .models import Request, Reviewer, ReviewerSession, SignedLetter
from .repository import Store, Stored, _now

__all__ = ["DeskRecords", "ReviewerRecord", "Queued", "ReviewerExists"]


class ReviewerExists(StoreError):
    """``reviewer add`` for a name already in the database."""


@dataclass(frozen=True)
class ReviewerRecord:
    id: int
    name: str
    credentials: str
    password_hash: str
    failed_attempts: int
    locked_until: datetime | None


@dataclass(frozen=True)
class Queued:
    """A stored request with when it was received (naive UTC)."""

    stored: Stored
    received_at: datetime


def _reviewer(row: Reviewer) -> ReviewerRecord:
    return ReviewerRecord(row.id, row.name, row.credentials, row.password_hash, row.failed_attempts, row.locked_until)


class DeskRecords:
    """The desk's reads and writes over one ``Store``."""

    def __init__(self, store: Store):
        self.store = store

    # --- reviewers ------------------------------------------------------------------------

    def add_reviewer(self, name: str, credentials: str, password_hash: str) -> ReviewerRecord:
        try:
            with self.store._write() as s:
                row = Reviewer(name=name, credentials=credentials, password_hash=password_hash, failed_attempts=0,
                               created_at=_now())
                s.add(row)
                s.flush()
                return _reviewer(row)
        except IntegrityError:
            raise ReviewerExists(f"a reviewer named {name!r} already exists") from None

    def reviewer(self, name: str) -> ReviewerRecord | None:
        with self.store.session() as s:
            row = s.execute(select(Reviewer).where(Reviewer.name == name)).scalar_one_or_none()
            return _reviewer(row) if row else None

    def failed_sign_in(self, reviewer_id: int, lock_after: int, lock_for: timedelta) -> ReviewerRecord:
        """Count a failed sign-in; the ``lock_after``-th in a row locks the account for ``lock_for``."""
        with self.store._write() as s:
            row = s.get(Reviewer, reviewer_id)
            row.failed_attempts += 1
            if row.failed_attempts >= lock_after:
                row.locked_until = _now() + lock_for
                row.failed_attempts = 0
            return _reviewer(row)

    def signed_in(self, reviewer_id: int, password_hash: str | None = None) -> None:
        """A successful sign-in: the count of failures cleared (and the hash replaced when re-hashed)."""
        with self.store._write() as s:
            values: dict = {"failed_attempts": 0, "locked_until": None}
            if password_hash:
                values["password_hash"] = password_hash
            s.execute(update(Reviewer).where(Reviewer.id == reviewer_id).values(**values))

    # --- sessions -------------------------------------------------------------------------

    def open_session(self, reviewer_id: int, token_hash: str, csrf: str, lifetime: timedelta) -> None:
        now = _now()
        with self.store._write() as s:
            s.execute(delete(ReviewerSession).where(ReviewerSession.expires_at < now))  # the expired ones go
            s.add(ReviewerSession(token_hash=token_hash, reviewer_id=reviewer_id, csrf=csrf, created_at=now,
                                  expires_at=now + lifetime))

    def session(self, token_hash: str) -> tuple[ReviewerRecord, str] | None:
        """The reviewer and CSRF token of an unexpired session."""
        with self.store.session() as s:
            row = s.get(ReviewerSession, token_hash)
            if row is None or row.expires_at <= _now():
                return None
            return _reviewer(s.get(Reviewer, row.reviewer_id)), row.csrf

    def close_session(self, token_hash: str) -> None:
        with self.store._write() as s:
            s.execute(delete(ReviewerSession).where(ReviewerSession.token_hash == token_hash))

    # --- the queue ------------------------------------------------------------------------

    def pended(self) -> list[Queued]:
        """Every pended request, oldest first."""
        with self.store.session() as s:
            rows = s.execute(select(Request).where(Request.state == states.PENDED)
                             .order_by(Request.received_at, Request.id)).scalars().all()
            return [Queued(self.store._stored(s, row), row.received_at) for row in rows]

    def request(self, request_id: str) -> Queued | None:
        with self.store.session() as s:
            row = s.get(Request, request_id)
            return Queued(self.store._stored(s, row), row.received_at) if row else None

    # --- signed letters -------------------------------------------------------------------

    def store_letter(self, request_id: str, claim_response_id: str, verdict: str, reviewer: str, credentials: str,
                     reason: str, signed_at: datetime, pdf: bytes) -> int:
        with self.store._write() as s:
            row = SignedLetter(request_id=request_id, claim_response_id=claim_response_id, verdict=verdict,
                               reviewer=reviewer, credentials=credentials, reason=reason, signed_at=signed_at, pdf=pdf)
            s.add(row)
            s.flush()
            return row.id

    def letters(self, request_id: str) -> list[dict]:
        """The letters signed for a request (without their PDF), oldest first."""
        with self.store.session() as s:
            rows = s.execute(select(SignedLetter).where(SignedLetter.request_id == request_id)
                             .order_by(SignedLetter.id)).scalars()
            return [{"id": r.id, "verdict": r.verdict, "reviewer": r.reviewer, "credentials": r.credentials,
                     "reason": r.reason, "signed_at": r.signed_at, "claim_response_id": r.claim_response_id,
                     "bytes": len(r.pdf)} for r in rows]

    def letter_pdf(self, request_id: str, letter_id: int) -> bytes | None:
        with self.store.session() as s:
            row = s.get(SignedLetter, letter_id)
            return row.pdf if row is not None and row.request_id == request_id else None
