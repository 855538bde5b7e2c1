"""The case schema of this policy, declared once.

Every field of case format v1, what kind of value it holds, and the input facts
(kb/inputs.lp) it becomes. The pydantic model (model.py), the facts (facts.py),
the evidence wording (evidence.py and the letters' member wording), the abstract
space of the exhaustive analysis and the generator are checked against this table
by tests/test_case_schema.py, so a new field that misses one of them fails there.

A path names a list entry with ``[]``: ``dmt_history[].drug``.

>>> FIELDS["request.date"].kind
'date'
>>> sorted(PREDICATES["age"])
['member.birth_date', 'request.date']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FIELDS", "PREDICATES", "EVIDENCE_TERMS", "LINES_OF_BUSINESS", "Field"]


@dataclass(frozen=True)
class Field:
    """One field. kind: id | date | number | int | code | state | bool | text | drug | list | object;
    item (text that must not say there is none: "None." is no infection); enum (one of choices,
    in any case, spaces or hyphens for underscores); choice (one of choices, written exactly)."""

    path: str
    kind: str
    facts: tuple[str, ...] = ()  # input predicates it (with others) becomes
    required: bool = False
    choices: tuple[str, ...] = ()  # an enum's or a choice's values, in order
    default: Any = None  # the value of an optional field the case leaves out


# The lines of business of lemtrada_asp/notices/lob/*.yaml (a test checks they match).
LINES_OF_BUSINESS = ("commercial", "erisa", "medicaid", "medicare_advantage")


_FIELDS = (
    Field("id", "id", required=True),
    Field("request", "object", required=True),
    Field("request.date", "date", ("age", "chart_months_back", "running_course"), required=True),
    Field("request.start_date", "date", ("months_since_last_dose",)),
    Field("request.dose_mg_per_day", "number", ("request_dose",), required=True),
    Field("request.days", "int", ("request_days",), required=True),
    Field("request.consecutive", "bool", ("request_not_consecutive",), default=True),
    Field("request.diagnosis_codes", "list", ("diagnosis_code",)),
    Field("request.diagnosis_codes[]", "code", ("diagnosis_code",)),
    Field("member", "object"),
    Field("member.birth_date", "date", ("age",)),
    Field("member.state", "state", ("member_state",)),
    # An extension of case format v1 for notices (README, "Notices"): printed in the
    # letter or choosing its rules of appeal; no input predicate, no rule reads them.
    Field("member.id", "text"),
    Field("member.name", "text"),
    Field("coverage", "object"),
    Field("coverage.line_of_business", "choice", choices=LINES_OF_BUSINESS),
    Field("coverage.plan_id", "text"),
    Field("prescriber", "object"),
    Field("prescriber.specialty", "enum", ("specialty",), choices=("neurology", "ms_specialist", "other")),
    Field("prescriber.consultation_with_specialist", "bool", ("consultation",)),
    Field("chart_date", "date", ("chart_months_back",)),
    Field("diagnosis", "object"),
    Field("diagnosis.condition", "text", ("condition",)),
    Field("diagnosis.ms_course", "enum", ("ms_course",),
          choices=("relapsing_remitting", "secondary_progressive", "primary_progressive", "unspecified")),
    Field("diagnosis.active", "bool", ("disease_active",)),
    Field("dmt_history", "list", ("dmt_trial",)),
    Field("dmt_history[].drug", "drug", ("dmt_trial",), required=True),
    Field("dmt_history[].outcome", "enum", ("dmt_trial",), required=True,
          choices=("failed", "intolerant", "contraindicated", "effective")),
    Field("concurrent_dmts", "list", ("concurrent_dmt",)),
    Field("concurrent_dmts[]", "drug", ("concurrent_dmt",)),
    Field("hiv_positive", "bool", ("hiv_positive",)),
    Field("active_infections", "list", ("active_infection",)),
    Field("active_infections[]", "item", ("active_infection",)),
    Field("lemtrada_courses", "list", ("prior_course", "months_since_last_dose", "running_course")),
    Field("lemtrada_courses[].start_date", "date", ("months_since_last_dose", "running_course"), required=True),
    Field("lemtrada_courses[].days", "int", ("months_since_last_dose", "running_course"), required=True),
    Field("response", "object", ("response_documented",)),
    Field("response.objective", "list", ("response_objective",)),
    Field("response.objective[]", "enum", ("response_objective",), choices=(
        "mri_activity_reduced", "disability_improved_or_stable", "relapse_rate_reduced", "fatigue_or_walking_improved")),
    Field("response.symptoms", "list", ("response_symptom",)),
    Field("response.symptoms[]", "enum", ("response_symptom",), choices=(
        "motor_function", "fatigue", "vision", "bowel_bladder", "spasticity", "walking_gait", "pain_numbness_tingling")),
)

FIELDS: dict[str, Field] = {f.path: f for f in _FIELDS}

# Each input predicate of kb/inputs.lp (but case/1) and the fields it is made from.
PREDICATES: dict[str, frozenset[str]] = {}
for _field in _FIELDS:
    for _name in _field.facts:
        PREDICATES[_name] = PREDICATES.get(_name, frozenset()) | {_field.path}

# The evidence terms the KB uses besides the input predicates themselves.
EVIDENCE_TERMS = ("absent", "no_entry", "no_record", "none_listed", "unrecognised")
