"""A validated case as facts: the input predicates of kb/inputs.lp, as plain values and as clingo symbols.

Every value goes through clingo's symbol API (Function, Number, String), so case
text is data to the solver and can never become a rule. Each predicate's first
argument is the case key, an integer picked by the caller.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Any

from clingo import Function, Number, String, Symbol

from .dates import age_in_years, last_dose, months_back, months_since
from ..engine.casemodel import Name
from .plain import Case
from .values import normal_code  # noqa: F401 - normal_code re-exported: the one normalisation of codes

INT_MAX = 2**31 - 1  # clingo numbers are 32-bit

TRUE, FALSE = Function("true"), Function("false")


def case_symbols(key: int, case: Case) -> list[Symbol]:
    """The input facts of the case keyed by key, as clingo symbols."""
    k = num(key)
    return [Function(fact[0], [k, *map(_symbol, fact[1:])]) for fact in case_facts(case)]


def case_facts(case: Case) -> list[tuple]:
    """The input facts of the case without their key, as plain values (int, str, Name).

    The one place the facts are made: case_symbols turns each into a symbol, and the
    engine's decision cache uses them as keys without calling into clingo.
    """
    facts: list[tuple] = [("case",)]
    fact = facts.append  # each fact a tuple (name, *values): a bound append, no call of our own per fact

    request = case.request
    fact(("request_dose", quantity(request.dose_mg_per_day)))
    fact(("request_days", quantity(request.days)))
    if not request.consecutive:
        fact(("request_not_consecutive",))
    for i, code in enumerate(request.diagnosis_codes or []):
        fact(("diagnosis_code", int(i), str(normal_code(code))))

    member = case.member
    if member and member.birth_date:
        fact(("age", int(age_in_years(member.birth_date, request.date))))
    if member and member.state:
        fact(("member_state", str(member.state)))

    prescriber = case.prescriber
    if prescriber and prescriber.specialty:
        fact(("specialty", Name(prescriber.specialty)))
    if prescriber and prescriber.consultation_with_specialist is not None:
        fact(("consultation", boolean(prescriber.consultation_with_specialist)))

    if case.chart_date:
        fact(("chart_months_back", int(months_back(case.chart_date, request.date))))

    diagnosis = case.diagnosis
    if diagnosis and diagnosis.condition is not None:
        fact(("condition", str(normal_condition(diagnosis.condition))))
    if diagnosis and diagnosis.ms_course:
        fact(("ms_course", Name(diagnosis.ms_course)))
    if diagnosis and diagnosis.active is not None:
        fact(("disease_active", boolean(diagnosis.active)))

    for i, trial in enumerate(case.dmt_history or []):
        fact(("dmt_trial", int(i), Name(trial.drug), Name(trial.outcome)))
    for i, drug in enumerate(case.concurrent_dmts or []):
        fact(("concurrent_dmt", int(i), Name(drug)))
    if case.hiv_positive is not None:
        fact(("hiv_positive", boolean(case.hiv_positive)))
    for i, infection in enumerate(case.active_infections or []):
        fact(("active_infection", int(i), str(infection)))

    for i, _course in enumerate(case.lemtrada_courses or []):
        fact(("prior_course", int(i)))
    running = case.running_course()
    last = case.last_course()
    if running:  # criteria.md, C3: a course still running is not_met, never a negative interval
        fact(("running_course", int(running[0])))
    elif last:
        i, course = last
        months = months_since(last_dose(course.start_date, course.days), case.planned_start)
        fact(("months_since_last_dose", int(i), int(months)))

    if case.response is not None:
        fact(("response_documented",))
        for i, item in enumerate(case.response.objective or []):
            fact(("response_objective", int(i), Name(item)))
        for i, item in enumerate(case.response.symptoms or []):
            fact(("response_symptom", int(i), Name(item)))
    return facts


# Building a symbol is a call into clingo; a batch builds the same small numbers
# and constants over and over, so they are made once.
@lru_cache(maxsize=4096)
def num(value: int) -> Symbol:
    return Number(value)


@lru_cache(maxsize=None)
def const(name: str) -> Symbol:
    return Function(name)


def boolean(value: bool) -> Name:
    return _TRUE if value else _FALSE


_TRUE, _FALSE = Name("true"), Name("false")


def _symbol(value: Any) -> Symbol:
    if isinstance(value, Name):
        return const(value)
    if isinstance(value, int):
        return num(value)
    return String(value)


def quantity(value: int | float) -> int | str:
    """A whole number that fits clingo's integers as a Number; anything else as its text.

    The KB compares quantities with whole-number parameters, so 12.5 (or a number
    too large for 32 bits) must stay distinct from every parameter, never be rounded.
    """
    if type(value) is int and -INT_MAX <= value <= INT_MAX:  # the common case, without Decimal
        return value
    exact = Decimal(str(value))
    if exact == exact.to_integral_value() and abs(exact) <= INT_MAX:
        return int(exact)
    return format(exact.normalize(), "f")


# Apostrophes the spec's normalisation removes: ASCII ' and its typographic forms.
APOSTROPHES = str.maketrans("", "", "'\u2018\u2019\u02bc\u02b9\u2032")
_SEPARATORS = re.compile(r"[\s\-\u2010_]+")


@lru_cache(maxsize=4096)  # a batch names the same few conditions over and over
def normal_condition(text: str) -> str:
    """Condition text as the vocabulary's terms are written (criteria.md, "Condition vocabulary").

    Unicode NFKC; format characters (category Cf, e.g. a zero-width space) removed;
    case-folded; apostrophes removed; each run of spaces, hyphens or underscores one
    underscore; leading and trailing whitespace and punctuation removed. So "Crohn's
    Disease" is crohns_disease and " MS. " is ms; a Cyrillic look-alike letter stays
    what it is, and the text is then not a term of the vocabulary.
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = text.casefold().translate(APOSTROPHES)
    text = _SEPARATORS.sub("_", text)
    start, end = 0, len(text)
    while start < end and _outer(text[start]):
        start += 1
    while end > start and _outer(text[end - 1]):
        end -= 1
    return text[start:end]


def _outer(char: str) -> bool:
    """Whitespace or punctuation (Unicode category P*; the underscore is one), stripped at the ends."""
    return char.isspace() or unicodedata.category(char).startswith("P")
