"""The one mapping from an EHR chart to case fields, declared as data (issue 26).

CRD (service/crd/) reads the prefetch of a CDS Hooks call with it, and DTR turns
the same entries into SDC ``launchContext`` + ``initialExpression``, so
pre-population and coverage discovery read the chart the same way. Each entry is
a case field, the launch-context name it reads (``CONTEXTS``), a FHIRPath
expression over ``%<name>`` evaluated by fhirpathpy with the R4 model, and how
the result becomes the case value (``Entry.value``):

- ``one``: the expression yields the case value itself; no result leaves the
  field out, two different results leave it out too (the chart does not state
  one value) with a problem saying so;
- ``date``: as ``one``, and the value must be a full date (YYYY-MM-DD);
- ``list``: the distinct results, in order; none leaves the field out;
- ``dosage``: Python, not FHIRPath: the order's dosage read by the PAS reader's
  own ``case/pas/dosage.dose_and_days`` (timing has no FHIRPath form). DTR
  cannot pre-populate these (``Entry.prepopulates`` is False).

Nothing is guessed: a field the chart cannot state with certainty (a DMT's
outcome, prior Lemtrada courses, chart notes' date, infections, the response to
treatment) has no entry and is asked. The codes the expressions name come from
the KB (kb/chart_codes.toml, kb/medication_codes.toml, case/pas/ids.py), so the
expressions are built from them, never written with a code inline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from ...engine.errors import Problem
from ..pas.ids import ICD10CM, NEUROLOGY_NUCC, NUCC
from .codes import chart_codes

__all__ = ["CONTEXTS", "ENTRIES", "Context", "Entry", "entries", "entry", "evaluate", "read_chart"]


@dataclass(frozen=True)
class Context:
    """A launch context: one resource, or a list of them, as CDS Hooks prefetch and SDC name them."""

    name: str
    type: str             # the resource type ("Resource" for a list of several types)
    many: bool            # a list of resources (the entries of prefetch Bundles)
    prefetch: str         # the CDS Hooks prefetch template (also DTR's x-fhir-query); "" for the order itself
    description: str
    key: str = ""         # its CDS Hooks prefetch key (default: the name)
    more: tuple[tuple[str, str], ...] = ()  # further (key, template) pairs of a list no one query gives

    @property
    def templates(self) -> tuple[tuple[str, str], ...]:
        """Every (prefetch key, template) of this context, as the CDS Hooks discovery lists them."""
        return (((self.key or self.name, self.prefetch),) if self.prefetch else ()) + self.more


CONTEXTS: dict[str, Context] = {c.name: c for c in (
    Context("patient", "Patient", False, "Patient/{{context.patientId}}", "the member"),
    Context("coverage", "Coverage", False, "Coverage?patient={{context.patientId}}&status=active",
            "the member's active coverage"),
    Context("practitionerRole", "PractitionerRole", False, "PractitionerRole/{{userPractitionerRoleId}}",
            "the ordering clinician's role (the order's requester, or the CDS Hooks user's PractitionerRole)"),
    Context("medicationRequest", "MedicationRequest", False, "",
            "the order: the draft MedicationRequest of alemtuzumab in context.draftOrders"),
    Context("conditions", "Condition", True, "Condition?patient={{context.patientId}}&clinical-status=active",
            "the member's active Conditions"),
    Context("medications", "Resource", True, "MedicationRequest?patient={{context.patientId}}&status=active,on-hold",
            "the member's MedicationRequests and MedicationStatements", key="medicationRequests",
            more=(("medicationStatements",
                   "MedicationStatement?patient={{context.patientId}}&status=active,intended,on-hold"),)),
)}


@dataclass(frozen=True)
class Entry:
    field: str          # case-format field path
    context: str        # a CONTEXTS name
    expression: str     # FHIRPath over %<context>
    value: str          # one | date | list | dosage
    reads: str          # what in the chart, in words (the guide's table)

    @property
    def prepopulates(self) -> bool:
        """Whether the expression alone yields the value (an SDC initialExpression can be it)."""
        return self.value != "dosage"


def _in(values) -> str:
    return "(" + " | ".join(f"'{v}'" for v in values) + ")"


def _undotted(code: str) -> str:
    return code.replace(".", "")


CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
# A Condition the chart states: clinically active (or back), not doubted nor withdrawn.
LIVE_CONDITION = (f"clinicalStatus.coding.where(system = '{CONDITION_CLINICAL}' and code in ('active' | 'recurrence' | 'relapse'))"
                  ".exists() and verificationStatus.coding.where(code in ('unconfirmed' | 'provisional' | 'differential' "
                  "| 'refuted' | 'entered-in-error')).empty()")
# A medication in use or planned: an active order, or a statement that it is taken or intended.
LIVE_MEDICATION = ("(resourceType = 'MedicationRequest' and status in ('active' | 'on-hold') and intent != 'proposal') or "
                   "(resourceType = 'MedicationStatement' and status in ('active' | 'intended' | 'on-hold'))")


def _ms_codings(codes) -> str:
    """The ICD-10-CM codings of live Conditions that are one of ``codes`` (dotted or the undotted claim form)."""
    forms = sorted({form for c in codes for form in (c.code, _undotted(c.code))})
    return (f"%conditions.where({LIVE_CONDITION}).code.coding"
            f".where(system = '{chart_codes().icd10cm}' and code in {_in(forms)}).code")


def _select(pairs: list[tuple[str, str]]) -> str:
    """``$this`` mapped through (code, FHIRPath literal) pairs, else nothing: nested iif()."""
    text = "{}"
    for code, literal in reversed(pairs):
        text = f"iif($this = '{code}', {literal}, {text})"
    return text


@lru_cache(maxsize=1)
def entries() -> tuple[Entry, ...]:
    """The mapping, built from the KB's codes (kb/chart_codes.toml)."""
    codes = chart_codes()
    ms = codes.ms
    course = [(form, f"'{c.ms_course}'") for c in ms if c.ms_course for form in (c.code, _undotted(c.code))]
    active = [(form, "true" if c.active else "false") for c in ms if c.active is not None
              for form in (c.code, _undotted(c.code))]
    dmts = [(code, f"'{drug}'") for code, drug in codes.dmts]
    return (
        Entry("member.birth_date", "patient", "%patient.birthDate", "date", "Patient.birthDate"),
        Entry("member.state", "patient",
              "%patient.address.where(state.exists() and (use.empty() or use != 'old')).state.first()", "one",
              "Patient.address.state of the first address that is not 'old'"),
        Entry("prescriber.specialty", "practitionerRole",
              f"iif(%practitionerRole.specialty.coding.where(system = '{NUCC}' and code = '{NEUROLOGY_NUCC}').exists(), "
              f"'neurology', iif(%practitionerRole.specialty.coding.where(system = '{NUCC}').exists(), 'other', {{}}))",
              "one", f"PractitionerRole.specialty (NUCC): {NEUROLOGY_NUCC} Neurology is 'neurology', another NUCC code 'other'"),
        Entry("request.dose_mg_per_day", "medicationRequest", "%medicationRequest", "dosage",
              "MedicationRequest.dosageInstruction: doseQuantity (mg) times doses a dosing day"),
        Entry("request.days", "medicationRequest", "%medicationRequest", "dosage",
              "MedicationRequest.dosageInstruction.timing: count, boundsDuration, boundsPeriod, dayOfWeek"),
        Entry("request.consecutive", "medicationRequest", "%medicationRequest", "dosage",
              "MedicationRequest.dosageInstruction.timing: false when the dosing days have gaps"),
        Entry("request.diagnosis_codes", "medicationRequest",
              f"%medicationRequest.reasonCode.coding.where(system = '{ICD10CM}').code", "list",
              "MedicationRequest.reasonCode, its ICD-10-CM codes"),
        Entry("diagnosis.condition", "conditions", f"iif({_ms_codings(ms)}.exists(), 'multiple_sclerosis', {{}})", "one",
              "an active Condition coded with an ICD-10-CM MS code (kb/chart_codes.toml)"),
        Entry("diagnosis.ms_course", "conditions", f"{_ms_codings(ms)}.select({_select(course)}).distinct()", "one",
              "the form of MS its ICD-10-CM code names (G35.A relapsing-remitting, G35.B* primary progressive, "
              "G35.C* secondary progressive, G35.D unspecified); two forms state none"),
        Entry("diagnosis.active", "conditions", f"{_ms_codings(ms)}.select({_select(active)}).distinct()", "one",
              "disease activity where the ICD-10-CM code names it (G35.B1/G35.C1 active, G35.B2/G35.C2 non-active)"),
        Entry("concurrent_dmts", "medications",
              f"%medications.where({LIVE_MEDICATION}).medication.ofType(CodeableConcept).coding"
              f".where(system = '{codes.rxnorm}').code.select({_select(dmts)}).distinct()", "list",
              "an active MedicationRequest or MedicationStatement of a DMT, by RxNorm ingredient code (kb/chart_codes.toml)"),
    )


ENTRIES = entries  # the table: ENTRIES() (built from the KB on first use)


def entry(field: str) -> Entry:
    """The entry of one case field (KeyError when the chart does not state it)."""
    found = [e for e in entries() if e.field == field]
    if not found:
        raise KeyError(f"the chart mapping has no entry for {field!r}")
    return found[0]


@lru_cache(maxsize=64)
def _compiled(expression: str) -> Callable:
    from fhirpathpy import compile as fhirpath
    from fhirpathpy.models import models

    return fhirpath(expression, models["r4"])


def evaluate(entry: Entry, context: dict[str, Any]) -> list:
    """The FHIRPath result of one entry over the named resources (a list, as FHIRPath gives)."""
    return list(_compiled(entry.expression)({}, {entry.context: context.get(entry.context)}))


def _set(case: dict, path: str, value: Any) -> None:
    *parents, name = path.split(".")
    target = case
    for parent in parents:
        target = target.setdefault(parent, {})
    target[name] = value


def _plain(value: Any) -> Any:
    """A FHIRPath result as JSON: fhirpathpy's date and time types as their text."""
    return value if isinstance(value, (str, bool, int, float)) else str(value)


def read_chart(context: dict[str, Any], *, anchor: date | None = None) -> tuple[dict, list[Problem]]:
    """The partial case (fields of case format v1) the chart states, and the problems met reading it.

    ``context`` maps CONTEXTS names to a resource dict (or a list of them for
    ``conditions`` and ``medications``); an absent name reads as nothing. A
    problem names the case field and says why the chart was not read for it:
    the field is then left out (undocumented), never filled in.
    ``anchor``: where a weekday schedule with no boundsPeriod.start begins (the planned start).
    """
    case: dict = {}
    problems: list[Problem] = []
    dosage_read = False
    for entry in entries():
        if context.get(entry.context) in (None, []):
            continue
        if entry.value == "dosage":
            if not dosage_read:
                dosage_read = True
                _dosage(context[entry.context], case, problems, anchor)
            continue
        try:
            found = [_plain(v) for v in evaluate(entry, context)]
        except Exception as exc:  # noqa: BLE001 - fhirpathpy on a malformed resource: that field is not read
            problems.append(Problem(entry.field, f"the chart could not be read for it ({type(exc).__name__}): "
                                                 f"{CONTEXTS[entry.context].description}"))
            continue
        distinct = list(dict.fromkeys(found))
        if not distinct:
            continue
        if entry.value == "list":
            _set(case, entry.field, distinct)
            continue
        if len(distinct) > 1:
            problems.append(Problem(entry.field, f"the chart states {len(distinct)} different values "
                                                 f"({', '.join(map(str, distinct[:5]))}): it is left undocumented"))
            continue
        value = distinct[0]
        if entry.value == "date" and not (isinstance(value, str) and len(value) >= 10):
            problems.append(Problem(entry.field, f"expected a full date (YYYY-MM-DD), got the partial date {value!r}"))
            continue
        _set(case, entry.field, value[:10] if entry.value == "date" else value)
    return case, problems


def _dosage(order: Any, case: dict, problems: list[Problem], anchor: date | None) -> None:
    """The order's dose and days, read by the PAS reader's own dose_and_days (one reading of a dosage)."""
    from ..pas.dosage import dose_and_days
    from ..pas.problems import Problems

    if not isinstance(order, dict):
        return
    found_problems = Problems()
    origins: dict[str, str] = {}
    found = dose_and_days(order, "MedicationRequest", found_problems, origins, anchor)
    for name, value in found.items():
        _set(case, f"request.{name}", value)
    for p in found_problems:
        field = next((f for f, o in origins.items() if o == p.expression), "request.dose_mg_per_day"
                     if "dose" in (p.expression or "") else "request.days")
        problems.append(Problem(field, f"{p.expression}: {p.message}"))
