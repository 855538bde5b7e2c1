"""PAS request Bundle -> case v1, as fhir-pas.md maps it, and every reading error at its element.

The fixtures (tests/fixtures/pas/) follow the structure of the Inferno Da Vinci
PAS test kit's conformant request bundle (Apache-2.0) and the HL7 PAS IG's
examples, and include the FHIR core example MedicationRequest medrx0317
(alemtuzumab); its README credits each. Each carries a hand-written expected case; the error tests change one element of the
approve-initial Bundle, whose entries are laid out as in the contract's
examples: [0] Claim, [4] Patient, [5] MedicationRequest, [6] PractitionerRole,
[8] QuestionnaireResponse.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lemtrada_asp.case.pas.fhir_in import BundleError, parse_body, read_request, unwrap_parameters
from lemtrada_asp.case.pas.ids import QUESTIONNAIRE_URL

PAS = Path(__file__).parent / "fixtures" / "pas"
BUNDLES = sorted(p.name.removesuffix(".bundle.json") for p in PAS.glob("*.bundle.json"))
MAPPED = [name for name in BUNDLES if (PAS / f"{name}.case.json").exists()]
CLAIM, PATIENT, MR, ROLE, QR = (f"Bundle.entry[{i}].resource" for i in (0, 4, 5, 6, 8))
DOSAGE = f"{MR}.dosageInstruction[0]"
REPEAT = f"{DOSAGE}.timing.repeat"


def load(name: str) -> dict:
    return json.loads((PAS / f"{name}.bundle.json").read_text())


def base() -> dict:
    return load("approve-initial")


def res(bundle: dict, i: int) -> dict:
    return bundle["entry"][i]["resource"]


def problems(bundle) -> list[tuple]:
    with pytest.raises(BundleError) as caught:
        read_request(bundle)
    return [(p.expression, p.code) for p in caught.value.problems]


def case_of(bundle: dict) -> dict:
    return read_request(bundle)[0].case


def test_fixtures_cover_the_requests_the_issue_names():
    assert {"approve-initial", "deny-step-therapy", "pend-information", "continuation", "third-course", "cis",
            "non-neurology-prescriber", "core-medrx0317", "cll-indication"} <= set(BUNDLES)


@pytest.mark.parametrize("name", MAPPED)
def test_every_fixture_maps_to_its_hand_written_case(name):
    assert case_of(load(name)) == json.loads((PAS / f"{name}.case.json").read_text())


def test_the_core_example_medication_request_is_refused_at_its_dosage():
    expected = json.loads((PAS / "core-medrx0317.error.json").read_text())["issues"]
    assert problems(load("core-medrx0317")) == [(i["expression"], i["code"]) for i in expected]


# --- rule 1: JSON, a Bundle, valid FHIR R4 ----------------------------------------

def test_a_body_that_is_not_json_is_a_structure_problem_without_expression():
    with pytest.raises(BundleError) as caught:
        parse_body(b'{"resourceType": "Bundle",')
    [p] = caught.value.problems
    assert (p.expression, p.code) == (None, "structure")


@pytest.mark.parametrize("body", [[], "Bundle", {"resourceType": "Patient"}, {"type": "collection"}])
def test_anything_but_a_bundle_is_a_structure_problem_without_expression(body):
    assert problems(body) == [(None, "structure")]


def test_a_bundle_of_another_type_is_invalid_at_its_type():
    bundle = base()
    bundle["type"] = "transaction"
    assert problems(bundle) == [("Bundle.type", "invalid")]


def test_a_bundle_without_entries_is_a_structure_problem_at_entry():
    bundle = base()
    del bundle["entry"]
    assert problems(bundle) == [("Bundle.entry", "structure")]


def test_a_first_entry_that_is_not_the_claim_is_a_structure_problem():
    bundle = base()
    bundle["entry"].reverse()
    assert problems(bundle) == [(CLAIM, "structure")]


def test_unknown_elements_and_wrong_types_are_reported_at_each_element():
    bundle = base()
    res(bundle, 4)["favouriteColour"] = "blue"
    res(bundle, 5)["dosageInstruction"][0]["timing"]["repeat"]["count"] = "five"
    assert problems(bundle) == [(f"{PATIENT}.favouriteColour", "invalid"), (f"{REPEAT}.count", "invalid")]


def test_a_missing_required_element_is_required_there():
    bundle = base()
    del res(bundle, 5)["subject"]
    assert problems(bundle) == [(f"{MR}.subject", "required")]


def test_an_unknown_resource_type_is_invalid_at_that_resource():
    bundle = base()
    bundle["entry"][7]["resource"] = {"resourceType": "Doctor", "id": "x"}
    assert problems(bundle) == [("Bundle.entry[7].resource", "invalid")]


def test_nesting_deeper_than_64_levels_is_refused():
    bundle = base()
    deep: dict = {"url": "http://example.org/x", "valueString": "leaf"}
    for _ in range(70):
        deep = {"url": "http://example.org/x", "extension": [deep]}
    res(bundle, 7)["extension"] = [deep]
    assert {code for _, code in problems(bundle)} == {"structure"}


def test_at_most_twenty_problems_are_reported():
    bundle = base()
    for k in range(30):
        res(bundle, 4)[f"unknown{k}"] = k
    assert len(problems(bundle)) == 20


def test_parameters_holding_the_bundle_are_unwrapped_and_other_parameters_refused():
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": base()}]}
    assert case_of(unwrap_parameters(wrapped)) == case_of(base())
    wrapped["parameter"].append({"name": "other", "valueString": "x"})
    with pytest.raises(BundleError) as caught:
        unwrap_parameters(wrapped)
    assert [(p.expression, p.code) for p in caught.value.problems] == [(None, "structure")]


# --- rules 2-7: the Claim and what it points to ------------------------------------

def test_a_claim_that_is_not_a_preauthorization_is_invalid_at_use():
    bundle = base()
    res(bundle, 0)["use"] = "claim"
    assert problems(bundle) == [(f"{CLAIM}.use", "invalid")]


# Version 2: a second drug line and a Claim with no drug line are business errors (X12 901 AG).
def test_a_claim_with_two_drug_lines_is_a_business_error_at_the_second():
    bundle = base()
    res(bundle, 0)["item"].append({**res(bundle, 0)["item"][0], "sequence": 2})
    assert problems(bundle) == [(f"{CLAIM}.item[1].productOrService", "AG")]


def test_a_claim_with_no_drug_line_is_a_business_error_at_item():
    bundle = base()
    res(bundle, 0)["item"][0]["productOrService"]["coding"][0]["code"] = "J2323"
    assert problems(bundle) == [(f"{CLAIM}.item", "AG")]


def test_without_a_requested_service_the_drug_line_needs_a_serviced_period_and_quantity():
    bundle = base()
    res(bundle, 0)["item"][0]["extension"].pop(2)
    assert problems(bundle) == [(f"{CLAIM}.item[0]", "15")]


@pytest.mark.parametrize("target", ["urn:uuid:00000000-0000-0000-0000-000000000000", "MedicationRequest/nowhere",
                                    "urn:uuid:75832284-6c15-488c-8237-0290624d5b94"])
def test_a_requested_service_that_is_not_a_medication_request_of_the_bundle_is_invalid(target):
    bundle = base()
    res(bundle, 0)["item"][0]["extension"][2]["valueReference"]["reference"] = target
    assert problems(bundle) == [(f"{CLAIM}.item[0].extension[2].valueReference", "invalid")]


def test_references_resolve_by_type_and_id_and_to_contained_resources():
    bundle = base()
    res(bundle, 0)["item"][0]["extension"][2]["valueReference"]["reference"] = "MedicationRequest/75832284-6c15-488c-8237-0290624d5b95"
    patient = bundle["entry"].pop(4)["resource"]
    del patient["meta"]
    res(bundle, 0)["contained"] = [{**patient, "id": "member"}]
    res(bundle, 0)["patient"] = {"reference": "#member"}
    assert case_of(bundle) == case_of(base())


def test_a_patient_reference_that_resolves_to_nothing_is_invalid_there():
    bundle = base()
    res(bundle, 0)["patient"]["reference"] = "Patient/unknown"
    assert problems(bundle) == [(f"{CLAIM}.patient", "invalid")]


def test_a_claim_without_insurer_is_an_error_there():
    bundle = base()
    del res(bundle, 0)["insurer"]
    assert problems(bundle) == [(f"{CLAIM}.insurer", "required")]


def test_the_case_id_is_the_claim_id_else_the_bundle_identifier_else_an_error():
    bundle = base()
    del res(bundle, 0)["id"]
    assert case_of(bundle)["id"] == "B-approve-initial"
    del bundle["identifier"]
    assert problems(bundle) == [(f"{CLAIM}.id", "required")]


def test_a_partial_date_is_an_error_at_created_and_birth_date():
    bundle = base()
    res(bundle, 0)["created"] = "2026-05"
    res(bundle, 4)["birthDate"] = "1987"
    assert problems(bundle) == [(f"{CLAIM}.created", "invalid"), (f"{PATIENT}.birthDate", "invalid")]


def test_the_request_date_is_created_as_written_without_time_zone_conversion():
    bundle = base()
    res(bundle, 0)["created"] = "2026-05-01T23:30:00-10:00"  # 2026-05-02 in UTC
    assert case_of(bundle)["request"]["date"] == "2026-05-01"


def test_only_icd10cm_codes_are_read_and_the_x12_form_gets_its_dot():
    bundle = base()
    res(bundle, 0)["diagnosis"] = [
        {"sequence": 1, "diagnosisCodeableConcept": {"coding": [
            {"system": "http://snomed.info/sct", "code": "24700007"},
            {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G35C1"}]}},
        {"sequence": 2, "diagnosisCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G35"}]}},
    ]
    assert case_of(bundle)["request"]["diagnosis_codes"] == ["G35.C1", "G35"]
    del res(bundle, 0)["diagnosis"]
    assert "diagnosis_codes" not in case_of(bundle)["request"]


def test_the_member_state_is_the_first_current_address_with_a_state():
    bundle = base()
    res(bundle, 4)["address"] = [{"use": "old", "state": "NY"}, {"city": "X"}, {"use": "work", "state": "FL"}]
    assert case_of(bundle)["member"]["state"] == "FL"
    res(bundle, 4)["address"] = [{"use": "old", "state": "NY"}]
    del res(bundle, 4)["birthDate"]
    assert "member" not in case_of(bundle)


def test_the_prescriber_specialty_answer_wins_over_the_role_and_the_role_is_read_otherwise():
    bundle = base()
    res(bundle, 8)["item"].insert(1, {"linkId": "prescriber.specialty", "answer": [{"valueCoding": {"code": "ms_specialist"}}]})
    assert case_of(bundle)["prescriber"] == {"specialty": "ms_specialist"}
    bundle = base()
    res(bundle, 6)["specialty"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "394591006"}]}]
    assert "prescriber" not in case_of(bundle)


def test_a_requester_that_is_not_a_practitioner_role_gives_no_role():
    bundle = base()
    res(bundle, 5)["requester"] = {"reference": "urn:uuid:75832284-6c15-488c-8237-0290624d5b97"}  # the Practitioner
    assert "prescriber" not in case_of(bundle)
    res(bundle, 5)["requester"] = {"reference": "Practitioner/not-in-the-bundle"}
    assert "prescriber" not in case_of(bundle)


def test_a_requester_that_resolves_to_nothing_is_an_error_at_requester():
    bundle = base()
    res(bundle, 5)["requester"] = {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}
    assert problems(bundle) == [(f"{MR}.requester", "invalid")]


def test_what_the_contract_does_not_map_never_changes_the_case():
    bundle = base()
    res(bundle, 5)["reasonCode"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "92814006"}]}]
    res(bundle, 5)["medicationCodeableConcept"] = {"text": "something else"}
    bundle["entry"].append({"fullUrl": "urn:uuid:c0", "resource": {
        "resourceType": "Condition", "subject": {"reference": "urn:uuid:75832284-6c15-488c-8237-0290624d5b94"},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C91.10"}]}}})
    assert case_of(bundle) == case_of(base())


# --- the QuestionnaireResponse (rule 7 and its table) -----------------------------

def second_qr(bundle: dict, **changes) -> dict:
    qr = copy.deepcopy(bundle["entry"][8])
    qr["fullUrl"] = "urn:uuid:second"
    qr["resource"]["id"] = "second"
    qr["resource"].update(changes)
    qr["resource"]["item"] = [{"linkId": "hiv_positive", "answer": [{"valueBoolean": True}]}]
    bundle["entry"].append(qr)
    res(bundle, 0)["supportingInfo"].append({"sequence": 2, "category": res(bundle, 0)["supportingInfo"][0]["category"],
                                             "valueReference": {"reference": "urn:uuid:second"}})
    return bundle


def test_two_questionnaire_responses_are_an_error_at_the_second_supporting_info():
    assert problems(second_qr(base())) == [(f"{CLAIM}.supportingInfo[1]", "invalid")]


@pytest.mark.parametrize("changes", [{"questionnaire": "http://example.org/Questionnaire/other"},
                                     {"status": "entered-in-error"}])
def test_other_and_entered_in_error_questionnaire_responses_are_ignored(changes):
    assert case_of(second_qr(base(), **changes)) == case_of(base())


def test_an_unreferenced_questionnaire_response_is_ignored_and_the_version_is_optional():
    bundle = second_qr(base())
    res(bundle, 0)["supportingInfo"].pop()
    assert case_of(bundle) == case_of(base())
    res(bundle, 8)["questionnaire"] = QUESTIONNAIRE_URL
    assert case_of(bundle) == case_of(base())


def test_without_a_questionnaire_response_every_answered_field_is_absent():
    bundle = base()
    del res(bundle, 0)["supportingInfo"]
    assert set(case_of(bundle)) == {"id", "request", "member", "prescriber"}


def appended(item: dict):
    return lambda items: items.append(item) or len(items) - 1


def replaced(index: int, item: dict):
    return lambda items: items.__setitem__(index, item) or index


@pytest.mark.parametrize("change, code", [
    (appended({"linkId": "favourite_drug", "answer": [{"valueString": "x"}]}), "invalid"),  # unknown linkId
    (appended({"linkId": "dmt_history.drug", "answer": [{"valueCoding": {"code": "fingolimod"}}]}), "invalid"),  # out of place
    (appended({"linkId": "chart_date", "answer": [{"valueDate": "2026-04-21"}]}), "invalid"),  # a second item
    (replaced(7, {"linkId": "hiv_positive", "answer": [{"valueBoolean": False}, {"valueBoolean": True}]}), "invalid"),
    (replaced(3, {"linkId": "diagnosis.active", "answer": [{"valueString": "yes"}]}), "invalid"),  # another type
    (replaced(6, {"linkId": "concurrent_dmts", "answer": [{"valueCoding": {"code": "fingolimod"}, "item": [{"linkId": "x"}]}]}), "invalid"),
    (appended({"linkId": "dmt_history", "item": [{"linkId": "dmt_history.drug", "answer": [{"valueCoding": {"code": "fingolimod"}}]}]}),
     "required"),  # a group entry lacking a field
    (replaced(0, {"linkId": "chart_date", "answer": [{"valueDate": "2026-04-20"}], "item": [{"linkId": "x"}]}), None),
])
def test_questionnaire_item_errors_are_reported_at_the_item(change, code):
    bundle = base()
    at = change(res(bundle, 8)["item"])
    if code is None:  # child items under a field that is not a group: reported at the child
        assert problems(bundle) == [(f"{QR}.item[{at}].item[0]", "invalid")]
    else:
        assert problems(bundle) == [(f"{QR}.item[{at}]", code)]


def test_a_coding_of_another_system_is_an_error_at_the_answer_value():
    bundle = base()
    res(bundle, 8)["item"][2]["answer"][0]["valueCoding"]["system"] = "http://snomed.info/sct"
    assert problems(bundle) == [(f"{QR}.item[2].answer[0].valueCoding", "invalid")]


def test_answer_extensions_and_displays_are_ignored_and_open_choice_takes_text():
    bundle = base()
    res(bundle, 8)["item"][2]["answer"][0]["extension"] = [{
        "url": "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin",
        "extension": [{"url": "source", "valueCode": "manual"}]}]
    res(bundle, 8)["item"][2]["answer"][0]["valueCoding"]["display"] = "anything at all"
    res(bundle, 8)["item"][1]["answer"] = [{"valueString": "Multiple Sclerosis"}]
    case = case_of(bundle)
    assert case["diagnosis"] == {"condition": "Multiple Sclerosis", "ms_course": "relapsing_remitting", "active": True}


def test_an_unanswered_item_is_an_empty_list_for_a_list_field_and_absent_otherwise():
    bundle = base()
    res(bundle, 8)["item"][7].pop("answer")  # hiv_positive
    res(bundle, 8)["item"].append({"linkId": "response.symptoms"})
    case = case_of(bundle)
    assert "hiv_positive" not in case
    assert case["concurrent_dmts"] == [] and case["response"] == {"symptoms": []}


# --- dose and days --------------------------------------------------------------------

def dosage_problem(change) -> list[tuple]:
    bundle = base()
    change(res(bundle, 5)["dosageInstruction"][0])
    return problems(bundle)


def test_exactly_one_dosage_instruction():
    bundle = base()
    res(bundle, 5)["dosageInstruction"] *= 2
    assert problems(bundle) == [(f"{MR}.dosageInstruction", "not-supported")]


@pytest.mark.parametrize("change, at", [
    (lambda d: d["doseAndRate"][0].update(doseQuantity={"value": 1.2, "unit": "mL", "code": "mL", "system": "http://unitsofmeasure.org"}), "doseQuantity"),
    (lambda d: d["doseAndRate"][0].update(doseQuantity=None, doseRange={"low": {"value": 10, "code": "mg"}}), "doseQuantity"),
    (lambda d: d.pop("doseAndRate"), "doseQuantity"),
    (lambda d: d["doseAndRate"][0]["doseQuantity"].update(value=0), "doseQuantity.value"),
])
def test_a_dose_that_is_not_a_positive_mg_quantity_is_an_error_at_the_dose(change, at):
    def apply(d):
        change(d)
        if d.get("doseAndRate") and d["doseAndRate"][0].get("doseQuantity") is None:
            d["doseAndRate"][0].pop("doseQuantity")
    assert [e for e, _ in dosage_problem(apply)] == [f"{DOSAGE}.doseAndRate[0].{at}"]


def test_a_dose_in_mg_by_unit_alone_is_read():
    bundle = base()
    res(bundle, 5)["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {"value": 12.0, "unit": "mg"}
    assert case_of(bundle)["request"]["dose_mg_per_day"] == 12
    assert isinstance(case_of(bundle)["request"]["dose_mg_per_day"], int)


@pytest.mark.parametrize("changes, at, code", [
    ({"periodUnit": "wk"}, "periodUnit", "not-supported"),
    ({"period": 2}, "period", "not-supported"),
    ({"when": ["MORN"]}, "when", "not-supported"),
    ({"offset": 30}, "offset", "not-supported"),
    ({"frequency": 2}, "count", "invalid"),  # count 5 is not a whole number of days at 2 a day
])
def test_a_schedule_other_than_one_dose_on_each_dosing_day_is_an_error_at_its_element(changes, at, code):
    assert dosage_problem(lambda d: d["timing"]["repeat"].update(changes)) == [(f"{REPEAT}.{at}", code)]


def test_no_timing_repeat_or_no_count_and_no_duration_is_an_error_at_repeat():
    assert dosage_problem(lambda d: d.update(timing={"event": ["2026-05-12"]})) == [(REPEAT, "required")]
    assert dosage_problem(lambda d: d["timing"]["repeat"].pop("count")) == [(REPEAT, "required")]


@pytest.mark.parametrize("duration, days", [({"value": 1, "code": "wk"}, 7), ({"value": 5.0, "code": "d"}, 5)])
def test_bounds_duration_gives_the_days(duration, days):
    bundle = base()
    repeat = res(bundle, 5)["dosageInstruction"][0]["timing"]["repeat"]
    del repeat["count"]
    repeat["boundsDuration"] = {**duration, "system": "http://unitsofmeasure.org"}
    del res(bundle, 0)["item"][0]["quantity"]  # version 2 checks a stated quantity against dose x days
    assert case_of(bundle)["request"]["days"] == days


@pytest.mark.parametrize("duration", [{"value": 2.5, "code": "d"}, {"value": 3, "code": "h"}, {"value": 0.5, "code": "d"}])
def test_a_bounds_duration_that_is_not_whole_days_is_an_error_there(duration):
    def change(d):
        del d["timing"]["repeat"]["count"]
        d["timing"]["repeat"]["boundsDuration"] = duration
    assert dosage_problem(change) == [(f"{REPEAT}.boundsDuration", "invalid")]


def test_frequency_multiplies_the_dose_and_divides_the_count():
    bundle = base()
    dosage = res(bundle, 5)["dosageInstruction"][0]
    dosage["doseAndRate"][0]["doseQuantity"]["value"] = 6
    dosage["timing"]["repeat"].update(frequency=2, count=10)
    assert {k: case_of(bundle)["request"][k] for k in ("dose_mg_per_day", "days")} == {"dose_mg_per_day": 12, "days": 5}


# --- case-format problems, reported where their field came from ---------------------

@pytest.mark.parametrize("change, at", [
    (lambda b: res(b, 8)["item"][0]["answer"][0].update(valueDate="2026-05-02"), f"{QR}.item[0].answer[0].valueDate"),
    (lambda b: res(b, 8)["item"][4]["item"][0]["answer"][0]["valueCoding"].update(code="aspirin"),
     f"{QR}.item[4].item[0].answer[0].valueCoding"),
    (lambda b: res(b, 8)["item"][2]["answer"][0]["valueCoding"].update(code="benign"), f"{QR}.item[2].answer[0].valueCoding"),
    (lambda b: res(b, 8)["item"][6].update(answer=[{"valueCoding": {"code": "Ocrevus"}}, {"valueCoding": {"code": "Lemtrada"}}]),
     f"{QR}.item[6].answer[1].valueCoding"),
    (lambda b: res(b, 0)["item"][0].update(servicedDate="2026-04-30"), f"{CLAIM}.item[0].servicedDate"),
    (lambda b: res(b, 4).update(birthDate="2026-06-01"), f"{PATIENT}.birthDate"),
    (lambda b: res(b, 4)["address"][0].update(state="ZZ"), f"{PATIENT}.address[0].state"),
    (lambda b: (res(b, 0).pop("id"), b["identifier"].update(value="B 1")), "Bundle.identifier.value"),
])
def test_a_case_format_problem_is_reported_at_the_element_its_field_came_from(change, at):
    bundle = base()
    change(bundle)
    assert problems(bundle) == [(at, "invalid")]


def test_the_message_of_a_case_format_problem_names_the_case_field():
    bundle = base()
    res(bundle, 8)["item"][0]["answer"][0]["valueDate"] = "2026-05-02"
    with pytest.raises(BundleError) as caught:
        read_request(bundle)
    assert caught.value.problems[0].message.startswith("chart_date: ")
    assert caught.value.case_id == "PA-1001"
