"""The adaptive form through a real server: $next-question until completed, then PAS $submit carrying
the adaptive QuestionnaireResponse, decided as the equivalent case; its hostile inputs and profiles."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest
from fhir_validation import errors, example_limits, needs_ig, validate
from test_fhir_service import decision_of

from lemtrada_asp.case.pas import ids
from lemtrada_asp.service.bench import start, stop
from lemtrada_asp.service.dtr import adaptive

HERE = Path(__file__).parent
PAS = HERE / "fixtures" / "pas"
FHIR = {"content-type": "application/fhir+json"}
NEXT = "/fhir/Questionnaire/$next-question"
CASES = ["approve-initial", "continuation", "deny-step-therapy", "pend-information", "cis", "third-course"]


@pytest.fixture(scope="module")
def url():
    proc, address = start()
    yield address
    assert stop(proc) == 0


def post(url: str, path: str, body) -> httpx.Response:
    return httpx.post(url + path, content=body if isinstance(body, bytes) else json.dumps(body), headers=FHIR, timeout=120)


def resources(bundle: dict) -> dict[str, dict]:
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


def first_response(bundle: dict, form: dict) -> dict:
    """The client's opening QuestionnaireResponse: no answers, its order, Patient and prescriber role contained."""
    found = resources(bundle)
    order = {**copy.deepcopy(found["MedicationRequest"]), "id": "order"}
    # The order states its reason as the Claim states its diagnosis: the chart's diagnosis codes.
    order["reasonCode"] = [d["diagnosisCodeableConcept"] for d in found["Claim"].get("diagnosis", [])] or order.get("reasonCode", [])
    if not order["reasonCode"]:
        del order["reasonCode"]
    contained = [order, {**found["Patient"], "id": "member"}]
    if "PractitionerRole" in found and order.get("requester"):
        order["requester"] = {"reference": "#role"}
        contained.append({**found["PractitionerRole"], "id": "role", "practitioner": {"display": "the prescriber"}})
    order["subject"] = {"reference": "#member"}
    qr = adaptive.start(form, {"reference": "#member"}, qr_id=found["QuestionnaireResponse"]["id"]
                        if "QuestionnaireResponse" in found else "adaptive")
    qr["contained"] += contained
    qr["extension"] = [{"url": adaptive.QR_CONTEXT, "valueReference": {"reference": "#order"}}]
    qr["authored"] = found["Claim"]["created"]
    return qr


def run_form(url: str, name: str) -> tuple[dict, list[str], dict]:
    """The adaptive form of a PAS fixture, each question answered as the fixture's static response does."""
    bundle = json.loads((PAS / f"{name}.bundle.json").read_text())
    form = httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json()
    static: dict[str, list[dict]] = {}
    for item in resources(bundle).get("QuestionnaireResponse", {}).get("item", []):
        static.setdefault(item["linkId"], []).append(item)
    qr = first_response(bundle, form)
    body: dict = {"resourceType": "Parameters", "parameter": [{"name": "questionnaire-response", "resource": qr}]}
    asked: list[str] = []
    for _ in range(len(form["item"]) + 1):
        r = post(url, NEXT, body)
        assert r.status_code == 200, r.text[:800]
        qr = r.json()
        now = [i["linkId"] for i in next(c for c in qr["contained"] if c["resourceType"] == "Questionnaire").get("item", [])]
        assert now[:len(asked)] == asked  # questions are appended, never taken back
        if qr["status"] == "completed":
            assert now == asked
            return bundle, asked, qr
        [new] = now[len(asked):]
        asked.append(new)
        qr["item"] = qr.get("item", []) + static.get(new, [])  # a question the chart has no answer to: left unanswered
        body = qr  # the bare QuestionnaireResponse: the other form of the input
    raise AssertionError(f"the form asked more than its {len(form['item'])} questions: {asked}")


def equivalent_case(name: str, asked: list[str]) -> dict:
    """The fixture's case with only what the adaptive form asked: every other QuestionnaireResponse field absent."""
    case = json.loads((PAS / f"{name}.case.json").read_text())
    bundle = json.loads((PAS / f"{name}.bundle.json").read_text())
    answered = {i["linkId"] for i in resources(bundle).get("QuestionnaireResponse", {}).get("item", [])}
    for link_id in answered - set(asked):
        top, _, field = link_id.partition(".")
        if field:
            case.get(top, {}).pop(field, None)
            if top in case and not case[top]:
                del case[top]
        else:
            case.pop(top, None)
    return case


@pytest.mark.parametrize("name", CASES)
def test_the_adaptive_form_asks_until_completed_and_pas_decides_its_response_as_the_equivalent_case(url, name):
    bundle, asked, qr = run_form(url, name)
    assert len(asked) < len(httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json()["item"])
    entry = next((e for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"), None)
    if entry is None:  # a request sent without answers: the adaptive response travels as PAS supportingInfo
        entry = {"fullUrl": "urn:uuid:0d5b7e1c-3f0a-4c55-9a51-3f1f7c9e0a01", "resource": {"id": "adaptive"}}
        bundle["entry"].append(entry)
        claim = bundle["entry"][0]["resource"]
        claim["supportingInfo"] = [*claim.get("supportingInfo", []), {
            "sequence": len(claim.get("supportingInfo", [])) + 1,
            "category": {"coding": [{"system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes",
                                     "code": "additionalInformation"}]},
            "valueReference": {"reference": entry["fullUrl"]}}]
    entry["resource"] = {**qr, "id": entry["resource"]["id"]}
    answer = post(url, "/fhir/Claim/$submit", bundle)
    assert answer.status_code == 200, answer.text[:800]
    submitted = decision_of(answer.json()["entry"][0]["resource"])
    decided = httpx.post(url + "/v1/decide", json=equivalent_case(name, asked), timeout=120).json()
    assert (submitted["decision"], submitted.get("pendReason"), submitted["failed"], submitted["missing"]) == (
        decided["decision"], decided.get("pend_reason"), [f["id"] for f in decided.get("failed", [])],
        [m["id"] for m in decided.get("missing", [])]), asked
    static = httpx.post(url + "/v1/decide", json=json.loads((PAS / f"{name}.case.json").read_text()), timeout=120).json()
    assert (decided["decision"], decided.get("pend_reason")) == (static["decision"], static.get("pend_reason"))


def test_a_continuation_is_asked_for_the_response_and_never_for_step_therapy(url):
    _, asked, _ = run_form(url, "continuation")
    assert "lemtrada_courses" in asked and "dmt_history" not in asked
    assert {"response.objective", "response.symptoms"} & set(asked)


def hostile(url: str, qr: dict) -> dict:
    r = post(url, NEXT, qr)
    assert r.status_code == 400, r.text[:500]
    assert r.json()["resourceType"] == "OperationOutcome"
    return r.json()["issue"][0]


@pytest.fixture(scope="module")
def opening(url) -> dict:
    bundle = json.loads((PAS / "approve-initial.bundle.json").read_text())
    return first_response(bundle, httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json())


def test_hostile_next_question_requests_are_operation_outcomes_at_the_element(url, opening):
    assert hostile(url, {"resourceType": "Patient"})["code"] == "structure"
    assert hostile(url, {"resourceType": "Parameters", "parameter": [{"name": "x", "resource": opening}]})["code"] == "structure"
    other = copy.deepcopy(opening)
    other["contained"][0]["derivedFrom"] = ["http://elsewhere.example/Questionnaire/q"]
    assert hostile(url, other)["expression"] == ["QuestionnaireResponse.questionnaire"]
    no_order = {k: v for k, v in opening.items() if k != "extension"}
    issue = hostile(url, no_order)
    assert issue["code"] == "required" and issue["expression"] == ["QuestionnaireResponse.extension"]
    unasked = {**opening, "item": [{"linkId": "hiv_positive", "answer": [{"valueBoolean": True}]}]}
    assert "not an item of the adaptive Questionnaire" in hostile(url, unasked)["diagnostics"]
    amended = {**opening, "status": "amended"}
    assert hostile(url, amended)["expression"] == ["QuestionnaireResponse.status"]


def test_a_refused_answer_is_reported_at_the_answer_it_came_from(url, opening):
    r = post(url, NEXT, opening)
    qr = r.json()
    form = next(c for c in qr["contained"] if c["resourceType"] == "Questionnaire")
    form["item"].append(next(i for i in httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json()["item"]
                             if i["linkId"] == "concurrent_dmts"))
    qr["item"] = [{"linkId": "concurrent_dmts", "answer": [{"valueCoding": {"system": ids.CASE_CODES, "code": "aspirin"}}]}]
    issue = hostile(url, qr)
    assert issue["expression"] == ["QuestionnaireResponse.item[0].answer[0].valueCoding"]
    assert "aspirin" in issue["diagnostics"]


def inferno_limits(profile: str) -> set[str]:
    """What the validator reports against ``profile`` on Inferno's own adaptive examples: its limitation.

    medplum cannot match an extension slice defined by a profile it has not loaded (SDC's
    ``questionnaireAdaptive``; the SDC package is not among the IG packages), so Inferno's
    conformant adaptive Questionnaires fail that slice too. Measured, never listed by hand;
    without the examples there is nothing to measure against, and the check skips.
    """
    import os

    folder = Path(os.environ.get("LEMTRADA_FHIR_EXAMPLES_DIR") or HERE.parent.parent / "shared" / "examples") / "dtr"
    if not folder.is_dir():
        pytest.skip(f"no Inferno DTR examples at {folder}: the adaptive profile's findings cannot be told from "
                    "the validator's limits without them (set LEMTRADA_FHIR_EXAMPLES_DIR)")
    examples = [json.loads(f.read_text()) for f in sorted(folder.glob("*adaptive*.json"))]
    examples = [r for r in examples if profile in (r.get("meta") or {}).get("profile", [])]
    return {e for r in validate(examples) for e in errors(r["profiles"].get(profile))}


@pytest.mark.slow
def test_the_adaptive_responses_are_valid_r4_and_their_forms_validate_against_dtr_adapt(url):
    _, _, done = run_form(url, "approve-initial")
    middle = post(url, NEXT, {**done, "status": "in-progress", "item": [], "contained": [
        {**done["contained"][0], "item": done["contained"][0]["item"][:1]}, *done["contained"][1:]]}).json()
    forms = [c for qr in (done, middle) for c in qr["contained"] if c["resourceType"] == "Questionnaire"]
    results = validate([done, middle, *forms])
    assert {f"{r['resourceType']}/{r['id']}": errors(r["base"]) for r in results if errors(r["base"])} == {}
    needs_ig()
    limits = example_limits(adaptive.DTR_ADAPT) | inferno_limits(adaptive.DTR_ADAPT)
    checked = [i for r in results for u, i in r["profiles"].items() if u == adaptive.DTR_ADAPT]
    assert len(checked) == 2 and all(i is not None for i in checked)
    assert [e for i in checked for e in errors(i) if e not in limits] == []


def test_pas_refuses_an_adaptive_answer_to_a_question_the_form_did_not_ask_and_ignores_another_forms(url):
    bundle, asked, qr = run_form(url, "approve-initial")
    at = next(k for k, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "QuestionnaireResponse")
    unasked = next(i["linkId"] for i in httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json()["item"]
                   if i["linkId"] not in asked and i["type"] == "boolean")
    extra = {**qr, "id": bundle["entry"][at]["resource"]["id"],
             "item": [*qr.get("item", []), {"linkId": unasked, "answer": [{"valueBoolean": True}]}]}
    sent = copy.deepcopy(bundle)
    sent["entry"][at]["resource"] = extra
    r = post(url, "/fhir/Claim/$submit", sent)
    assert r.status_code == 400, r.text[:500]
    [issue] = r.json()["issue"]
    assert issue["expression"] == [f"Bundle.entry[{at}].resource.item[{len(qr.get('item', []))}]"]
    assert "not an item of the adaptive Questionnaire" in issue["diagnostics"]
    other = copy.deepcopy(extra)
    other["contained"][0]["derivedFrom"] = ["http://elsewhere.example/Questionnaire/q|1"]
    sent["entry"][at]["resource"] = other
    for identifier in sent["entry"][0]["resource"]["identifier"]:  # a new request: the store answers a resent one as before
        identifier["value"] += "-other-form"
    ignored = post(url, "/fhir/Claim/$submit", sent)
    assert ignored.status_code == 200  # another questionnaire's response: not read (fhir-pas.md), so pended
    assert decision_of(ignored.json()["entry"][0]["resource"])["decision"] == "pend"


def test_the_inferno_next_question_request_adapted_to_this_form_gets_its_first_question(url, opening):
    import os

    folder = Path(os.environ.get("LEMTRADA_FHIR_EXAMPLES_DIR") or HERE.parent.parent / "shared" / "examples") / "dtr"
    if not folder.is_dir():
        pytest.skip(f"no Inferno DTR examples at {folder} (set LEMTRADA_FHIR_EXAMPLES_DIR to the folder holding dtr/)")
    params = json.loads((folder / "next_question_initial_input_params_conformant.json").read_text())
    # As sent: the dinner order's adaptive form derives from no Questionnaire of this server.
    issue = hostile(url, params)
    assert issue["expression"] == ["Parameters.parameter[0].resource.questionnaire"]
    # Adapted: their response's shape (Parameters, id, subject, authored, contained form named by '#id'), our
    # form's derivation and the order it documents.
    qr = params["parameter"][0]["resource"]
    theirs = next(c for c in qr["contained"] if c["resourceType"] == "Questionnaire")
    theirs["derivedFrom"] = [f"{ids.QUESTIONNAIRE_URL}|{ids.QUESTIONNAIRE_VERSION}"]
    qr["contained"] += [c for c in opening["contained"] if c["resourceType"] != "Questionnaire"]
    qr["extension"] = opening["extension"]
    r = post(url, NEXT, params)
    assert r.status_code == 200, r.text[:500]
    answer = r.json()
    form = next(c for c in answer["contained"] if c["resourceType"] == "Questionnaire")
    assert form["id"] == theirs["id"] and answer["questionnaire"] == f"#{theirs['id']}" and answer["id"] == qr["id"]
    assert [i["linkId"] for i in form["item"]] == ["lemtrada_courses"] and answer["status"] == "in-progress"
