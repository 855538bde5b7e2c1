"""fhir-pas.md version 2, through a real server on 127.0.0.1: what a payer could not deploy (issue 24).

Each test is one bullet of the issue's "What a payer could not deploy" (the mapping's
part; the pend lifecycle, $inquire and Subscriptions are the store's tests). The
request Bundles are this project's own (tests/fixtures/pas/, build_fixtures.py),
modelled on the PAS 2.x profiles, changed one element at a time here. On the main
branch before version 2 each of these requests was refused (400) or certified.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from lemtrada_asp.case.pas import ids
from lemtrada_asp.case.pas.lines import INFO_CANCELLED
from lemtrada_asp.service.bench import start, stop

PAS = Path(__file__).parent / "fixtures" / "pas"
FHIR = {"content-type": "application/fhir+json"}
CLAIM, MR = "Bundle.entry[0].resource", "Bundle.entry[5].resource"


def load(name: str) -> dict:
    return json.loads((PAS / f"{name}.bundle.json").read_text())


@pytest.fixture(scope="module")
def url():
    proc, address = start()
    yield address
    assert stop(proc) == 0


def submit(url: str, bundle: dict) -> dict:
    """The answer to ``bundle`` as a new request: the server stores its answers, and a Claim identifier
    it has answered before gets that answer again, so each variant here gets an identifier of its own."""
    import uuid

    bundle = json.loads(json.dumps(bundle))
    claim = bundle["entry"][0]["resource"]
    if claim.get("identifier"):
        claim["identifier"][0]["value"] = f"{claim['identifier'][0].get('value', 'PA')}-{uuid.uuid4().hex[:12]}"
    r = httpx.post(url + "/fhir/Claim/$submit", content=json.dumps(bundle), headers=FHIR, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    Bundle.model_validate(body)
    return body


def claim_response(url: str, bundle: dict) -> dict:
    return submit(url, bundle)["entry"][0]["resource"]


def action(item: dict) -> str:
    [review] = item["adjudication"][0]["extension"]
    return next(s for s in review["extension"] if s["url"] == ids.REVIEW_ACTION_CODE)["valueCodeableConcept"]["coding"][0]["code"]


def errors(cr: dict) -> list[tuple[str, str]]:
    """(X12 901 code, errorPath) of each ClaimResponse.error."""
    assert cr["outcome"] == "error" and "preAuthRef" not in cr and "item" not in cr
    out = []
    for e in cr["error"]:
        [coding] = e["code"]["coding"]
        assert coding["system"] == ids.X12_901
        path = next((x["valueString"] for x in e.get("extension", []) if x["url"] == ids.ERROR_PATH), None)
        out.append((coding["code"], path))
    return out


def decision(cr: dict) -> str:
    [ext] = [e for e in cr["extension"] if e["url"] == ids.DECISION_EXT]
    return ext["extension"][0]["valueCode"]


# --- conformant requests that were refused (400) -----------------------------------------

def test_the_drug_line_with_its_infusion_lines_is_answered_item_by_item(url):
    cr = claim_response(url, load("lines"))
    assert [i["itemSequence"] for i in cr["item"]] == [1, 2, 3, 4]  # one ClaimResponse.item per requested item
    assert [action(i) for i in cr["item"]] == ["A1", "A1", "A1", "A4"]  # infusion lines follow the drug line
    details = {i["itemSequence"]: {s["url"]: s for s in next(e for e in i["extension"] if e["url"] == ids.ITEM_AUTHORIZED_DETAIL)["extension"]}
               for i in cr["item"][:3]}
    assert [d["productOrServiceCode"]["valueCodeableConcept"]["coding"][0]["code"] for d in details.values()] == ["J0202", "96365", "96366"]
    assert [d["quantity"]["valueQuantity"]["value"] for d in details.values()] == [60, 5, 15]  # each its own quantity
    [other_note] = cr["item"][3]["noteNumber"]
    note = next(n["text"] for n in cr["processNote"] if n["number"] == other_note)
    assert "Not reviewed under this policy" in note and "item 4" in note


def test_a_request_without_a_requested_service_is_decided_from_the_drug_line(url):
    cr = claim_response(url, load("no-requested-service"))
    assert cr["disposition"] == "Certified: one course of 60 mg (J0202 x 60 units)"
    assert action(cr["item"][0]) == "A1"


def test_a_dosage_with_only_a_calendar_pattern_is_read_as_its_dosing_days_and_not_certified_as_consecutive(url):
    cr = claim_response(url, load("calendar-pattern"))  # Mon-Thu, 5 doses: 11-14 and 18 May
    assert decision(cr) == "deny" and action(cr["item"][0]) != "A1"
    i7 = [n["text"] for n in cr["processNote"] if n["text"].startswith("I7 ")]
    assert i7 and "not consecutive" in i7[0]


def test_day_of_week_monday_to_friday_from_a_monday_is_five_consecutive_days(url):
    cr = claim_response(url, load("day-of-week"))
    assert action(cr["item"][0]) == "A1"


def test_an_item_coded_by_a_lemtrada_ndc_is_the_drug_line_and_keeps_its_code_and_quantity(url):
    cr = claim_response(url, load("ndc-line"))
    assert action(cr["item"][0]) == "A1"
    detail = {s["url"]: s for s in next(e for e in cr["item"][0]["extension"] if e["url"] == ids.ITEM_AUTHORIZED_DETAIL)["extension"]}
    assert detail["productOrServiceCode"]["valueCodeableConcept"]["coding"][0]["code"] == "58468-0200-01"
    assert detail["quantity"]["valueQuantity"]["value"] == 5  # as requested: never more or other


# --- wrong approvals ----------------------------------------------------------------------

def test_a_cancelled_line_is_never_certified_and_gets_no_new_authorisation(url):
    bundle = load("approve-initial")
    bundle["entry"][0]["resource"]["item"][0]["modifierExtension"] = [{"url": INFO_CANCELLED, "valueBoolean": True}]
    assert errors(claim_response(url, bundle)) == [("AA", f"{CLAIM}.item[0].modifierExtension")]


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "draft"])
def test_a_claim_that_is_not_active_is_a_business_error(url, status):
    bundle = load("approve-initial")
    bundle["entry"][0]["resource"]["status"] = status
    assert errors(claim_response(url, bundle)) == [("33", f"{CLAIM}.status")]


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error", "stopped", "completed"])
def test_a_withdrawn_medication_request_is_a_business_error(url, status):
    bundle = load("approve-initial")
    bundle["entry"][5]["resource"]["status"] = status
    assert errors(claim_response(url, bundle)) == [("33", f"{MR}.status")]


def test_a_quantity_of_600_for_a_60_mg_course_is_a_business_error_naming_both_numbers(url):
    bundle = load("approve-initial")
    bundle["entry"][0]["resource"]["item"][0]["quantity"] = {"value": 600}
    cr = claim_response(url, bundle)
    assert errors(cr) == [("33", f"{CLAIM}.item[0].quantity")]
    assert "600" in cr["processNote"][0]["text"] and "60 mg" in cr["processNote"][0]["text"]


def test_a_medication_request_for_ocrevus_on_a_j0202_line_is_a_business_error(url):
    bundle = load("approve-initial")
    bundle["entry"][5]["resource"]["medicationCodeableConcept"] = {"coding": [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1927886", "display": "Ocrevus"}]}
    cr = claim_response(url, bundle)
    assert errors(cr) == [("33", f"{MR}.medicationCodeableConcept.coding[0]")]
    assert "Ocrevus" in cr["processNote"][0]["text"]


def test_a_coding_in_a_system_the_kb_does_not_list_is_not_read(url):
    bundle = load("approve-initial")
    bundle["entry"][5]["resource"]["medicationCodeableConcept"] = {"coding": [
        {"system": "http://snomed.info/sct", "code": "129472003", "display": "Alemtuzumab"}]}
    assert action(claim_response(url, bundle)["item"][0]) == "A1"


def test_an_unknown_modifier_extension_is_an_error_at_that_element(url):
    bundle = load("approve-initial")
    bundle["entry"][5]["resource"]["dosageInstruction"][0]["modifierExtension"] = [
        {"url": "http://example.org/fhir/StructureDefinition/do-not-give", "valueBoolean": True}]
    assert errors(claim_response(url, bundle)) == [("33", f"{MR}.dosageInstruction[0].modifierExtension[0]")]


# --- business rejections, the window, profiles, the Questionnaire ------------------------

def test_a_second_drug_line_is_a_claim_response_error_not_an_operation_outcome(url):
    bundle = load("approve-initial")
    claim = bundle["entry"][0]["resource"]
    claim["item"].append({**copy.deepcopy(claim["item"][0]), "sequence": 2})
    cr = claim_response(url, bundle)
    assert cr["resourceType"] == "ClaimResponse" and cr["meta"]["profile"] == [ids.PROFILE_CLAIM_RESPONSE]
    assert errors(cr) == [("AG", f"{CLAIM}.item[1].productOrService")]


def test_an_unreadable_request_is_still_an_operation_outcome_400(url):
    bundle = load("approve-initial")
    bundle["entry"][0]["resource"]["use"] = "claim"
    r = httpx.post(url + "/fhir/Claim/$submit", content=json.dumps(bundle), headers=FHIR, timeout=60)
    assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome"


def test_the_authorisation_window_runs_30_days_from_the_planned_start(url):
    cr = claim_response(url, load("approve-initial"))  # servicedDate 2026-05-12, a 5-day course
    assert cr["preAuthPeriod"] == {"start": "2026-05-12", "end": "2026-06-10"}
    period = next(e for e in cr["item"][0]["extension"] if e["url"] == ids.ITEM_PERIOD)["valuePeriod"]
    assert period == cr["preAuthPeriod"]


@pytest.mark.slow
def test_the_authorisation_window_is_a_server_setting():
    proc, address = start("--authorization-window-days", "60")
    try:
        cr = claim_response(address, load("approve-initial"))
    finally:
        assert stop(proc) == 0
    assert cr["preAuthPeriod"] == {"start": "2026-05-12", "end": "2026-07-10"}


def test_every_returned_resource_claims_its_profile(url):
    answer = submit(url, load("approve-initial"))
    assert answer["meta"]["profile"] == [ids.PROFILE_RESPONSE_BUNDLE]
    assert answer["entry"][0]["resource"]["meta"]["profile"] == [ids.PROFILE_CLAIM_RESPONSE]
    assert all(e["resource"].get("meta", {}).get("profile") for e in answer["entry"])
    q = httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json()
    assert q["meta"]["profile"] == [ids.DTR_QUESTIONNAIRE]


def test_the_questionnaire_has_a_narrative_listing_every_question(url):
    q = httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json()
    assert q["text"]["status"] == "generated" and q["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')

    def texts(items):
        for item in items:
            yield item["text"]
            yield from texts(item.get("item", []))

    import html
    div = html.unescape(q["text"]["div"])
    assert all(text in div for text in texts(q["item"]))


def test_the_capability_statement_lists_submit_inquire_subscription_and_security(url):
    cs = httpx.get(url + "/fhir/metadata").json()
    rest = cs["rest"][0]
    resources = {r["type"]: r for r in rest["resource"]}
    assert [o["name"] for o in resources["Claim"]["operation"]] == ["submit", "inquire"]
    assert "Subscription" in resources and resources["Questionnaire"]["interaction"] == [{"code": "read"}]
    assert rest["security"]["description"]


@pytest.mark.parametrize("name", sorted(p.name.removesuffix(".bundle.json") for p in PAS.glob("*.bundle.json")))
def test_the_project_fixtures_carry_what_pas_2_requires_of_an_item_and_supporting_info(name):
    claim = load(name)["entry"][0]["resource"]
    for item in claim["item"]:
        assert item["category"]["coding"][0]["system"] == "https://codesystem.x12.org/005010/1365"
        urls = [e["url"] for e in item["extension"]]
        assert ids.PAS + "serviceItemRequestType" in urls and ids.PAS + "certificationType" in urls
    for info in claim.get("supportingInfo", []):
        assert info["category"]["coding"][0] == {"system": "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes",
                                                 "code": "additionalInformation"}


# --- the policy in force ------------------------------------------------------------------

def test_a_request_before_the_effective_date_is_refused_by_v1_decide_at_request_date(url):
    from conftest import INITIAL, vary

    case = vary(INITIAL, {"request.date": "2026-03-02", "chart_date": "2026-02-20"})
    r = httpx.post(url + "/v1/decide", json=case, timeout=60)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "invalid_input" and [p["field"] for p in body["problems"]] == ["request.date"]
    assert "2026-04-01" in body["problems"][0]["message"]


def test_a_request_before_the_effective_date_is_a_business_error_of_submit(url):
    bundle = load("approve-initial")
    bundle["entry"][0]["resource"]["created"] = "2026-03-02"
    bundle["entry"][0]["resource"]["item"][0]["servicedDate"] = "2026-03-10"
    bundle["entry"][8]["resource"]["item"][0]["answer"][0]["valueDate"] = "2026-02-20"
    assert errors(claim_response(url, bundle)) == [("56", f"{CLAIM}.created")]


@pytest.mark.slow
def test_with_versions_a_request_is_decided_under_the_version_then_in_force(tmp_path):
    kb = Path(__file__).parent.parent / "kb"
    (tmp_path / "2026-04-01").symlink_to(kb.resolve())
    older = tmp_path / "2025-01-01"
    older.mkdir()
    (older / "overlay.toml").write_text(
        f'[overlay]\nname = "The guideline as in force in 2025"\nbase = "{kb.resolve()}"\n'
        f'revised = "01/01/2025"\neffective = 2025-01-01\n')
    bundle = load("approve-initial")
    bundle["entry"][0]["resource"]["created"] = "2026-03-02"
    bundle["entry"][0]["resource"]["item"][0]["servicedDate"] = "2026-03-10"
    bundle["entry"][8]["resource"]["item"][0]["answer"][0]["valueDate"] = "2026-02-20"
    proc, address = start("--versions", str(tmp_path))
    try:
        cr = claim_response(address, bundle)
    finally:
        assert stop(proc) == 0
    assert cr["outcome"] == "complete" and action(cr["item"][0]) == "A1"


# --- dosing days, read by the mapping (no server needed) ----------------------------------

def mapped(bundle: dict) -> dict:
    from lemtrada_asp.case.pas.fhir_in import read_request

    return read_request(bundle)[0].case["request"]


def test_a_weekday_schedule_without_a_start_starts_on_the_request_date():
    bundle = load("calendar-pattern")
    del bundle["entry"][0]["resource"]["item"][0]["servicedDate"]
    # created 2026-05-01 (a Friday); Mon-Thu: 4, 5, 6, 7 and 11 May
    assert mapped(bundle) == {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 5, "consecutive": False,
                                   "diagnosis_codes": ["G35.A"]}


def test_a_bounds_period_of_daily_doses_gives_its_days_and_they_are_consecutive():
    bundle = load("approve-initial")
    repeat = bundle["entry"][5]["resource"]["dosageInstruction"][0]["timing"]["repeat"]
    del repeat["count"]
    repeat["boundsPeriod"] = {"start": "2026-05-12", "end": "2026-05-16"}
    request = mapped(bundle)
    assert request["days"] == 5 and "consecutive" not in request


def test_three_a_week_on_listed_days_is_one_dose_on_each_and_not_consecutive():
    bundle = load("approve-initial")
    repeat = bundle["entry"][5]["resource"]["dosageInstruction"][0]["timing"]["repeat"]
    repeat.update({"frequency": 3, "period": 1, "periodUnit": "wk", "count": 5, "dayOfWeek": ["mon", "wed", "fri"]})
    request = mapped(bundle)  # from Tuesday 12 May: 13, 15, 18, 20, 22 May
    assert (request["dose_mg_per_day"], request["days"], request["consecutive"]) == (12, 5, False)


def test_a_calendar_pattern_that_names_no_weekdays_is_an_error_at_its_value():
    from lemtrada_asp.case.pas.fhir_in import BundleError, read_request

    bundle = load("calendar-pattern")
    timing = bundle["entry"][5]["resource"]["dosageInstruction"][0]["timing"]
    timing["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "N"  # "as directed"
    with pytest.raises(BundleError) as caught:
        read_request(bundle)
    assert [(p.expression, p.code) for p in caught.value.problems] == [
        (f"{MR}.dosageInstruction[0].timing.extension[0].valueCodeableConcept", "not-supported")]


def test_an_ndc_line_in_vials_is_compared_with_the_dose_in_mg():
    from lemtrada_asp.case.pas.fhir_in import read_request
    from lemtrada_asp.case.pas.problems import BusinessError

    bundle = load("ndc-line")
    bundle["entry"][0]["resource"]["item"][0]["quantity"]["value"] = 6  # 72 mg for a 60 mg course
    with pytest.raises(BusinessError) as caught:
        read_request(bundle)
    [problem] = caught.value.problems
    assert problem.code == "33" and "72 mg" in problem.message and "60 mg" in problem.message
