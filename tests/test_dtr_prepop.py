"""DTR pre-population: the Questionnaire's own FHIRPath, generated from the chart mapping, fills what read_chart reads.

Every launchContext, variable and initialExpression of the generated Questionnaire is
evaluated by a real FHIRPath engine (fhirpathpy) on authored chart resources
(tests/fixtures/dtr/chart.json) -- and, when present, on the Inferno DTR examples
adapted here -- and the pre-filled answers must equal the case ``read_chart`` (CRD's
reading) gives for the same chart.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from lemtrada_asp.case.fhir import chart
from lemtrada_asp.service.dtr import prepop
from lemtrada_asp.service.questionnaire import questionnaire

HERE = Path(__file__).parent
CHART = HERE / "fixtures" / "dtr" / "chart.json"
CLINICAL = {"clinical-status": lambda r: [c.get("code") for c in (r.get("clinicalStatus") or {}).get("coding", [])],
            "status": lambda r: [r.get("status")]}


def examples_dir() -> Path:
    return Path(os.environ.get("LEMTRADA_FHIR_EXAMPLES_DIR") or HERE.parent.parent / "shared" / "examples") / "dtr"


def resources(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]]


def searcher(store: list[dict]):
    """A FHIR search over ``store`` for the queries the form makes: type, patient, token filters."""
    def search(query: str) -> dict:
        kind, _, params = query.partition("?")
        found = [r for r in store if r["resourceType"] == kind]
        for name, value in parse_qsl(params):
            if name == "patient":
                found = [r for r in found if (r.get("subject") or r.get("beneficiary") or {}).get("reference") == f"Patient/{value}"]
            else:
                found = [r for r in found if set(CLINICAL[name](r)) & set(value.split(","))]
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]}
    return search


def chart_context(store: list[dict], patient: dict, order: dict, role: dict | None, coverage: dict | None) -> dict:
    """What read_chart reads: the chart contexts, the lists being every one of the member's resources."""
    mine = [r for r in store if (r.get("subject") or {}).get("reference") == f"Patient/{patient['id']}"]
    return {"patient": patient, "coverage": coverage, "practitionerRole": role, "medicationRequest": order,
            "conditions": [r for r in mine if r["resourceType"] == "Condition"],
            "medications": [r for r in mine if r["resourceType"] in ("MedicationRequest", "MedicationStatement")
                            and r is not order]}


def form_fields(case: dict, form: dict) -> dict:
    """The fields of a case that are items of the form (read_chart also reads the Claim's)."""
    items = {i["linkId"] for i in form["item"]}
    out: dict = {}
    for top, value in case.items():
        if isinstance(value, dict):
            kept = {k: v for k, v in value.items() if f"{top}.{k}" in items}
            if kept:
                out[top] = kept
        elif top in items:
            out[top] = value
    return out


@pytest.fixture(scope="module")
def form() -> dict:
    return questionnaire()


@pytest.fixture(scope="module")
def store() -> list[dict]:
    return resources(json.loads(CHART.read_text()))


def by_id(store, kind, rid):
    return next(r for r in store if r["resourceType"] == kind and r["id"] == rid)


def test_every_chart_entry_on_an_item_has_an_initial_expression_and_every_chart_context_a_launch(form):
    items = {i["linkId"]: i for i in form["item"]}
    expected = {e.field for e in chart.entries() if e.field in items and e.prepopulates}
    with_initial = {i["linkId"] for i in form["item"]
                    if any(x["url"] == prepop.INITIAL_EXPRESSION for x in i.get("extension", []))}
    assert with_initial == expected == {"prescriber.specialty", "diagnosis.condition", "diagnosis.ms_course",
                                        "diagnosis.active", "concurrent_dmts"}
    launched = {next(e["valueCoding"]["code"] for e in x["extension"] if e["url"] == "name")
                for x in form["extension"] if x["url"] == prepop.LAUNCH_CONTEXT}
    assert launched == {"patient", "coverage", "user", "order"}
    variables = {x["valueExpression"]["name"] for x in form["extension"] if x["url"] == prepop.VARIABLE}
    assert set(chart.CONTEXTS) <= launched | variables  # every chart context the expressions name is bound


def test_the_prefilled_answers_equal_what_read_chart_reads(form, store):
    patient, order = by_id(store, "Patient", "pat-1"), by_id(store, "MedicationRequest", "order-1")
    role, coverage = by_id(store, "PractitionerRole", "role-1"), by_id(store, "Coverage", "cov-1")
    answers = prepop.populate(form, {"patient": patient, "user": role, "coverage": coverage, "order": order}, searcher(store))
    case, problems = chart.read_chart(chart_context(store, patient, order, role, coverage))
    assert problems == []
    prefilled = prepop.answers_as_case(form, answers)
    assert prefilled == form_fields(case, form)
    # and what that is, so neither side can be empty and agree: the live MS code, the active DMTs
    assert prefilled == {"prescriber": {"specialty": "neurology"},
                         "diagnosis": {"condition": "multiple_sclerosis", "ms_course": "relapsing_remitting"},
                         "concurrent_dmts": ["natalizumab", "fingolimod"]}
    assert answers["diagnosis.ms_course"] == [{"system": "http://lemtrada-asp.example/fhir/CodeSystem/case-v1",
                                               "code": "relapsing_remitting", "display": "Relapsing remitting"}]


def test_a_chart_stating_two_forms_of_ms_prefills_none_as_read_chart_leaves_it_undocumented(form, store):
    store = copy.deepcopy(store)
    second = copy.deepcopy(by_id(store, "Condition", "ms-1"))
    second["id"] = "ms-2"
    second["code"]["coding"][0]["code"] = "G35.C2"  # non-active secondary progressive
    store.append(second)
    patient, order = by_id(store, "Patient", "pat-1"), by_id(store, "MedicationRequest", "order-1")
    answers = prepop.populate(form, {"patient": patient, "order": order}, searcher(store))
    case, problems = chart.read_chart(chart_context(store, patient, order, None, None))
    assert [p.field for p in problems] == ["diagnosis.ms_course"]
    assert "diagnosis.ms_course" not in answers and "ms_course" not in case["diagnosis"]
    assert answers["diagnosis.active"] == [False] and case["diagnosis"]["active"] is False
    assert prepop.answers_as_case(form, answers) == form_fields(case, form)


def test_an_empty_chart_prefills_nothing(form):
    patient = {"resourceType": "Patient", "id": "nobody"}
    assert prepop.populate(form, {"patient": patient}, searcher([])) == {}
    assert form_fields(chart.read_chart({"patient": patient})[0], form) == {}


def test_the_inferno_dtr_examples_launch_the_form_and_prefill_what_read_chart_reads(form, store):
    folder = examples_dir()
    if not folder.is_dir():
        pytest.skip(f"no Inferno DTR examples at {folder} (set LEMTRADA_FHIR_EXAMPLES_DIR to the folder holding dtr/)")
    params = json.loads((folder / "questionnaire_package_input_params_conformant.json").read_text())
    coverage = next(p["resource"] for p in params["parameter"] if p["name"] == "coverage")
    # Adapted: their Coverage launches the form; its beneficiary is the member, whose chart is ours re-pointed at them.
    member = coverage["beneficiary"]["reference"].split("/")[-1]
    theirs = json.loads(json.dumps(store).replace("Patient/pat-1", f"Patient/{member}"))
    patient = {**by_id(theirs, "Patient", "pat-1"), "id": member}
    order, role = by_id(theirs, "MedicationRequest", "order-1"), by_id(theirs, "PractitionerRole", "role-1")
    answers = prepop.populate(form, {"patient": patient, "user": role, "coverage": coverage, "order": order}, searcher(theirs))
    case, problems = chart.read_chart(chart_context(theirs, patient, order, role, coverage))
    assert problems == [] and answers
    assert prepop.answers_as_case(form, answers) == form_fields(case, form)
