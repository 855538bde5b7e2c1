"""What a letter needs from the line-of-business data, worked out once: every time limit
with its member wording and, where the letter's own dates fix it, its last day.

Why here and not in the template: a deadline's date depends on what it is counted from
(the date of the letter, the day the request came, the day the member gets the letter),
and only some of those the letter knows. Working that out in one place means a template
prints ``deadline.words`` and ``deadline.date`` and never does arithmetic or picks a
number of its own; each Deadline keeps the Duration it came from (its key and source),
so the reviewer's part can list the source of every deadline the letter states.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from ._data import package_file, read_yaml, validate
from .lob import CountedFrom, Duration, LineOfBusiness, Right


class _Wording(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    counted_from: dict[CountedFrom, str]


@lru_cache(maxsize=None)
def _wording() -> _Wording:
    path = package_file("notices", "wording.yaml")
    wording = validate(_Wording, read_yaml(path), str(path))
    missing = set(CountedFrom.__args__) - set(wording.counted_from)  # type: ignore[attr-defined]
    if missing:
        from .errors import NoticeDataError

        raise NoticeDataError(str(path), [f"counted_from: no words for {', '.join(sorted(missing))}"])
    return wording


@dataclass(frozen=True)
class Deadline:
    """One time limit as a letter states it."""

    duration: Duration
    words: str  # "within 60 days of the date on this letter"
    date: date | None  # the last day, when the letter's dates fix it

    @property
    def key(self) -> str:
        return self.duration.key

    @property
    def time(self) -> str:
        return self.duration.words()


def deadline(duration: Duration, letter_date: date, received: date) -> Deadline:
    start = {"date_of_notice": letter_date, "request_received": received}.get(duration.counted_from)
    words = _wording().counted_from[duration.counted_from].replace("{time}", duration.words())
    return Deadline(duration, words, duration.due(start) if start else None)


@dataclass(frozen=True)
class RightFacts:
    """A right beyond the plan's appeal, with its filing deadline worked out."""

    right: Right
    filing: Deadline | None

    @property
    def available(self) -> bool | str:
        return self.right.available


def notice_facts(rules: LineOfBusiness, letter_date: date, received: date) -> dict[str, Any]:
    """The letter's context from one line of business: deadlines, rights, required elements."""

    def dl(duration: Duration) -> Deadline:
        return deadline(duration, letter_date, received)

    def right(r: Right) -> RightFacts:
        return RightFacts(r, dl(r.filing_limit) if r.filing_limit else None)

    deadlines = {
        "appeal_filing": dl(rules.appeal.filing_limit),
        "appeal_standard": dl(rules.appeal.standard_decision),
        "appeal_expedited": dl(rules.appeal.expedited_decision),
        "decision_standard": dl(rules.initial_decision.standard),
        "decision_expedited": dl(rules.initial_decision.expedited),
        "records_due": dl(rules.pend.information_due),
    }
    rights = {
        "fair_hearing": right(rules.fair_hearing),
        "continuation": right(rules.continuation_of_benefits),
        "external_review": right(rules.external_review),
    }
    return {
        "rules": rules,
        **deadlines,
        **rights,
        "who_may_appeal": rules.appeal.who_may_appeal.value,
        "how_to_ask": rules.appeal.how_to_ask.value,
        "requires": {kind: [e.id for e in rules.requires(kind)] for kind in ("deny", "pend", "approve")},
        "sources": deadline_sources(rules),
        "unverified": sorted(path for path, s in rules.sources() if s.checked == "unverified"),
    }


def deadline_sources(rules: LineOfBusiness) -> list[tuple[str, str, str]]:
    """(value, '60 calendar days (42 CFR 422.582(b))', how checked) for every time limit."""
    return sorted((d.key, d.formal(), d.source.checked) for d in rules.durations())
