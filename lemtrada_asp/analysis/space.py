"""The abstract input space: every kind of case, as finitely many values per input.

The knowledge base never sees a case, only the input predicates of kb/inputs.lp,
and those are already abstract: integers measured in Python (age, months back,
months since the last dose) and constants. So the space of cases a KB can tell
apart is finite once each input is cut at the points the rules compare it with:

- a number takes the boundary values of the KBs' parameters and the integers in
  their comparisons (v-1, v, v+1 for each), within its valid range: any other
  value lies between two of these and compares with every parameter alike;
- a constant (a drug, a state, a diagnosis code, a condition) takes each value
  the KBs mention, plus one fresh value they do not mention, which stands for
  all the others (a rule can only tell apart the constants it names);
- absent is a value of its own (absent means not documented).

A dimension is one such input; an abstract case is one value per dimension. Each
value carries the input facts it gives (case key 0) and the piece of a case file
that gives them, so any abstract case can be written out as a real case
(format v1) and decided by `decide` -- the witnesses of `diff --exhaustive`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Iterable

from clingo import Function, Number, String, Symbol

from ..case.dates import add_months
from ..case.facts import FALSE, TRUE, case_symbols, normal_code, normal_condition
from ..case.model import DMT_ALIASES, US_STATES, Case, Diagnosis, DmtTrial, Prescriber, Response, choices
from ..case.schema import PREDICATES
from .reads import CAPACITY, RANGES, WIDEST, Reads

K = Number(0)

# The input predicates (kb/inputs.lp) a case gives, as lemtrada_asp/facts.py makes
# them. Analyses keep these shared between two KBs and rename everything else.
INPUT_PREDICATES = frozenset({"case", *PREDICATES})  # from the one declaration of the case schema
# The input predicates the dimensions below enumerate. A predicate the case
# schema gives beyond these is one the space cannot represent (reads.py).
ENUMERATED = frozenset({
    "case", "request_dose", "request_days", "request_not_consecutive", "diagnosis_code", "age", "member_state", "specialty",
    "consultation", "chart_months_back", "condition", "ms_course", "disease_active", "dmt_trial",
    "concurrent_dmt", "hiv_positive", "active_infection", "prior_course", "months_since_last_dose",
    "running_course", "response_documented", "response_objective", "response_symptom",
})

REQUEST_DATE = date(2026, 5, 1)  # witnesses are dated here; every measure is relative to it
# The enumerated fields' values, read off the case model, so a value it gains is enumerated too.
OUTCOMES = choices(DmtTrial, "outcome")
PAIR = "effective then failed"  # two entries for one drug: it worked, later it failed
SPECIALTIES = choices(Prescriber, "specialty")
MS_COURSES = choices(Diagnosis, "ms_course")
OBJECTIVE = choices(Response, "objective")
SYMPTOMS = choices(Response, "symptoms")
FRESH_STATES = ("NY", "CA", "FL", "OH", "WA", "AL")
FRESH_CODES = ("G37.9", "K50.90", "Z00.00")
FRESH_CONDITIONS = ("crohns_disease", "rheumatoid_arthritis", "sarcoidosis")
FRESH_INFECTION = "tuberculosis"
ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
CONDITION = re.compile(r"^[a-z][a-z0-9_]*$")

Fragment = Callable[[dict], None]


@dataclass(frozen=True)
class Value:
    key: str  # unique within its dimension; what descriptions print
    facts: tuple[Symbol, ...]
    fragment: Fragment = field(compare=False, repr=False)
    number: int | None = None  # for numeric dimensions: the representative


@dataclass
class Dim:
    name: str  # the case field it comes from, as a person reads it
    values: list[Value]
    numeric: bool = False
    preferred: tuple[str, ...] = ()  # keys, in order of preference, for tidy witnesses
    unit: str = ""  # what a numeric value counts ("months before the request")
    preferred_by_review: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tidier witnesses per review
    # which value a concrete case's facts (grouped by predicate) fall in
    locate: Callable[["Dim", dict[str, list[Symbol]]], str] = field(default=lambda dim, facts: "absent", repr=False)

    def value(self, key: str) -> Value:
        for value in self.values:
            if value.key == key:
                return value
        raise KeyError(f"{self.name} has no value {key!r}")


@dataclass
class Mentions:
    """What knowledge bases name: integers compared with, constants, strings."""

    integers: set[int] = field(default_factory=set)
    constants: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    reads: Reads = field(default_factory=Reads)  # how the KBs read their inputs (reads.py)

    def __or__(self, other: "Mentions") -> "Mentions":
        return Mentions(self.integers | other.integers, self.constants | other.constants, self.strings | other.strings,
                        self.reads.merge(other.reads))


@dataclass
class Space:
    dims: list[Dim]
    # pairs (dim, value key) that exclude each other: no case has both
    conflicts: list[tuple[tuple[str, str], tuple[str, str]]]
    mentions: Mentions
    # what the KBs read that this space cannot represent; empty when the search over it is exhaustive
    incomplete: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.incomplete

    def dim(self, name: str) -> Dim:
        for dim in self.dims:
            if dim.name == name:
                return dim
        raise KeyError(name)

    def size(self) -> int:
        total = 1
        for dim in self.dims:
            total *= len(dim.values)
        return total

    # --- abstract case -> case file ------------------------------------------
    def witness(self, assignment: dict[str, str], case_id: str) -> dict[str, Any]:
        """A case (format v1, JSON-ready) whose input facts are those of the assignment."""
        case: dict[str, Any] = {"id": case_id, "request": {"date": REQUEST_DATE}}
        for dim in sorted(self.dims, key=lambda d: d.name != "lemtrada_courses"):  # the courses before their timing
            dim.value(assignment[dim.name]).fragment(case)
        return _iso(case)

    # --- case -> abstract case ---------------------------------------------------
    def locate(self, case: Case) -> dict[str, str] | None:
        """The abstract case a concrete case falls in, or None if it is outside the space.

        Outside means a shape the space does not enumerate (two entries for one
        drug other than effective-then-failed, two other drugs, two concurrent
        DMTs, two infections, two items in a response list, two codes).
        """
        facts = case_symbols(0, case)
        by_name: dict[str, list[Symbol]] = {}
        for fact in facts:
            by_name.setdefault(fact.name, []).append(fact)
        try:
            return {dim.name: dim.locate(dim, by_name) for dim in self.dims}
        except _Outside:
            return None


class _Outside(Exception):
    pass


# --- building the space ------------------------------------------------------


def build_space(mentions: Mentions, params: dict[str, int]) -> Space:
    """The space for knowledge bases that mention `mentions`; `params` picks tidy witnesses."""
    reads = mentions.reads
    shifts = {0} | {-c for c in reads.shifts} | set(reads.shifts)
    boundary = sorted({v + d + c for v in mentions.integers for d in (-1, 0, 1) for c in shifts})
    incomplete = list(reads.incomplete)

    def numbers(low: int, high: int, name: str = "") -> list[int]:
        if name in reads.widen and high - low + 1 <= WIDEST:
            return list(range(low, high + 1))  # read in a way cut points do not follow: every value
        return sorted({low} | {b for b in boundary if low <= b <= high})

    def fresh(candidates: Iterable[str], named: set[str]) -> str | None:
        return next((c for c in candidates if c not in named), None)

    drugs = [d for d in DMT_ALIASES if d in mentions.constants]
    fresh_drug = fresh(DMT_ALIASES, mentions.constants)  # None when the KBs name every known DMT
    states = sorted(s for s in mentions.strings if s in US_STATES)
    fresh_state = fresh(FRESH_STATES + tuple(sorted(US_STATES)), mentions.strings)
    codes = sorted(s for s in mentions.strings if ICD10.match(s) and normal_code(s) == s)
    fresh_code = fresh(FRESH_CODES, mentions.strings) or "Z99.89"
    conditions = sorted(s for s in mentions.strings if CONDITION.match(s) and normal_condition(s) == s and not ICD10.match(s))
    fresh_condition = fresh(FRESH_CONDITIONS, mentions.strings) or "another_condition"
    # each list's named items, then one fresh item (the last) standing for the others
    objective = [o for o in OBJECTIVE if o in mentions.constants] + [o for o in [fresh(OBJECTIVE, mentions.constants)] if o]
    symptoms = [s for s in SYMPTOMS if s in mentions.constants] + [s for s in [fresh(SYMPTOMS, mentions.constants)] if s]

    p = params.get
    dims = [  # the last dose before the courses: descriptions keep the later of two tied inputs
        _interval(numbers(0, 240, "last dose"), p("min_months_since_last_dose")),
        _courses(numbers(1, 31, "lemtrada_courses")),
        _dose(numbers(1, 1000, "request.dose_mg_per_day"), p("dose_mg_per_day")),
        _days(numbers(1, 60, "request.days"), p("initial_course_days"), p("continuation_course_days")),
        _consecutive(),
        _codes(codes, fresh_code),
        _age(numbers(0, 120, "age"), p("min_age_initial")),
        _state(states, fresh_state),
        _enum("prescriber.specialty", "specialty", SPECIALTIES, lambda c, v: c.setdefault("prescriber", {}).__setitem__("specialty", v), ("neurology",)),
        _boolean("prescriber.consultation_with_specialist", "consultation", lambda c, v: c.setdefault("prescriber", {}).__setitem__("consultation_with_specialist", v)),
        _chart(numbers(0, 120, "chart_date")),
        _condition(conditions, fresh_condition),
        _enum("diagnosis.ms_course", "ms_course", MS_COURSES, lambda c, v: c.setdefault("diagnosis", {}).__setitem__("ms_course", v), ("relapsing_remitting",)),
        _boolean("diagnosis.active", "disease_active", lambda c, v: c.setdefault("diagnosis", {}).__setitem__("active", v), preferred=("true",)),
    ]
    # unnamed DMTs: one slot each, as many as a count or join over dmt_history needs
    wanted = max(1, reads.demand.get("dmt_trial", 0))
    fresh_drugs = [d for d in DMT_ALIASES if d not in mentions.constants][:wanted]
    if len(fresh_drugs) < wanted:
        at = reads.demand_at.get("dmt_trial")
        incomplete.append(f"{at + ': ' if at else ''}dmt_history: the KBs count {wanted} entries, but only {len(fresh_drugs)} DMTs they do not name are known")
    every_drug = [*drugs, *fresh_drugs]
    for slot, drug in enumerate(every_drug):
        fresh_slot = drug in fresh_drugs
        dims.append(_drug(slot, drug, named=set(drugs) if fresh_slot else None,
                          fresh_index=fresh_drugs.index(drug) if fresh_slot else 0, fresh_count=len(fresh_drugs)))
    dims += [
        _concurrent(every_drug, fresh_drug),
        _boolean("hiv_positive", "hiv_positive", lambda c, v: c.__setitem__("hiv_positive", v), preferred=("false", "absent")),
        _infections(),
        _response(objective, symptoms),
    ]
    conflicts = [(("lemtrada_courses", "0"), ("last dose", v.key)) for v in dims[0].values if v.key != "none"]
    conflicts += [(("lemtrada_courses", v.key), ("last dose", "none")) for v in dims[1].values if v.key != "0"]
    fresh_dims = [d for d in dims if d.name.startswith("dmt_history: another DMT")]
    for earlier, later in zip(fresh_dims, fresh_dims[1:]):  # unnamed DMTs fill their slots in order
        conflicts += [((later.name, v.key), (earlier.name, "absent")) for v in later.values if v.key != "absent"]
    for name, needed in sorted(reads.demand.items()):
        if name in CAPACITY and needed > CAPACITY[name]:
            at = reads.demand_at.get(name)
            incomplete.append(f"{at + ': ' if at else ''}{name}: the KBs count or join {needed} entries of this list, the space gives at most {CAPACITY[name]}")
    for name in sorted(reads.widen):
        low, high = RANGES[name]
        if high - low + 1 <= WIDEST:
            pass  # enumerated in full above
    return Space(dims, conflicts, mentions, _unique(incomplete))


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _value(key: str, facts: Iterable[Symbol], fragment: Fragment, number: int | None = None) -> Value:
    return Value(key, tuple(facts), fragment, number)


def _nothing(case: dict) -> None:
    return None


def _courses(course_numbers: list[int]) -> Dim:
    def fragment(prior: int) -> Fragment:
        def apply(case: dict) -> None:
            if prior:
                # the latest course first; its timing is the "last dose" dimension's
                case["lemtrada_courses"] = [{"start_date": REQUEST_DATE, "days": 5}] + [
                    {"start_date": add_months(REQUEST_DATE, -12 * (j + 2)), "days": 5} for j in range(prior - 1)
                ]
        return apply

    values = [
        _value(str(n - 1), [Function("prior_course", [K, Number(i)]) for i in range(n - 1)], fragment(n - 1), n - 1)
        for n in course_numbers
    ]
    return Dim("lemtrada_courses", values, numeric=True, unit="prior courses", preferred=("0", "1", "2"), locate=_by_courses)


def _interval(months: list[int], due: int | None = None) -> Dim:
    def fragment(m: int) -> Fragment:
        def apply(case: dict) -> None:
            # a last dose on the request date would be a course still running ("running"), so 0 months is the day before
            last = add_months(REQUEST_DATE, -m) if m else REQUEST_DATE - timedelta(days=1)
            case["lemtrada_courses"][0] = {"start_date": last - timedelta(days=4), "days": 5}
            for j, course in enumerate(case["lemtrada_courses"][1:]):
                course["start_date"] = add_months(last, -12 * (j + 1)) - timedelta(days=4)
        return apply

    def running(case: dict) -> None:  # the latest course started the day before the request, still running
        case["lemtrada_courses"][0] = {"start_date": REQUEST_DATE - timedelta(days=1), "days": 5}
        for j, course in enumerate(case["lemtrada_courses"][1:]):
            course["start_date"] = add_months(REQUEST_DATE, -12 * (j + 1)) - timedelta(days=4)

    values = [_value("none", [], _nothing)] + [
        _value(str(m), [Function("months_since_last_dose", [K, Number(0), Number(m)])], fragment(m), m) for m in months
    ] + [_value("running", [Function("running_course", [K, Number(0)])], running)]
    later = [str(m) for m in months if due is not None and m >= due]
    by_months = _by_number("months_since_last_dose", 2, absent="none")

    def locate(dim: Dim, facts: dict) -> str:
        return "running" if facts.get("running_course") else by_months(dim, facts)

    return Dim("last dose", values, numeric=True, unit="months before the planned start", preferred=("none", *later[:2]), locate=locate)


def _dose(doses: list[int], preferred: int | None) -> Dim:
    def fragment(d: int | float) -> Fragment:
        return lambda case: case["request"].__setitem__("dose_mg_per_day", d)

    values = [_value(str(d), [Function("request_dose", [K, Number(d)])], fragment(d), d) for d in doses]
    values.append(_value("fractional", [Function("request_dose", [K, String("12.5")])], fragment(12.5)))
    return Dim("request.dose_mg_per_day", values, numeric=True, unit="mg/day", preferred=(str(preferred),), locate=_by_number("request_dose", 1))


def _days(days: list[int], preferred: int | None, continuation: int | None = None) -> Dim:
    values = [
        _value(str(d), [Function("request_days", [K, Number(d)])], (lambda d: lambda c: c["request"].__setitem__("days", d))(d), d)
        for d in days
    ]
    dim = Dim("request.days", values, numeric=True, unit="days", preferred=(str(preferred),), locate=_by_number("request_days", 1))
    if continuation is not None:
        dim.preferred_by_review = {"continuation": (str(continuation),)}
    return dim


def _codes(codes: list[str], fresh: str) -> Dim:
    def fragment(listed: list[str]) -> Fragment:
        return lambda case: case["request"].__setitem__("diagnosis_codes", list(listed))

    def facts(listed: list[str]) -> list[Symbol]:
        return [Function("diagnosis_code", [K, Number(i), String(c)]) for i, c in enumerate(listed)]

    values = [_value("absent", [], _nothing)]
    for code in codes:
        values.append(_value(code, facts([code]), fragment([code])))
    values.append(_value("other", facts([fresh]), fragment([fresh])))
    for code in codes:
        values.append(_value(f"{code}+other", facts([code, fresh]), fragment([code, fresh])))
    def locate(dim: Dim, facts: dict) -> str:
        listed = [f.arguments[2].string for f in facts.get("diagnosis_code", [])]
        named = [c for c in listed if c in codes]
        others = [c for c in listed if c not in codes]
        if len(named) > 1 or len(others) > 1:
            raise _Outside()
        if not listed:
            return "absent"
        return f"{named[0]}+other" if named and others else named[0] if named else "other"

    return Dim("request.diagnosis_codes", values, preferred=tuple(codes[1:2] + codes[:1]), locate=locate)


def _age(ages: list[int], adult: int | None) -> Dim:
    def fragment(a: int) -> Fragment:
        return lambda case: case.setdefault("member", {}).__setitem__("birth_date", REQUEST_DATE.replace(year=REQUEST_DATE.year - a))

    values = [_value("absent", [], _nothing)] + [_value(str(a), [Function("age", [K, Number(a)])], fragment(a), a) for a in ages]
    older = [str(a) for a in ages if adult is not None and a > adult]
    return Dim("age", values, numeric=True, unit="years", preferred=tuple(older[:1]), locate=_by_number("age", 1))


def _state(states: list[str], fresh: str | None) -> Dim:
    def fragment(s: str) -> Fragment:
        return lambda case: case.setdefault("member", {}).__setitem__("state", s)

    values = [_value("absent", [], _nothing)]
    values += [_value(s, [Function("member_state", [K, String(s)])], fragment(s)) for s in states]
    if fresh:
        values.append(_value("other", [Function("member_state", [K, String(fresh)])], fragment(fresh)))
    return Dim("member.state", values, preferred=("other",), locate=_by_facts("member_state"))


def _enum(name: str, predicate: str, options: tuple[str, ...], setter: Callable[[dict, str], None], preferred: tuple[str, ...]) -> Dim:
    values = [_value("absent", [], _nothing)] + [
        _value(o, [Function(predicate, [K, Function(o)])], (lambda o: lambda c: setter(c, o))(o)) for o in options
    ]
    return Dim(name, values, preferred=preferred, locate=_by_facts(predicate))


def _boolean(name: str, predicate: str, setter: Callable[[dict, bool], None], preferred: tuple[str, ...] = ("absent",)) -> Dim:
    values = [
        _value("absent", [], _nothing),
        _value("true", [Function(predicate, [K, TRUE])], lambda c: setter(c, True)),
        _value("false", [Function(predicate, [K, FALSE])], lambda c: setter(c, False)),
    ]
    return Dim(name, values, preferred=preferred, locate=_by_facts(predicate))


def _consecutive() -> Dim:
    """request.consecutive: true gives no fact (the default), false gives request_not_consecutive."""
    values = [
        _value("true", [], _nothing),
        _value("false", [Function("request_not_consecutive", [K])],
               lambda c: c["request"].__setitem__("consecutive", False)),
    ]
    return Dim("request.consecutive", values, preferred=("true",), locate=_by_facts("request_not_consecutive", absent="true"))


def _chart(months: list[int]) -> Dim:
    def fragment(m: int) -> Fragment:
        return lambda case: case.__setitem__("chart_date", add_months(REQUEST_DATE, -m))

    values = [_value("absent", [], _nothing)] + [
        _value(str(m), [Function("chart_months_back", [K, Number(m)])], fragment(m), m) for m in months
    ]
    return Dim("chart_date", values, numeric=True, unit="months before the request", preferred=("0",), locate=_by_number("chart_months_back", 1))


def _condition(conditions: list[str], fresh: str) -> Dim:
    def fragment(t: str) -> Fragment:
        return lambda case: case.setdefault("diagnosis", {}).__setitem__("condition", t)

    values = [_value("absent", [], _nothing)]
    values += [_value(t, [Function("condition", [K, String(t)])], fragment(t)) for t in conditions]
    values.append(_value("other", [Function("condition", [K, String(fresh)])], fragment(fresh)))
    return Dim("diagnosis.condition", values, preferred=("multiple_sclerosis",), locate=_by_facts("condition"))


def _drug(slot: int, drug: str, named: set[str] | None, fresh_index: int = 0, fresh_count: int = 1) -> Dim:
    """One drug's entries in dmt_history: none, one with each outcome, or effective then failed.

    named is None for a drug the KBs name; for the fresh drug it is the set of
    named drugs, and the dimension stands for any one drug outside that set.
    """
    fresh = named is not None

    def entry(i: int, outcome: str) -> Symbol:
        return Function("dmt_trial", [K, Number(2 * slot + i), Function(drug), Function(outcome)])

    def fragment(outcomes: tuple[str, ...]) -> Fragment:
        def apply(case: dict) -> None:
            history = case.setdefault("dmt_history", [])
            history += [{"drug": drug, "outcome": o} for o in outcomes]
        return apply

    values = [_value("absent", [], _nothing)]
    values += [_value(o, [entry(0, o)], fragment((o,))) for o in OUTCOMES]
    values.append(_value(PAIR, [entry(0, "effective"), entry(1, "failed")], fragment(("effective", "failed"))))
    def locate(dim: Dim, facts: dict) -> str:
        trials = facts.get("dmt_trial", [])
        if fresh:
            # unnamed drugs in order of their first entry; this slot is the fresh_index-th of them
            others: list[str] = []
            for t in sorted(trials, key=lambda t: t.arguments[1].number):
                if t.arguments[2].name not in named and t.arguments[2].name not in others:
                    others.append(t.arguments[2].name)
            if len(others) > fresh_count:
                raise _Outside()
            mine = [t for t in trials if fresh_index < len(others) and t.arguments[2].name == others[fresh_index]]
        else:
            mine = [t for t in trials if t.arguments[2].name == drug]
        outcomes = tuple(t.arguments[3].name for t in sorted(mine, key=lambda t: t.arguments[1].number))
        if len(outcomes) > 1 and outcomes != ("effective", "failed"):
            raise _Outside()
        return PAIR if len(outcomes) > 1 else outcomes[0] if outcomes else "absent"

    name = f"dmt_history: {'another DMT (' + drug + ')' if fresh else drug}"
    return Dim(name, values, preferred=("failed",) if slot < 2 and not fresh else ("absent",), locate=locate)


def _concurrent(drugs: list[str], fresh: str | None) -> Dim:
    values = [_value("none", [], _nothing)]
    for drug in drugs:
        key = "other" if drug == fresh else drug
        values.append(_value(key, [Function("concurrent_dmt", [K, Number(0), Function(drug)])], (lambda d: lambda c: c.__setitem__("concurrent_dmts", [d]))(drug)))
    return Dim("concurrent_dmts", values, preferred=("none",), locate=_by_facts("concurrent_dmt", absent="none"))


def _infections() -> Dim:
    values = [
        _value("none", [], _nothing),
        _value("one", [Function("active_infection", [K, Number(0), String(FRESH_INFECTION)])], lambda c: c.__setitem__("active_infections", [FRESH_INFECTION])),
    ]
    return Dim("active_infections", values, preferred=("none",),
               locate=lambda dim, facts: "one" if _only(facts, "active_infection") is not None else "none")


def _response(objective: list[str], symptoms: list[str]) -> Dim:
    def make(obj: str | None, sym: str | None) -> Value:
        facts = [Function("response_documented", [K])]
        part: dict[str, list[str]] = {}
        if obj:
            facts.append(Function("response_objective", [K, Number(0), Function(obj)]))
            part["objective"] = [obj]
        if sym:
            facts.append(Function("response_symptom", [K, Number(0), Function(sym)]))
            part["symptoms"] = [sym]
        key = "+".join(x for x in (obj, sym) if x) or "none listed"
        return _value(key, facts, lambda c: c.__setitem__("response", copy.deepcopy(part)))

    values = [_value("absent", [], _nothing), make(None, None)]
    values += [make(o, None) for o in objective] + [make(None, s) for s in symptoms]
    values += [make(o, s) for o in objective for s in symptoms]

    def locate(dim: Dim, facts: dict) -> str:
        if not facts.get("response_documented"):
            return "absent"
        # an item the KBs do not name is its list's fresh item (the last of each list)
        obj, sym = _only(facts, "response_objective"), _only(facts, "response_symptom")
        o = None if obj is None else obj.arguments[2].name if obj.arguments[2].name in objective else objective[-1]
        s = None if sym is None else sym.arguments[2].name if sym.arguments[2].name in symptoms else symptoms[-1]
        return "+".join(x for x in (o, s) if x) or "none listed"

    return Dim("response", values, preferred=("absent",), locate=locate)


def _iso(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


# --- locating a case's facts in the space ------------------------------------


def _representative(dim: Dim, number: int) -> str:
    """The value standing for `number`: the greatest representative not above it."""
    below = [v for v in dim.values if v.number is not None and v.number <= number]
    if not below:
        raise _Outside()
    return max(below, key=lambda v: v.number).key


def _only(facts: dict[str, list[Symbol]], name: str) -> Symbol | None:
    found = facts.get(name, [])
    if len(found) > 1:
        raise _Outside()
    return found[0] if found else None


def _by_number(predicate: str, position: int, absent: str = "absent") -> Callable[[Dim, dict], str]:
    def locate(dim: Dim, facts: dict) -> str:
        fact = _only(facts, predicate)
        if fact is None:
            return absent
        arg = fact.arguments[position]
        return _representative(dim, arg.number) if arg.type == arg.type.Number else "fractional"
    return locate


def _by_facts(*predicates: str, absent: str = "absent", fresh: str = "other") -> Callable[[Dim, dict], str]:
    """The value giving exactly the case's facts of these predicates; an unnamed constant is the fresh one."""

    def locate(dim: Dim, facts: dict) -> str:
        mine = [f for p in predicates for f in facts.get(p, [])]
        if not mine:
            return absent
        wanted = set(mine)
        for value in dim.values:
            if set(value.facts) == wanted:
                return value.key
        fresh_value = next((v for v in dim.values if v.key == fresh), None)
        if fresh_value is not None and len(mine) == len(fresh_value.facts) == 1 and not _named(dim, mine[0]):
            return fresh
        raise _Outside()
    return locate


def _named(dim: Dim, fact: Symbol) -> bool:
    return any(fact.arguments[-1] == v.facts[0].arguments[-1] for v in dim.values if len(v.facts) == 1)


def _by_courses(dim: Dim, facts: dict) -> str:
    count = len(facts.get("prior_course", []))
    return "0" if count == 0 else _representative(dim, count)
