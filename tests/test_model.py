"""Validation of case format v1: every error names the field and what was expected."""

from __future__ import annotations

import pytest

from conftest import CONTINUATION, DELETE, INITIAL, vary
from lemtrada_asp.engine.errors import CaseValidationError
from lemtrada_asp.case.model import validate_case


def problems(data) -> dict[str, str]:
    with pytest.raises(CaseValidationError) as caught:
        validate_case(data, "case.json")
    assert all(str(p).startswith(p.field) for p in caught.value.problems)
    return {p.field: p.message for p in caught.value.problems}


def test_valid_cases_validate():
    assert validate_case(INITIAL, "x").id == "T-INITIAL"
    assert validate_case(CONTINUATION, "x").lemtrada_courses[0].days == 5


def test_brand_names_are_aliases_of_the_canonical_drug_in_any_case():
    case = validate_case(vary(INITIAL, {"dmt_history": [{"drug": "TYSABRI", "outcome": "failed"},
                                                        {"drug": "copaxone", "outcome": "effective"}],
                                        "concurrent_dmts": ["Rebif"]}), "x")
    assert [t.drug for t in case.dmt_history] == ["natalizumab", "glatiramer_acetate"]
    assert case.concurrent_dmts == ["interferon_beta"]


@pytest.mark.parametrize(
    "changes,field,words",
    [
        ({"request.dose": 12}, "request.dose", "unknown field"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"id": DELETE}, "id", "required"),
        ({"request.date": DELETE}, "request.date", "required"),
        ({"id": "bad id!"}, "id", "pattern"),
        ({"request.dose_mg_per_day": 0}, "request.dose_mg_per_day", "greater than 0"),
        ({"request.dose_mg_per_day": "12"}, "request.dose_mg_per_day", "'12'"),
        ({"request.days": 0}, "request.days", "greater than or equal to 1"),
        ({"request.days": 2.5}, "request.days", "integer"),
        ({"request.date": "2026-13-01"}, "request.date", "real calendar date"),
        ({"request.date": "01/05/2026"}, "request.date", "YYYY-MM-DD"),
        ({"request.date": 20260501}, "request.date", "YYYY-MM-DD"),
        ({"member.state": "XX"}, "member.state", "US state"),
        ({"prescriber.specialty": "cardiology"}, "prescriber.specialty", "neurology"),
        ({"hiv_positive": "no"}, "hiv_positive", "boolean"),
        ({"diagnosis.ms_course": "relapsing"}, "diagnosis.ms_course", "relapsing_remitting"),
        ({"diagnosis.condition": ""}, "diagnosis.condition", "at least 1"),
        ({"diagnosis.condition": "   "}, "diagnosis.condition", "white space"),
        ({"diagnosis.condition": "x" * 201}, "diagnosis.condition", "at most 200"),
        ({"dmt_history": [{"drug": "aspirin", "outcome": "failed"}]}, "dmt_history[0].drug", "unknown drug"),
        ({"dmt_history": [{"drug": "natalizumab", "outcome": "worked"}]}, "dmt_history[0].outcome", "effective"),
        ({"dmt_history": [{"drug": "Lemtrada", "outcome": "failed"}]}, "dmt_history[0].drug", "alemtuzumab"),
        ({"concurrent_dmts": ["alemtuzumab"]}, "concurrent_dmts[0]", "never a prior or concurrent"),
        ({"active_infections": [""]}, "active_infections[0]", "at least 1"),
        ({"response": {"objective": ["felt_better"]}}, "response.objective[0]", "mri_activity_reduced"),
        ({"chart_date": "2026-05-02"}, "chart_date", "after request.date"),
        ({"member.birth_date": "2026-05-02"}, "member.birth_date", "after request.date"),
        ({"request.start_date": "2026-04-30"}, "request.start_date", "before request.date"),
        ({"lemtrada_courses": [{"start_date": "2026-05-02", "days": 5}]}, "lemtrada_courses[0].start_date", "after request.date"),
    ],
)
def test_an_invalid_case_names_the_field_and_what_was_expected(changes, field, words):
    found = problems(vary(INITIAL, changes))
    assert field in found, found
    assert words in found[field], found[field]


def test_a_case_that_is_not_a_mapping_is_rejected_with_what_it_was():
    assert "a list" in problems([1, 2])[""]


def test_absent_empty_and_false_are_kept_apart():
    bare = validate_case({"id": "A", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 5}}, "x")
    assert bare.concurrent_dmts is None and bare.hiv_positive is None
    empty = validate_case(vary(INITIAL, {"concurrent_dmts": [], "hiv_positive": False}), "x")
    assert empty.concurrent_dmts == [] and empty.hiv_positive is False
