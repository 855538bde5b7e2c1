"""The rules of each line of business, as data: lob/<id>.yaml, one file per line of business.

Why data and not template text: appeal windows, decision times, fair hearings and
external review differ between Medicare Advantage, Medicaid managed care, employer
(ERISA) plans and commercial/exchange coverage, and they change by rulemaking. A
letter states a deadline only by reading one named value here (``Duration.key``), and
every value carries the regulation that states it and how far that was checked
(``Source.checked``), so a reviewer can see which numbers still need a lawyer's eye.

The case selects its file by ``coverage.line_of_business``; a case that does not say
gets ``default.yaml``, which says plainly what it is (the shortest filing window and
the longest decision times of the other files, so acting on it is never late and it
never promises more than a plan must give).
"""

from __future__ import annotations

import copy
import math
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from ._data import package_file, read_yaml, validate
from .errors import NoticeDataError

DEFAULT = "default"

Checked = Literal["verified", "corroborated", "unverified", "derived", "plan_setting"]
Unit = Literal["calendar_days", "hours", "months"]
CountedFrom = Literal[
    "date_of_notice", "receipt_of_notice", "request_received", "appeal_received", "appeal_decision_notice", "final_appeal_decision_notice"
]
Notice = Literal["deny", "pend", "approve"]

# What a notice can be required to carry. The letter tests check each one a line of
# business requires, so a new id here needs its check (tests/test_notice_letters.py).
ELEMENTS: dict[str, str] = {
    "decision": "what was decided about the request",
    "member_identification": "the member's name and ID, the request's reference",
    "plan_contact": "the plan's name, phone, TTY and appeal address",
    "specific_reasons": "each specific reason, in terms of the member's own facts",
    "criteria_relied_on": "the rule, guideline or criterion relied on, by name and source",
    "free_copies": "the right to free copies of the criteria and of every document relevant to the decision",
    "missing_information": "what information is missing and why it is needed",
    "information_due_date": "the date by which the missing information is needed",
    "appeal_right": "the right to appeal and how to ask",
    "appeal_filing_limit": "the time limit for asking for an appeal",
    "appeal_decision_time": "how long the plan has to decide a standard appeal",
    "expedited_appeal": "the right to a fast (expedited) appeal, when it applies and its time limit",
    "who_may_appeal": "who may appeal on the member's behalf (representative, doctor)",
    "next_level_review": "the review outside the plan that follows (independent review entity, external review)",
    "fair_hearing": "the right to a State fair hearing, when and by when to ask",
    "continuation_of_benefits": "the right to keep benefits during the appeal, when it applies and how to ask",
    "civil_action": "the right to bring a civil action under ERISA section 502(a) after the appeal",
    "consumer_assistance": "how to reach the consumer assistance program or ombudsman",
    "codes_on_request": "that the diagnosis and treatment codes and their meanings are available on request",
    "authorized_service": "the authorisation number, the authorised course and its validity period",
    "language_assistance": "free language help, with taglines in the languages the plan must carry",
    "nondiscrimination": "the notice of nondiscrimination",
}
ElementId = Literal[tuple(ELEMENTS)]  # type: ignore[valid-type]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Source(_Model):
    """Where a value comes from, and how far it was checked.

    verified      the cited text itself was read (``checked_against`` names the copy);
    corroborated  the number was read in related text (another paragraph of the same rule,
                  an agency's guidance), not in the cited paragraph itself;
    unverified    the cited text could not be read here: ``note`` says what is known;
    derived       computed from the other files (``note`` says how; a test checks it);
    plan_setting  no regulation sets it: the plan decides (``note`` says so).
    """

    cite: str = Field(min_length=1)
    says: str = Field(min_length=1)
    checked: Checked
    checked_against: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _says_how_checked(self) -> "Source":
        if self.checked in ("verified", "corroborated") and not self.checked_against:
            raise ValueError(f"checked: {self.checked} needs checked_against, the text that was read")
        if self.checked in ("unverified", "derived", "plan_setting") and not self.note:
            raise ValueError(f"checked: {self.checked} needs a note saying what is and is not known")
        return self


class Duration(_Model):
    """A time limit: an amount, its unit, what it is counted from, and its source.

    ``key`` is the dotted name of the value in its file (``appeal.filing_limit``), set by
    the loader, so a letter and its tests can say which one data value a deadline is.
    """

    amount: StrictInt = Field(gt=0, le=1000)
    unit: Unit
    counted_from: CountedFrom
    source: Source
    key: str = ""

    def words(self) -> str:
        """'60 days', '72 hours', '4 months': how the member part states it."""
        unit = {"calendar_days": "day", "hours": "hour", "months": "month"}[self.unit]
        return f"{self.amount} {unit}{'' if self.amount == 1 else 's'}"

    def formal(self) -> str:
        """'60 calendar days (42 CFR 422.582(b))': how the reviewer's part states it."""
        unit = self.unit.replace("_", " ")
        return f"{self.amount} {unit if self.amount != 1 else unit.rstrip('s')} ({self.source.cite})"

    def due(self, start: date) -> date:
        """The last day, counting from ``start``; hours round up to whole days, and
        months are calendar months (the day of the month is kept, or the month's last)."""
        if self.unit == "calendar_days":
            return start + timedelta(days=self.amount)
        if self.unit == "hours":
            return start + timedelta(days=math.ceil(self.amount / 24))
        month = start.month - 1 + self.amount
        year, month = start.year + month // 12, month % 12 + 1
        for day in range(start.day, 27, -1):
            try:
                return date(year, month, day)
            except ValueError:
                continue
        return date(year, month, min(start.day, 28))


class Listed(_Model):
    """A list in the member's words (who may appeal: "you", "your doctor ...")."""

    value: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    source: Source


class Text(_Model):
    """A sentence in the member's words (how to ask for an appeal)."""

    value: str = Field(min_length=1)
    source: Source


class Right(_Model):
    """A right beyond the plan's own appeal: State fair hearing, continuation of
    benefits, review outside the plan. ``available: false`` is a stated fact with a
    source too (Medicare has no State fair hearing), not a missing value;
    ``available: depends`` is the default file's honest answer when the line of
    business is not known (``applies_when`` says on what). ``name`` and ``applies_when``
    are in the member's words, with their article ("a State fair hearing"): the letter
    prints them."""

    available: StrictBool | Literal["depends"]
    name: str | None = None
    applies_when: str | None = None
    automatic: StrictBool = False
    filing_limit: Duration | None = None
    decision: Duration | None = None
    source: Source

    @model_validator(mode="after")
    def _named_when_available(self) -> "Right":
        if self.available is not False and not self.name:
            raise ValueError("a right that is or may be available needs its name (what the letter calls it)")
        if self.available is True and not self.automatic and self.filing_limit is None:
            raise ValueError("an available right the member must ask for needs its filing_limit")
        if self.available == "depends" and not self.applies_when:
            raise ValueError('available: depends needs applies_when (what it depends on)')
        return self


class Appeal(_Model):
    formal_name: str = Field(min_length=1)
    filing_limit: Duration
    standard_decision: Duration
    expedited_decision: Duration
    who_may_appeal: Listed
    how_to_ask: Text


class InitialDecision(_Model):
    standard: Duration
    expedited: Duration


class Pend(_Model):
    information_due: Duration


class Element(_Model):
    id: ElementId
    notices: Annotated[list[Notice], Field(min_length=1)]
    source: Source


class LineOfBusiness(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    appeal: Appeal
    initial_decision: InitialDecision
    pend: Pend
    fair_hearing: Right
    continuation_of_benefits: Right
    external_review: Right
    required_elements: Annotated[list[Element], Field(min_length=1)]
    # What the reviewer must know about this plan type's notices that the letter cannot do
    # itself (a form CMS prescribes, a State's own template); printed in the reviewer part.
    reviewer_note: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _elements_once(self) -> "LineOfBusiness":
        ids = [e.id for e in self.required_elements]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"required_elements lists {', '.join(twice)} more than once")
        return self

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT

    def requires(self, notice: str) -> list[Element]:
        """The elements a notice of this kind (deny, pend, approve) must carry."""
        return [e for e in self.required_elements if notice in e.notices]

    def durations(self) -> Iterator[Duration]:
        """Every time limit in the file, each once (a same_as copy is not a second value)."""
        seen: set[str] = set()
        for value in _walk(self):
            if isinstance(value, Duration) and value.key not in seen:
                seen.add(value.key)
                yield value

    def sources(self) -> Iterator[tuple[str, Source]]:
        """Every source in the file with the dotted name of the value it backs."""
        for path, value in _walk_paths(self, ""):
            if isinstance(value, Source):
                yield path.rsplit(".source", 1)[0], value


def _walk(model: BaseModel) -> Iterator[Any]:
    for _, value in _walk_paths(model, ""):
        yield value


def _walk_paths(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk_paths(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk_paths(item, f"{path}[{i}]")


# --- loading ---------------------------------------------------------------------------


def lob_folder() -> Path:
    return package_file("notices", "lob")


@lru_cache(maxsize=None)
def load_all(folder: str | None = None) -> dict[str, LineOfBusiness]:
    """Every line of business in ``folder`` (the shipped lob/ by default), by id."""
    where = Path(folder) if folder else lob_folder()
    files = sorted(where.glob("*.yaml"))
    found = {path.stem: load_file(path) for path in files}
    if DEFAULT not in found:
        raise NoticeDataError(str(where), [f"no {DEFAULT}.yaml: the rules used when a case does not say its line of business"])
    return found


def ids(folder: str | None = None) -> list[str]:
    """The values ``coverage.line_of_business`` may take (every file but the default)."""
    return [i for i in load_all(folder) if i != DEFAULT]


def select(line_of_business: str | None, folder: str | None = None) -> LineOfBusiness:
    """The rules for a case: its line of business, or the default when it does not say."""
    every = load_all(folder)
    if line_of_business is None:
        return every[DEFAULT]
    if line_of_business == DEFAULT or line_of_business not in every:
        known = ", ".join(i for i in every if i != DEFAULT)
        raise NoticeDataError(
            "coverage.line_of_business",
            [f"expected one of {known}, got {line_of_business!r}"],
        )
    return every[line_of_business]


def load_file(path: Path) -> LineOfBusiness:
    """One file, with every problem reported as ``file: field: what was expected``."""
    source = str(path)
    raw = read_yaml(path)
    if raw.get("id") != path.stem:
        raise NoticeDataError(source, [f"id: expected {path.stem!r} (the file's name), got {raw.get('id')!r}"])
    data = _resolve(copy.deepcopy(raw), source)
    _set_keys(data, "")
    return validate(LineOfBusiness, data, source)


def _resolve(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Replace ``{same_as: appeal.filing_limit}`` by that value, keeping its key, so two
    places that must state the same deadline read one value, not two copies."""

    def lookup(path: str) -> Any:
        node: Any = data
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise NoticeDataError(source, [f"same_as: {path!r} names no value in this file"])
            node = node[part]
        if isinstance(node, dict) and "same_as" in node:
            raise NoticeDataError(source, [f"same_as: {path!r} is itself a same_as; name the value it copies"])
        return node

    def visit(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            if set(node) == {"same_as"} and isinstance(node["same_as"], str):
                target = copy.deepcopy(lookup(node["same_as"]))
                if isinstance(target, dict):
                    target["key"] = node["same_as"]
                return target
            return {k: visit(v, f"{path}.{k}" if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [visit(v, f"{path}[{i}]") for i, v in enumerate(node)]
        return node

    return visit(data, "")


def _set_keys(node: Any, path: str) -> None:
    """Give every time limit its dotted name (unless same_as already named its origin)."""
    if isinstance(node, dict):
        if "amount" in node and "unit" in node and "key" not in node:
            node["key"] = path
        for k, v in node.items():
            if k != "key":
                _set_keys(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _set_keys(v, f"{path}[{i}]")
