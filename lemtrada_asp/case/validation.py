"""Validating one parsed case: the fast path first, pydantic when it is not sure.

``validate_case`` is what the case model's validate hook (case/__init__.py) and every
caller use. A valid case is checked by the generated fast path (fast.py) without
importing pydantic; anything the fast path cannot vouch for goes to the pydantic model
(model.py), which words the error exactly as it always has. The checks that span
fields (dates against the request date, prior courses) run on the validated case here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..engine.errors import CaseValidationError, Problem
from ..engine.limits import capped, shape_problems
from .dates import last_dose
from .fast import fast_case
from .values import ID_PATTERN

__all__ = ["validate_case"]


def validate_case(data: Any, source: str) -> Any:
    """Validate one parsed case; raise CaseValidationError naming every bad field."""
    # A case the fast path accepts holds only the schema's own values, three levels deep at
    # most: the shape check (nesting, refused numbers) could find nothing in it, so it runs
    # only before pydantic, on a case the fast path is not sure of.
    case = fast_case(data)
    if case is None:
        case_id = _echoable_id(data)
        if not isinstance(data, dict):
            raise CaseValidationError(source, [Problem("", f"expected a case object (a mapping), got {_kind(data)}")], case_id)
        problems = shape_problems(data)
        if problems:
            raise CaseValidationError(source, capped(problems), case_id)
        from .model import pydantic_case  # imports pydantic: only a case the fast path is not sure of

        case = pydantic_case(data, source, case_id)
    problems = _cross_field_problems(case)
    if problems:
        raise CaseValidationError(source, capped(problems), case.id)
    return case


def _echoable_id(data: Any) -> str | None:
    # An invalid case's id is echoed in its error object only if it is a valid id:
    # a megabyte of text or a NUL in "case_id" would be the error repeating the attack.
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and ID_PATTERN.fullmatch(found) else None


def _cross_field_problems(case: Any) -> list[Problem]:
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


def _overlapping_courses(courses: list[Any]) -> list[Problem]:
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




def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "nothing"}.get(type(value), type(value).__name__)
