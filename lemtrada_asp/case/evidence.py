"""Evidence atoms as records: the case facts behind a leaf's status, in words and values.

The KB names evidence as the input atom it used (``dmt_trial(K, 0, natalizumab,
effective)``) or as ``absent(Field)``, ``no_entry(Field, Drug)``,
``no_record(Field)``, ``none_listed(Field)`` and ``unrecognised(Field, Term)`` (text
the KB's vocabulary does not know, quoted as the case wrote it). Each becomes a line that starts
with the case-file field it points at, so a reviewer can find it in the file.
Free text from the case is quoted (JSON style), so it cannot pass for our words.
Beside the line, each Evidence carries the plain values a letter words for a member
(an age, a date, a drug), measured here once, so no renderer goes back to the case.
"""

from __future__ import annotations

import json
from typing import Any

from clingo import Symbol, SymbolType

from ..engine.atoms import plain, remembered
from ..engine.record import Evidence
from .dates import add_months, last_dose
from .plain import Case

__all__ = ["evidence"]


def evidence(symbol: Symbol, case: Case) -> Evidence:
    """The evidence term of the KB as a record: its kind, the reviewer's line, its values."""
    name, args = _decoded(symbol)
    render = _RENDERERS.get(name) if name is not None else None
    if render is None:
        return Evidence("unknown", str(symbol))
    values = _VALUES.get(name)
    return Evidence(name, render(case, args), tuple(values(case, args).items()) if values else ())


# A batch words the same few hundred evidence terms (one per finding and case key) over and
# over, and each read of a symbol's parts is a call into clingo: each term is read once.
_DECODED: dict[Symbol, tuple[str | None, tuple]] = {}
DECODED_KEPT = 100_000


def _decoded(symbol: Symbol) -> tuple[str | None, tuple]:
    """(name, arguments as plain values) of a function term; (None, ()) for any other term."""
    return remembered(_DECODED, symbol, _decode, DECODED_KEPT)


def _decode(symbol: Symbol) -> tuple[str | None, tuple]:
    return (symbol.name, tuple(map(plain, symbol.arguments))) if symbol.type == SymbolType.Function else (None, ())


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _age(case: Case, args) -> str:
    birth = case.member.birth_date if case.member else None
    return f"member.birth_date {birth}: age {args[1]} on request.date {case.request.date}"


def _chart(case: Case, args) -> str:
    months, chart, received = args[1], case.chart_date, case.request.date
    if months == 0:
        return f"chart_date {chart}: the same day as request.date {received}"
    earliest = add_months(received, -months)
    return (
        f"chart_date {chart}: more than {months - 1} and at most {months} calendar months "
        f"before request.date {received} (on or after {earliest})"
    )


def _last_dose(case: Case, args) -> str:
    index, months = args[1], args[2]
    course = (case.lemtrada_courses or [])[index]
    dose = last_dose(course.start_date, course.days)
    plural = "month" if abs(months) == 1 else "months"
    return (
        f"lemtrada_courses[{index}]: last dose {dose}; planned start {case.planned_start} "
        f"is {months} full calendar {plural} later"
    )


def _running(case: Case, args) -> str:
    index = args[1]
    course = (case.lemtrada_courses or [])[index]
    until = last_dose(course.start_date, course.days)
    return (
        f"lemtrada_courses[{index}]: the course that started {course.start_date} runs until {until}, "
        f"on or after request.date {case.request.date}: still running"
    )


def _condition(case: Case, args) -> str:
    text = case.diagnosis.condition if case.diagnosis and case.diagnosis.condition else args[1]
    return f"diagnosis.condition: {_quoted(text)}"


def _unrecognised(case: Case, args) -> str:
    field = str(args[0])
    return f"{field}: {_quoted(_original(case, field, args))} is not recognised (not a term of the condition vocabulary)"


def _original(case: Case, field: str, args) -> str:
    """The text as the case wrote it (the KB saw it normalised)."""
    if field == "diagnosis.condition" and case.diagnosis and case.diagnosis.condition is not None:
        return case.diagnosis.condition
    return str(args[1]) if len(args) > 1 else ""


def _infection(case: Case, args) -> str:
    index = args[1]
    return f"active_infections[{index}]: {_quoted((case.active_infections or [])[index])}"


def _code(case: Case, args) -> str:
    index = args[1]
    return f"request.diagnosis_codes[{index}]: {_quoted((case.request.diagnosis_codes or [])[index])}"


_RENDERERS = {
    "age": _age,
    "chart_months_back": _chart,
    "months_since_last_dose": _last_dose,
    "running_course": _running,
    "condition": _condition,
    "active_infection": _infection,
    "diagnosis_code": _code,
    "request_dose": lambda c, a: f"request.dose_mg_per_day: {c.request.dose_mg_per_day}",
    "request_days": lambda c, a: f"request.days: {c.request.days}",
    "request_not_consecutive": lambda c, a: "request.consecutive: false (the infusion days are not consecutive calendar days)",
    "specialty": lambda c, a: f"prescriber.specialty: {a[1]}",
    "consultation": lambda c, a: f"prescriber.consultation_with_specialist: {a[1]}",
    "ms_course": lambda c, a: f"diagnosis.ms_course: {a[1]}",
    "disease_active": lambda c, a: f"diagnosis.active: {a[1]}",
    "dmt_trial": lambda c, a: f"dmt_history[{a[1]}]: {a[2]} outcome {a[3]}",
    "concurrent_dmt": lambda c, a: f"concurrent_dmts[{a[1]}]: {a[2]}",
    "hiv_positive": lambda c, a: f"hiv_positive: {a[1]}",
    "response_objective": lambda c, a: f"response.objective[{a[1]}]: {a[2]}",
    "response_symptom": lambda c, a: f"response.symptoms[{a[1]}]: {a[2]}",
    "absent": lambda c, a: f"{a[0]}: not documented",
    "no_entry": lambda c, a: f"{a[0]}: no {a[1]} entry",
    "no_record": lambda c, a: f"{a[0]}: no record",
    "unrecognised": _unrecognised,
    "none_listed": lambda c, a: f"response.{a[0]}: none listed",
}


# --- values for the member's wording (render/templates/member_wording.yaml) ---------


def _course_values(case: Case, args) -> dict[str, Any]:
    course = (case.lemtrada_courses or [])[args[1]]
    return {"last_dose": last_dose(course.start_date, course.days), "start": case.planned_start, "months": args[2]}


def _running_values(case: Case, args) -> dict[str, Any]:
    course = (case.lemtrada_courses or [])[args[1]]
    return {"started": course.start_date, "last_dose": last_dose(course.start_date, course.days), "received": case.request.date}


def _condition_values(case: Case, args) -> dict[str, Any]:
    text = case.diagnosis.condition if case.diagnosis and case.diagnosis.condition else args[1]
    return {"term": args[1], "condition": text}


_VALUES = {
    "age": lambda c, a: {"age": a[1]},
    "chart_months_back": lambda c, a: {"chart_date": c.chart_date, "months": a[1]},
    "months_since_last_dose": _course_values,
    "running_course": _running_values,
    "condition": _condition_values,
    "active_infection": lambda c, a: {"infection": (c.active_infections or [])[a[1]]},
    "diagnosis_code": lambda c, a: {"code": (c.request.diagnosis_codes or [])[a[1]]},
    "request_dose": lambda c, a: {"dose": c.request.dose_mg_per_day},
    "request_days": lambda c, a: {"days": c.request.days,
                                  "in_a_row": "in a row" if c.request.consecutive else "that are not all in a row"},
    "request_not_consecutive": lambda c, a: {"days": c.request.days},
    "specialty": lambda c, a: {"specialty": a[1]},
    "consultation": lambda c, a: {"value": a[1]},
    "ms_course": lambda c, a: {"course": a[1]},
    "disease_active": lambda c, a: {"value": a[1]},
    "dmt_trial": lambda c, a: {"drug": a[2], "outcome": a[3]},
    "concurrent_dmt": lambda c, a: {"drug": a[2]},
    "hiv_positive": lambda c, a: {"value": a[1]},
    "response_objective": lambda c, a: {"item": a[2]},
    "response_symptom": lambda c, a: {"item": a[2]},
    "absent": lambda c, a: {"field": str(a[0])},
    "no_entry": lambda c, a: {"field": str(a[0]), "drug": str(a[1])},
    "no_record": lambda c, a: {"field": str(a[0])},
    "unrecognised": lambda c, a: {"field": str(a[0]), "text": _original(c, str(a[0]), a), "term": str(a[1])},
    "none_listed": lambda c, a: {"field": str(a[0])},
}
