"""The case format, version 1 (README, "Case format"; fields declared in schema.py), as pydantic models.

Absent and empty are different facts in this format ("not documented" versus
"documented: none"), so every optional field defaults to None, never to [] or False.
Booleans and numbers are strict: "yes" or "12" in a case file is a typo to report,
not a value to guess at.
"""

from __future__ import annotations

from datetime import date
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
from .plain import CaseMethods, from_model
from .schema import FIELDS, LINES_OF_BUSINESS  # noqa: F401 - LINES_OF_BUSINESS re-exported
from .values import (  # noqa: F401 - re-exported: the case format's values
    CODE_MAX, DMT_ALIASES, ID_PATTERN, OTHER_NAMES, PLACEHOLDERS, TEXT_MAX, US_STATES, normal_code, placeholder_form, says_none,
)
from .values import code as _code, documented_item as _documented_item, drug as _drug, enum_key as _enum_key
from .values import iso_date as _iso_date, plain_text as _plain_text, positive_number as _positive_number, state as _state

Drug = Annotated[str, BeforeValidator(_drug)]
Day = Annotated[date, BeforeValidator(_iso_date)]


def Enum(*values: str) -> Any:  # noqa: N802 - a type
    """One of values, written in any case, with spaces or hyphens for underscores."""
    return Annotated[Literal[values], BeforeValidator(_enum_key)]


Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX), AfterValidator(_plain_text)]
DocumentedItem = Annotated[Text, AfterValidator(_documented_item)]
Code = Annotated[str, Field(min_length=1, max_length=CODE_MAX), AfterValidator(_plain_text), AfterValidator(_code)]
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
    consecutive: StrictBool = FIELDS["request.consecutive"].default
    diagnosis_codes: _bounded(Code) | None = None


class Member(_Strict):
    birth_date: Day | None = None
    state: State | None = None
    # Extension of case format v1 (README, "Notices"): identifiers the notice prints;
    # no rule reads them.
    id: Text | None = None
    name: Text | None = None




class Coverage(_Strict):
    """Extension of case format v1: which rules of appeal apply (the notice's line of
    business) and which plan's settings (name, phone, appeal address) the notice uses."""

    line_of_business: Literal[LINES_OF_BUSINESS] | None = None  # type: ignore[valid-type]
    plan_id: Text | None = None


class Prescriber(_Strict):
    specialty: Enum(*FIELDS["prescriber.specialty"].choices) | None = None
    consultation_with_specialist: StrictBool | None = None


class Diagnosis(_Strict):
    condition: Text | None = None
    ms_course: Enum(*FIELDS["diagnosis.ms_course"].choices) | None = None
    active: StrictBool | None = None


class DmtTrial(_Strict):
    drug: Drug
    outcome: Enum(*FIELDS["dmt_history[].outcome"].choices)


class LemtradaCourse(_Strict):
    start_date: Day
    days: PositiveInt


class Response(_Strict):
    objective: _bounded(Enum(*FIELDS["response.objective[]"].choices)) | None = None
    symptoms: _bounded(Enum(*FIELDS["response.symptoms[]"].choices)) | None = None




class Case(CaseMethods, _Strict):
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


def pydantic_case(data: Any, source: str, case_id: str | None) -> Any:
    """The case as pydantic validates it (as plain objects, plain.py), or CaseValidationError
    worded from pydantic's errors: validation.py asks here when the fast path is not sure."""
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise CaseValidationError(source, capped([_problem(e) for e in exc.errors()]), case_id) from None
    return from_model(case)


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


from .validation import validate_case  # noqa: E402, F401 - re-exported: the validation every caller uses
