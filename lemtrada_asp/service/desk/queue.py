"""What the queue shows of a pended request: why it waits, and the clock it runs on.

Why the clock comes from the line-of-business data: the time a plan has to decide a
prior authorisation differs by plan type (CMS-0057-F gives Medicare Advantage,
Medicaid and CHIP managed care 72 hours expedited and 7 calendar days standard;
a Part B drug under Medicare Advantage 24 and 72 hours; ERISA and commercial plans
72 hours and 15 days) and changes by rulemaking, so each is one named value with
its source in notices/lob/*.yaml (``initial_decision.standard`` / ``.expedited``),
chosen by the case's ``coverage.line_of_business``; the Claim's ``priority``
(``stat``: expedited) chooses between the two. Nothing here restates a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ...notices import lob
from ..pas.responses import was_human_reviewed as human_reviewed
from ..store import Stored
from ..store.desk import Queued

__all__ = ["REASONS", "Clock", "QueueEntry", "reason_of", "clock_of", "entry", "EXPEDITED_PRIORITY"]

# why a request is pended -> how the desk names it (the filter's values, in this order)
REASONS = {
    "denial_recommended": "denial recommended",
    "information": "documentation needed",
    "case_by_case": "case by case (third course or later)",
    "state_mandate": "state step-therapy law",
    "records_asked": "records asked by a reviewer",
}
EXPEDITED_PRIORITY = "stat"  # Claim.priority (processpriority) that asks for an expedited decision


@dataclass(frozen=True)
class Clock:
    """The decision time a request runs on: which value, how long, its source, when it is due."""

    kind: str  # expedited | standard
    key: str  # the value's dotted name in its lob file, e.g. initial_decision.standard
    line_of_business: str
    plan_type: str  # the line of business's name, e.g. "Medicaid managed care"
    words: str  # "72 hours"
    cite: str
    due: datetime  # naive UTC

    def left(self, now: datetime | None = None) -> timedelta:
        now = now or datetime.now(timezone.utc).replace(tzinfo=None)
        return self.due - now

    def left_words(self, now: datetime | None = None) -> str:
        """"31 h left" or "overdue by 2 h": whole hours, rounded towards the deadline."""
        seconds = self.left(now).total_seconds()
        hours = int(abs(seconds) // 3600)
        if seconds >= 0:
            return f"{hours // 24} d {hours % 24} h left" if hours >= 48 else f"{hours} h left"
        return f"overdue by {hours // 24} d {hours % 24} h" if hours >= 48 else f"overdue by {hours} h"


@dataclass(frozen=True)
class QueueEntry:
    queued: Queued
    reason: str
    clock: Clock

    @property
    def stored(self):
        return self.queued.stored


def reason_of(stored: Stored) -> str:
    """The queue's reason for a pended request: a reviewer's request for records (its answer is then
    human-reviewed), else its pend reason, or a denial the program recommends."""
    decision = stored.decision
    if human_reviewed(stored.answer):
        return "records_asked"
    if not decision:
        return "information"
    if decision.get("decision") == "deny":
        return "denial_recommended"
    return decision.get("pend_reason") or "information"


def _span(duration: lob.Duration) -> timedelta:
    if duration.unit == "hours":
        return timedelta(hours=duration.amount)
    if duration.unit == "calendar_days":
        return timedelta(days=duration.amount)
    raise ValueError(f"{duration.key}: a decision time in {duration.unit} is not a clock the desk can run")


def clock_of(queued: Queued) -> Clock:
    """The decision time of a request, counted from when the server received it."""
    stored = queued.stored
    coverage = (stored.case or {}).get("coverage") or {}
    rules = lob.select(coverage.get("line_of_business"))
    claim = (stored.bundle or {}).get("entry", [{}])[0].get("resource") or {}
    codes = [c.get("code") for c in ((claim.get("priority") or {}).get("coding") or [])]
    kind = "expedited" if EXPEDITED_PRIORITY in codes else "standard"
    duration = getattr(rules.initial_decision, kind)
    return Clock(kind, duration.key, rules.id, rules.name, duration.words(), duration.source.cite,
                 queued.received_at + _span(duration))


def entry(queued: Queued) -> QueueEntry:
    return QueueEntry(queued, reason_of(queued.stored), clock_of(queued))
