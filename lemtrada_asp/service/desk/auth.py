"""Reviewers' sign-in, sessions and CSRF tokens for the review desk (not the API clients' auth).

Why its own sessions: a reviewer signs decisions in a browser, so the desk needs
a person's sign-in with a password and a cookie, where API clients under /fhir and
/v1 carry tokens. Passwords are hashed with Argon2id (argon2-cffi's defaults, a
memory-hard function); a session cookie holds a random token whose SHA-256 alone
is stored, HttpOnly, SameSite=Strict, and Secure unless the desk is reached over
plain http on the loopback interface. Every POST carries the session's CSRF token
(the sign-in form a token of its own, in a cookie and the form: double submit).
After ``LOCK_AFTER_FAILURES`` failed sign-ins in a row an account is locked for
``LOCK_MINUTES``; the message says so without saying whether the name exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..store.desk import DeskRecords, ReviewerRecord

__all__ = ["VERIFY_AT_ONCE", "LOCK_AFTER_FAILURES", "LOCK_MINUTES", "SESSION_HOURS", "SIGN_IN_FORM_MINUTES",
           "SESSION_COOKIE", "SIGN_IN_COOKIE", "Signed",
           "hash_password", "Sessions", "loopback", "same_token", "new_token", "refused_sign_in_message",
           "MIN_PASSWORD_LENGTH"]

LOCK_AFTER_FAILURES = 5  # failed sign-ins in a row that lock an account
LOCK_MINUTES = 15  # how long a locked account stays locked
SESSION_HOURS = 8  # a session's life: one working day, then sign in again
SIGN_IN_FORM_MINUTES = 60  # how long a sign-in form's token (its cookie) stays good
MIN_PASSWORD_LENGTH = 12  # reviewer add refuses a shorter password
# Argon2 checks run at once in one worker: each takes argon2-cffi's 64 MiB, so a flood of
# sign-ins waits here instead of taking the thread pool's 40 threads' worth of memory.
VERIFY_AT_ONCE = 2
_verifying = threading.BoundedSemaphore(VERIFY_AT_ONCE)
SESSION_COOKIE = "lemtrada_desk"
SIGN_IN_COOKIE = "lemtrada_desk_sign_in"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """The Argon2id hash of a password (salted; the parameters are in the hash)."""
    return _hasher().hash(password)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a CSRF token sent with one held; an absent one never matches."""
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def loopback(scheme: str, host: str | None) -> bool:
    """Plain http on the loopback interface: the only place a cookie may go without Secure."""
    return scheme == "http" and (host or "").strip("[]") in LOOPBACK


def refused_sign_in_message() -> str:
    return (f"The name or password is wrong, or the account is locked: after {LOCK_AFTER_FAILURES} failed sign-ins "
            f"in a row an account is locked for {LOCK_MINUTES} minutes.")


@dataclass(frozen=True)
class Signed:
    """A signed-in reviewer: who, and the session's CSRF token and cookie token digest."""

    reviewer: ReviewerRecord
    csrf: str
    token_digest: str


class Sessions:
    """Sign-in, sessions and sign-out over the desk's records."""

    def __init__(self, records: DeskRecords):
        self.records = records
        self._dummy = None  # a hash to verify against for an unknown name, so both take as long

    def sign_in(self, name: str, password: str) -> tuple[str, Signed] | None:
        """The new session's cookie token and its reviewer, or None (wrong name or password, or locked)."""
        with _verifying:
            return self._sign_in(name, password)

    def _sign_in(self, name: str, password: str) -> tuple[str, Signed] | None:
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = _hasher()
        reviewer = self.records.reviewer(name)
        if reviewer is None:
            self._dummy = self._dummy or hasher.hash(new_token())
            try:
                hasher.verify(self._dummy, password)
            except (VerificationError, InvalidHashError):
                pass
            return None
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        if reviewer.locked_until is not None and reviewer.locked_until > now:
            return None
        try:
            hasher.verify(reviewer.password_hash, password)
        except (VerificationError, InvalidHashError):
            self.records.failed_sign_in(reviewer.id, LOCK_AFTER_FAILURES, timedelta(minutes=LOCK_MINUTES))
            return None
        rehashed = hasher.hash(password) if hasher.check_needs_rehash(reviewer.password_hash) else None
        self.records.signed_in(reviewer.id, rehashed)
        token, csrf = new_token(), new_token()
        self.records.open_session(reviewer.id, _digest(token), csrf, timedelta(hours=SESSION_HOURS))
        return token, Signed(reviewer, csrf, _digest(token))

    def current(self, token: str | None) -> Signed | None:
        """The reviewer of a session cookie's token, if it is a live session."""
        if not token:
            return None
        found = self.records.session(_digest(token))
        return Signed(found[0], found[1], _digest(token)) if found else None

    def sign_out(self, signed: Signed) -> None:
        self.records.close_session(signed.token_digest)
