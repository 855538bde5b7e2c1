"""The case format, version 1 (README, "Case format"; fields declared in schema.py), as pydantic models.

Absent and empty are different facts in this format ("not documented" versus
"documented: none"), so every optional field defaults to None, never to [] or False.
Booleans and numbers are strict: "yes" or "12" in a case file is a typo to report,
not a value to guess at.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidationError,
)

from ..engine.errors import CaseValidationError, Problem
from ..engine.limits import (  # noqa: F401 - the case format's limits, re-exported
    MAX_DIGITS,
    MAX_LIST_ITEMS,
    MAX_NESTING,
    MAX_PROBLEMS,
    RefusedNumber,
    capped,
    field_path,
    shape_problems,
    show,
)
from .dates import last_dose

# Known DMTs: canonical name -> accepted aliases (case-insensitive), from the case format.
DMT_ALIASES: dict[str, tuple[str, ...]] = {
    "natalizumab": ("tysabri", "tyruko"),
    "dimethyl_fumarate": ("tecfidera",),
    "fingolimod": ("gilenya",),
    "teriflunomide": ("aubagio",),
    "ocrelizumab": ("ocrevus",),
    "ofatumumab": ("kesimpta",),
    "ublituximab": ("briumvi",),
    "cladribine": ("mavenclad",),
    "siponimod": ("mayzent",),
    "ozanimod": ("zeposia",),
    "ponesimod": ("ponvory",),
    "diroximel_fumarate": ("vumerity",),
    "monomethyl_fumarate": ("bafiertam",),
    "interferon_beta": ("avonex", "rebif", "betaseron", "plegridy"),
    "glatiramer_acetate": ("copaxone", "glatopa"),
    "mitoxantrone": (),
}
# Names accepted beside the brand names: a biosimilar's nonproprietary name with its
# four-letter suffix (natalizumab-sztn is Tyruko, the case format's alias of natalizumab).
OTHER_NAMES: dict[str, str] = {"natalizumab_sztn": "natalizumab"}
_DRUG_LOOKUP = {name: name for name in DMT_ALIASES} | OTHER_NAMES | {
    alias: name for name, aliases in DMT_ALIASES.items() for alias in aliases
}
_LEMTRADA = {"alemtuzumab", "lemtrada"}

# Two-letter codes of US states, DC and territories (USPS).
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
    "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC "
    "PR GU VI AS MP".split()
)

TEXT_MAX = 200  # the case format: free text of 1-200 characters

def _drug(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a drug name (a string)")
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    if key in _LEMTRADA:
        raise ValueError("alemtuzumab (Lemtrada) is the drug requested; it is never a prior or concurrent DMT")
    if key not in _DRUG_LOOKUP:
        raise ValueError(
            f"unknown drug {show(value)}; expected one of {', '.join(DMT_ALIASES)} (brand names accepted)"
        )
    return _DRUG_LOOKUP[key]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    # YAML gives date objects; JSON gives strings. Pydantic alone would also take
    # an integer as a Unix timestamp, which in a case file is always a mistake.
    if isinstance(value, datetime):
        raise ValueError(f"expected a date as YYYY-MM-DD without a time of day, got {value.isoformat(' ')}")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected a real calendar date as YYYY-MM-DD, got {value!r}") from None
    raise ValueError(f"expected a date as YYYY-MM-DD, got {show(value)}")


def _state(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a two-letter US state code, got {show(value)}")
    code = value.strip().upper()
    if code not in US_STATES:
        raise ValueError(f"expected a two-letter US state code, got {show(value)}")
    return code


def _positive_number(value: Any) -> int | float:
    # One check instead of pydantic's int|float union, which reports each branch.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    if value <= 0:
        raise ValueError(f"expected a number greater than 0, got {value!r}")
    return value


Drug = Annotated[str, BeforeValidator(_drug)]
Day = Annotated[date, BeforeValidator(_iso_date)]
def _plain_text(value: str) -> str:
    # clingo strings end at a NUL byte: "multiple_sclerosis\0x" would reach the
    # solver as "multiple_sclerosis". So NUL is refused, not passed on.
    if "\x00" in value:
        raise ValueError("text must not contain a NUL character")
    if not value.strip():
        raise ValueError("expected text, got only white space")
    return value


# Entries that say there is nothing to document, normalised (case format, "Entries that
# say none"). A dash of any kind and an empty entry normalise to "" and are caught too.
PLACEHOLDERS = frozenset({
    "none", "none known", "no", "nil", "na", "n a", "not applicable", "negative", "no infection",
    "no infections", "no active infection", "no active infections", "denies", "unknown",
})


def _without_format(value: str) -> str:
    """The text without Unicode format characters (category Cf, e.g. a zero-width space)."""
    return "".join(c for c in value if unicodedata.category(c) != "Cf")


def placeholder_form(value: str) -> str:
    """An entry as the case format compares it with PLACEHOLDERS: NFKC, format characters
    removed, case-folded, punctuation and brackets (Unicode P*) made spaces, runs of spaces
    one, trimmed. So "None.", "(none)", "N/A", "N.A." and "—" are "none", "none", "n a",
    "n a" and "".

    >>> placeholder_form(" (None) ")
    'none'
    """
    text = _without_format(unicodedata.normalize("NFKC", value)).casefold()
    text = "".join(" " if _punctuation(c) else c for c in text)
    return " ".join(text.split())


def _punctuation(char: str) -> bool:
    """Punctuation and brackets (Unicode P*), and any dash-like sign (a minus sign, a
    box-drawing line), so that a dash of any kind is an entry that says none."""
    if unicodedata.category(char).startswith("P"):
        return True
    name = unicodedata.name(char, "")
    return any(word in name for word in ("DASH", "HYPHEN", "MINUS", "HORIZONTAL LINE", "HORIZONTAL BAR"))


def says_none(value: str) -> bool:
    """Whether a documented entry says there is nothing to document (or nothing at all)."""
    form = placeholder_form(value)
    return not form or form in PLACEHOLDERS


def _documented_item(value: str) -> str:
    # "None." in a list of documented infections would be read as an infection named
    # "None.": the case format makes it an input error, so the list is left empty instead.
    if says_none(value):
        raise ValueError(
            f"{show(value)} says there is none (a placeholder, not a documented item); "
            "leave the list empty ([]) when there is none"
        )
    return value


def normal_code(code: str) -> str:
    """A diagnosis code as criteria.md "Codes" normalises it: NFKC, format characters
    (Cf, e.g. a zero-width space) removed, trimmed, upper-cased, and the undotted claim
    form given its dot after the third character (G35A is G35.A).

    >>> normal_code(" g35a\u200b")
    'G35.A'
    """
    code = _without_format(unicodedata.normalize("NFKC", code)).strip().upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    return code


_CODE_CHARACTERS = re.compile(r"[A-Z0-9.]+")


def _code(value: str) -> str:
    # A look-alike letter from another script (Cyrillic А in G35.А) would make a code that
    # fails B1 although the prescriber meant G35.A: criteria.md "Codes" makes it an input error.
    if says_none(value):  # "None" would be code NON.E, failing B1: a denial on an entry that says none
        raise ValueError(
            f"{show(value)} says there is none (a placeholder, not a code); leave the list empty ([]) when there is none"
        )
    normal = normal_code(value)
    if not _CODE_CHARACTERS.fullmatch(normal):
        odd = sorted({c for c in normal if not _CODE_CHARACTERS.fullmatch(c)})
        named = ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed')}" for c in odd[:3])
        raise ValueError(
            f"{show(value)} is not an ICD-10 code: after normalising it still holds {named}; "
            "a code is written with the letters A-Z, the digits 0-9 and '.'"
        )
    return value


def _enum_key(value: Any) -> Any:
    # Every enumerated value is case-insensitive, as drug names are ("Neurology", "FAILED").
    if isinstance(value, str):
        return value.strip().lower().replace(" ", "_").replace("-", "_")
    return value


def Enum(*values: str) -> Any:  # noqa: N802 - a type
    """One of values, written in any case, with spaces or hyphens for underscores."""
    return Annotated[Literal[values], BeforeValidator(_enum_key)]


Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX), AfterValidator(_plain_text)]
DocumentedItem = Annotated[Text, AfterValidator(_documented_item)]
Code = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_plain_text), AfterValidator(_code)]
State = Annotated[str, BeforeValidator(_state)]
PositiveNumber = Annotated[int | float, PlainValidator(_positive_number)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]


def choices(model: type[BaseModel], name: str) -> tuple[str, ...]:
    """The values an enumerated field takes (of a list field, its entries'), in the model's order.

    >>> choices(DmtTrial, "outcome")
    ('failed', 'intolerant', 'contraindicated', 'effective')
    """

    def literal(annotation: Any) -> tuple[str, ...]:
        if get_origin(annotation) is Literal:
            return get_args(annotation)
        for inner in get_args(annotation):
            found = literal(inner)
            if found:
                return found
        return ()

    found = literal(model.model_fields[name].annotation)
    if not found:
        raise ValueError(f"{model.__name__}.{name} is not an enumerated field")
    return found


def _bounded(item: Any) -> Any:
    """A list of at most MAX_LIST_ITEMS entries; pydantic refuses a longer one before reading it."""
    return Annotated[list[item], Field(max_length=MAX_LIST_ITEMS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(_Strict):
    date: Day
    start_date: Day | None = None
    dose_mg_per_day: PositiveNumber
    days: PositiveInt
    # Whether the infusion days are consecutive calendar days (case-format.md); the policy
    # asks for "5 consecutive days" / "3 consecutive days", so false fails I7 and C4.
    consecutive: StrictBool = True
    diagnosis_codes: _bounded(Code) | None = None


class Member(_Strict):
    birth_date: Day | None = None
    state: State | None = None
    # Extension of case format v1 (README, "Notices"): identifiers the notice prints;
    # no rule reads them.
    id: Text | None = None
    name: Text | None = None


# The lines of business of lemtrada_asp/notices/lob/*.yaml (a test checks they match).
LINES_OF_BUSINESS = ("commercial", "erisa", "medicaid", "medicare_advantage")


class Coverage(_Strict):
    """Extension of case format v1: which rules of appeal apply (the notice's line of
    business) and which plan's settings (name, phone, appeal address) the notice uses."""

    line_of_business: Literal[LINES_OF_BUSINESS] | None = None  # type: ignore[valid-type]
    plan_id: Text | None = None


class Prescriber(_Strict):
    specialty: Enum("neurology", "ms_specialist", "other") | None = None
    consultation_with_specialist: StrictBool | None = None


class Diagnosis(_Strict):
    condition: Text | None = None
    ms_course: Enum("relapsing_remitting", "secondary_progressive", "primary_progressive", "unspecified") | None = None
    active: StrictBool | None = None


class DmtTrial(_Strict):
    drug: Drug
    outcome: Enum("failed", "intolerant", "contraindicated", "effective")


class LemtradaCourse(_Strict):
    start_date: Day
    days: PositiveInt


class Response(_Strict):
    objective: _bounded(
        Enum("mri_activity_reduced", "disability_improved_or_stable", "relapse_rate_reduced", "fatigue_or_walking_improved")
    ) | None = None
    symptoms: _bounded(
        Enum("motor_function", "fatigue", "vision", "bowel_bladder", "spasticity", "walking_gait", "pain_numbness_tingling")
    ) | None = None


ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,200}")


class Case(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]
    request: Request
    member: Member | None = None
    coverage: Coverage | None = None
    prescriber: Prescriber | None = None
    chart_date: Day | None = None
    diagnosis: Diagnosis | None = None
    dmt_history: _bounded(DmtTrial) | None = None
    concurrent_dmts: _bounded(Drug) | None = None
    hiv_positive: StrictBool | None = None
    active_infections: _bounded(DocumentedItem) | None = None
    lemtrada_courses: _bounded(LemtradaCourse) | None = None
    response: Response | None = None

    # --- what the rules need, derived once ---------------------------------
    @property
    def planned_start(self) -> date:
        return self.request.start_date or self.request.date

    def last_course(self) -> tuple[int, LemtradaCourse] | None:
        """The prior course with the latest last day (criteria.md, C3: the last dose is the
        latest last day over all prior courses, not the last day of the latest-starting
        course). Prior courses never overlap in a valid case, so it is also the one that
        started last; on a tie (only in a case not yet validated) the later-listed one."""
        courses = list(enumerate(self.lemtrada_courses or []))
        return max(courses, key=lambda ic: (last_dose(ic[1].start_date, ic[1].days), ic[0])) if courses else None

    def running_course(self) -> tuple[int, LemtradaCourse] | None:
        """The prior course still running on the request date (its last day on or after it), if any."""
        last = self.last_course()
        if last and last_dose(last[1].start_date, last[1].days) >= self.request.date:
            return last
        return None


def validate_case(data: Any, source: str) -> Case:
    """Validate one parsed case; raise CaseValidationError naming every bad field."""
    case_id = _echoable_id(data)
    if not isinstance(data, dict):
        raise CaseValidationError(source, [Problem("", f"expected a case object (a mapping), got {_kind(data)}")], case_id)
    problems = shape_problems(data)
    if problems:
        raise CaseValidationError(source, capped(problems), case_id)
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise CaseValidationError(source, capped([_problem(e) for e in exc.errors()]), case_id) from None
    problems = _cross_field_problems(case)
    if problems:
        raise CaseValidationError(source, capped(problems), case.id)
    return case


def _echoable_id(data: Any) -> str | None:
    # An invalid case's id is echoed in its error object only if it is a valid id:
    # a megabyte of text or a NUL in "case_id" would be the error repeating the attack.
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and ID_PATTERN.fullmatch(found) else None


def _cross_field_problems(case: Case) -> list[Problem]:
    received = case.request.date
    problems: list[Problem] = []
    if case.request.start_date is not None and case.request.start_date < received:
        problems.append(Problem("request.start_date", f"{case.request.start_date} is before request.date {received}"))
    if case.chart_date is not None and case.chart_date > received:
        problems.append(Problem("chart_date", f"{case.chart_date} is after request.date {received}"))
    if case.member and case.member.birth_date and case.member.birth_date > received:
        problems.append(Problem("member.birth_date", f"{case.member.birth_date} is after request.date {received}"))
    first_listed: dict[tuple[date, int], int] = {}
    for i, course in enumerate(case.lemtrada_courses or []):
        same = first_listed.setdefault((course.start_date, course.days), i)
        if same != i:
            problems.append(Problem(
                f"lemtrada_courses[{i}]",
                f"the same course as lemtrada_courses[{same}] (start_date {course.start_date}, days {course.days}); list each course once",
            ))
        if course.start_date > received:
            problems.append(Problem(f"lemtrada_courses[{i}].start_date", f"{course.start_date} is after request.date {received}"))
        try:
            last_dose(course.start_date, course.days)
        except OverflowError:
            problems.append(Problem(f"lemtrada_courses[{i}].days", "the course would end past the last representable date"))
    if not any(p.field.startswith("lemtrada_courses") for p in problems):
        problems += _overlapping_courses(case.lemtrada_courses or [])
    return problems


def _overlapping_courses(courses: list[LemtradaCourse]) -> list[Problem]:
    """Two prior courses that overlap (one starts on or before the other's last day): an
    input error naming both entries (case format, "Input errors"), since the last dose
    could then be read from either. Each later-starting course is checked against the
    earlier one that ends last, so n courses cost n log n."""
    problems: list[Problem] = []
    order = sorted(range(len(courses)), key=lambda i: (courses[i].start_date, i))
    reach: int | None = None  # the course, among those started so far, with the latest last day
    for i in order:
        course = courses[i]
        if reach is not None:
            earlier = courses[reach]
            until = last_dose(earlier.start_date, earlier.days)
            if course.start_date <= until:
                first, second = sorted((reach, i))
                problems.append(Problem(
                    f"lemtrada_courses[{second}]",
                    f"overlaps lemtrada_courses[{first}]: the course starting {course.start_date} begins on or before "
                    f"{until}, the last day of the course starting {earlier.start_date} ({earlier.days} days); "
                    "two prior courses cannot overlap (list each course once, with its own days)",
                ))
        if reach is None or last_dose(course.start_date, course.days) > last_dose(courses[reach].start_date, courses[reach].days):
            reach = i
    return problems


def _problem(error: dict) -> Problem:
    path = field_path(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (not in the case format; check its spelling)"
    elif error["type"] == "missing":
        message = "required field is missing"
    elif error["type"] == "too_long" and isinstance(error.get("input"), list):
        message = f"expected at most {MAX_LIST_ITEMS} entries (this tool's limit), got {len(error['input']):,}"
    elif "input" in error and error["type"] not in ("value_error",):
        message += f" (got {show(error['input'])})"
    return Problem(path, message)


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "nothing"}.get(type(value), type(value).__name__)
