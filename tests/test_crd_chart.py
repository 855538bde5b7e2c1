"""The chart mapping (case/fhir/chart.py): every FHIRPath entry evaluated by fhirpathpy on authored FHIR resources."""

from __future__ import annotations

import copy

import pytest

pytest.importorskip("fhirpathpy")

from lemtrada_asp.case.fhir.chart import CONTEXTS, entries, evaluate, read_chart
from lemtrada_asp.case.fhir.codes import chart_codes
from lemtrada_asp.case.model import validate_case

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NUCC = "http://nucc.org/provider-taxonomy"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def patient(**extra):
    return {"resourceType": "Patient", "id": "p1", "birthDate": "1990-04-02",
            "address": [{"use": "old", "state": "CA"}, {"use": "home", "state": "TX"}], **extra}


def role(code="2084N0400X"):
    return {"resourceType": "PractitionerRole", "id": "r1",
            "specialty": [{"coding": [{"system": NUCC, "code": code}]}]}


def order(days=5, dose=12, reason="G35.A"):
    return {"resourceType": "MedicationRequest", "id": "o1", "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1594660"}]},
            "subject": {"reference": "Patient/p1"},
            "reasonCode": [{"coding": [{"system": ICD, "code": reason}]}],
            "dosageInstruction": [{"timing": {"repeat": {"count": days, "frequency": 1, "period": 1, "periodUnit": "d"}},
                                   "doseAndRate": [{"doseQuantity": {"value": dose, "unit": "mg",
                                                                     "system": "http://unitsofmeasure.org", "code": "mg"}}]}]}


def condition(code, status="active", verification="confirmed"):
    return {"resourceType": "Condition", "id": f"c-{code}", "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                               "code": verification}]},
            "code": {"coding": [{"system": ICD, "code": code}]}}


def medication(code, kind="MedicationStatement", status="active"):
    resource = {"resourceType": kind, "id": f"m-{code}-{status}", "status": status,
                "subject": {"reference": "Patient/p1"},
                "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]}}
    if kind == "MedicationRequest":
        resource["intent"] = "order"
    return resource


def chart(**overrides):
    base = {"patient": patient(), "practitionerRole": role(), "medicationRequest": order(),
            "conditions": [condition("G35.A")], "medications": [medication("354770")]}
    base.update(overrides)
    return base


def test_every_entry_names_a_known_context_and_evaluates_on_the_authored_chart():
    found = {}
    for entry in entries():
        assert entry.context in CONTEXTS
        if entry.prepopulates:
            found[entry.field] = evaluate(entry, chart())
    assert found == {
        "member.birth_date": ["1990-04-02"], "member.state": ["TX"], "prescriber.specialty": ["neurology"],
        "request.diagnosis_codes": ["G35.A"], "diagnosis.condition": ["multiple_sclerosis"],
        "diagnosis.ms_course": ["relapsing_remitting"], "diagnosis.active": [], "concurrent_dmts": ["natalizumab"]}


def test_a_full_chart_reads_into_a_case_the_case_format_accepts():
    case, problems = read_chart(chart())
    assert problems == []
    assert case == {"member": {"birth_date": "1990-04-02", "state": "TX"}, "prescriber": {"specialty": "neurology"},
                    "request": {"dose_mg_per_day": 12, "days": 5, "diagnosis_codes": ["G35.A"]},
                    "diagnosis": {"condition": "multiple_sclerosis", "ms_course": "relapsing_remitting"},
                    "concurrent_dmts": ["natalizumab"]}
    case.update(id="crd-1")
    case["request"]["date"] = "2026-05-01"
    assert validate_case(case, "chart").concurrent_dmts == ["natalizumab"]


def test_an_empty_chart_states_nothing():
    assert read_chart({}) == ({}, [])


def test_a_non_neurology_nucc_code_is_other_and_a_role_without_nucc_states_nothing():
    assert read_chart({"practitionerRole": role("207Q00000X")})[0] == {"prescriber": {"specialty": "other"}}
    no_nucc = role()
    no_nucc["specialty"][0]["coding"][0]["system"] = "http://snomed.info/sct"
    assert read_chart({"practitionerRole": no_nucc})[0] == {}


def test_only_a_current_address_gives_the_state_and_an_address_without_use_counts():
    p = patient(address=[{"use": "old", "state": "CA"}])
    assert read_chart({"patient": p})[0] == {"member": {"birth_date": "1990-04-02"}}
    p = patient(address=[{"state": "NY"}])
    assert read_chart({"patient": p})[0]["member"]["state"] == "NY"


def test_a_partial_birth_date_is_a_problem_and_the_field_is_left_out():
    case, problems = read_chart({"patient": patient(birthDate="1987")})
    assert "birth_date" not in case.get("member", {})
    assert [(p.field, "partial date" in p.message) for p in problems] == [("member.birth_date", True)]


@pytest.mark.parametrize(("code", "course", "active"), [
    ("G35.A", "relapsing_remitting", None), ("G35A", "relapsing_remitting", None),
    ("G35.B1", "primary_progressive", True), ("G35.B2", "primary_progressive", False),
    ("G35.C1", "secondary_progressive", True), ("G35.D", "unspecified", None), ("G35", None, None)])
def test_an_ms_code_names_the_condition_its_form_and_where_it_says_so_its_activity(code, course, active):
    case, problems = read_chart({"conditions": [condition(code)]})
    expected = {"condition": "multiple_sclerosis"}
    if course:
        expected["ms_course"] = course
    if active is not None:
        expected["active"] = active
    assert (case, problems) == ({"diagnosis": expected}, [])


def test_every_kb_ms_code_is_read_by_the_mapping():
    for ms in chart_codes().ms:
        diagnosis = read_chart({"conditions": [condition(ms.code)]})[0]["diagnosis"]
        assert diagnosis.get("ms_course") == ms.ms_course and diagnosis.get("active") == ms.active


@pytest.mark.parametrize("kind", [{"status": "resolved"}, {"status": "inactive"}, {"verification": "refuted"},
                                  {"verification": "provisional"}, {"verification": "entered-in-error"}])
def test_a_condition_that_is_not_live_states_nothing(kind):
    assert read_chart({"conditions": [condition("G35.B0", **kind)]}) == ({}, [])


def test_two_forms_of_ms_state_none_and_say_so():
    case, problems = read_chart({"conditions": [condition("G35.A"), condition("G35.B0")]})
    assert case == {"diagnosis": {"condition": "multiple_sclerosis"}}
    assert [p.field for p in problems] == ["diagnosis.ms_course"]


def test_a_condition_that_is_not_ms_states_nothing():
    assert read_chart({"conditions": [condition("K50.90")]}) == ({}, [])


def test_concurrent_dmts_are_the_live_orders_and_statements_of_known_dmt_codes():
    meds = [medication("354770"), medication("1012892", "MedicationRequest"), medication("1373478", status="stopped"),
            medication("214582", "MedicationRequest", status="completed"), medication("117055"), medication("999999")]
    assert read_chart({"medications": meds})[0] == {"concurrent_dmts": ["natalizumab", "fingolimod"]}


def test_every_kb_dmt_code_is_read_as_its_case_format_drug():
    for code, drug in chart_codes().dmts:
        assert read_chart({"medications": [medication(code)]})[0] == {"concurrent_dmts": [drug]}


def test_the_order_dosage_is_read_by_the_pas_reading_of_dose_and_days():
    weekly = order()
    weekly["dosageInstruction"][0]["timing"]["repeat"] = {"boundsPeriod": {"start": "2026-05-04", "end": "2026-05-10"},
                                                         "dayOfWeek": ["mon", "wed", "fri"], "frequency": 3,
                                                         "period": 1, "periodUnit": "wk"}
    case, problems = read_chart({"medicationRequest": weekly})
    assert problems == []
    assert case["request"] == {"dose_mg_per_day": 12, "days": 3, "consecutive": False, "diagnosis_codes": ["G35.A"]}


def test_an_order_without_a_dose_is_a_problem_naming_the_element():
    bad = copy.deepcopy(order())
    del bad["dosageInstruction"][0]["doseAndRate"]
    case, problems = read_chart({"medicationRequest": bad})
    assert case["request"] == {"days": 5, "diagnosis_codes": ["G35.A"]}
    assert [p.field for p in problems] == ["request.dose_mg_per_day"]
    assert "doseQuantity" in problems[0].message


def test_a_malformed_resource_is_a_problem_not_a_crash():
    case, problems = read_chart({"patient": {"resourceType": "Patient", "birthDate": 12, "address": "TX"}})
    assert "state" not in case.get("member", {})
    assert all(p.field.startswith("member.") for p in problems)
