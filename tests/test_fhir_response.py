"""The PAS response Bundle, OperationOutcome and CapabilityStatement (fhir-pas.md).

The response structure checked here follows the Inferno PAS test kit's
valid_pa_response_bundle.json and the HL7 PAS IG's response examples (credited
in tests/fixtures/pas/README.md). Decisions here are written in the decision format by hand, so each test pins
one row of the contract's tables; the last tests decide the fixture cases with
the CLI and check that every response validates and carries the decision.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from lemtrada_asp.case.pas import ids
from lemtrada_asp.case.pas.fhir_in import read_request
from lemtrada_asp.service.fhir_out import capability_statement, operation_outcome, response_bundle
from lemtrada_asp.case.pas.problems import FhirProblem

PAS = Path(__file__).parent / "fixtures" / "pas"
NOW = datetime(2026, 5, 2, 14, 30, tzinfo=timezone.utc)
KB = "sha256:" + "0" * 64


def decision(kind: str, pend_reason=None, **more) -> dict:
    d = {"case_id": "PA-1001", "decision": kind, "pend_reason": pend_reason, "review_type": "initial", "course": 1,
         "failed": [], "missing": [], "authorized": None, "advisories": [], "kb_version": KB}
    d.update(more)
    return d


APPROVE = decision("approve", authorized={"mg": 60, "mg_per_day": 12, "days": 5, "hcpcs": [{"code": "J0202", "units": 60}]},
                   advisories=["Premedicate.", "REMS only."])
I4 = {"id": "I4", "title": "Step therapy: natalizumab and one oral DMT", "status": "not_met", "section": "Initial criteria, 4",
      "reasons": [{"id": "I4.a", "status": "not_met", "because": ["dmt_history[0]: natalizumab outcome effective"]},
                  {"id": "I4.b", "status": "not_met", "because": []},
                  {"id": "I4.b.i", "status": "not_met", "because": ["dmt_history[1]: dimethyl_fumarate outcome effective"]}]}
E5 = {"id": "E5", "title": "Use in members with active infections, including HIV", "status": "applies",
      "section": "Experimental or investigational, 5", "reasons": [{"id": "E5", "status": "applies", "because": []}]}
I0 = {"id": "I0", "title": "Recent chart documentation (within the last 3 months)", "section": "Initial criteria, preamble",
      "reasons": [], "needed": "chart notes dated within 3 months before the request"}
DENY = decision("deny", failed=[I4, E5])


def request():
    return read_request(json.loads((PAS / "approve-initial.bundle.json").read_text()))[0]


def respond(d: dict, **options) -> dict:
    r = request()
    return response_bundle(d, r.bundle, r.case, now=NOW, **options)


def claim_response(d: dict, **options) -> dict:
    return respond(d, **options)["entry"][0]["resource"]


def review(cr: dict) -> dict:
    subs = cr["item"][0]["adjudication"][0]["extension"][0]["extension"]
    return subs


def review_code(cr: dict) -> str:
    [code] = [s for s in review(cr) if s["url"] == ids.REVIEW_ACTION_CODE]
    return code["valueCodeableConcept"]["coding"][0]["code"]


def decision_ext(cr: dict) -> list[tuple]:
    [ext] = [e for e in cr["extension"] if e["url"] == ids.DECISION_EXT]
    return [(s["url"], next(v for k, v in s.items() if k.startswith("value"))) for s in ext["extension"]]


@pytest.mark.parametrize("d, code, disposition", [
    (APPROVE, "A1", "Certified: one course of 60 mg (J0202 x 60 units)"),
    (decision("pend", "information", missing=[I0]), "A4", "Pended: documentation needed"),
    (decision("pend", "case_by_case", course=3, review_type="continuation"), "A4", "Pended for case-by-case clinical review"),
    (decision("pend", "state_mandate", failed=[I4]), "A4", "Pended for state step-therapy mandate review"),
    (DENY, "A4", "Pended for clinical review: denial recommended"),
])
def test_each_decision_has_its_review_action_and_disposition(d, code, disposition):
    cr = claim_response(d)
    assert (review_code(cr), cr["disposition"]) == (code, disposition)
    assert (cr["status"], cr["use"], cr["outcome"]) == ("active", "preauthorization", "complete")


def test_only_final_denials_answer_a3_not_certified():
    cr = claim_response(DENY, final_denials=True)
    assert (review_code(cr), cr["disposition"]) == ("A3", "Not certified")
    assert review_code(claim_response(APPROVE, final_denials=True)) == "A1"


def test_a6_modified_is_never_answered():
    for d in (APPROVE, DENY, decision("pend", "information", missing=[I0])):
        for final in (False, True):
            assert review_code(claim_response(d, final_denials=final)) in {"A1", "A3", "A4"}


def test_an_approval_carries_the_authorisation_and_its_period():
    cr = claim_response(APPROVE, decision_id="d-1")
    assert cr["preAuthRef"] and [s["valueString"] for s in review(cr) if s["url"] == "number"] == [cr["preAuthRef"]]
    # version 2: from the planned start, authorization_window_days (30) long
    assert cr["preAuthPeriod"] == {"start": "2026-05-12", "end": "2026-06-10"}
    item_ext = cr["item"][0]["extension"]
    assert [e["url"] for e in item_ext] == [ids.ITEM_ISSUE_DATE, ids.ITEM_PERIOD, ids.ITEM_AUTHORIZED_DETAIL]
    assert item_ext[0]["valueDate"] == "2026-05-02" and item_ext[1]["valuePeriod"] == cr["preAuthPeriod"]
    detail = {s["url"]: s for s in item_ext[2]["extension"]}
    assert detail["productOrServiceCode"]["valueCodeableConcept"]["coding"] == [
        {"system": ids.HCPCS, "code": "J0202", "display": "Injection, alemtuzumab, 1 mg"}]  # the line's code as requested
    assert detail["quantity"]["valueQuantity"] == {"value": 60}


def test_the_period_starts_on_the_request_date_without_a_start_date():
    r = request()
    del r.case["request"]["start_date"]
    cr = response_bundle(APPROVE, r.bundle, r.case, now=NOW)["entry"][0]["resource"]
    assert cr["preAuthPeriod"] == {"start": "2026-05-01", "end": "2026-05-30"}


def test_only_an_approval_has_an_authorisation():
    for d in (DENY, decision("pend", "information", missing=[I0])):
        cr = claim_response(d)
        assert "preAuthRef" not in cr and "preAuthPeriod" not in cr and "extension" not in cr["item"][0]
        assert not [s for s in review(cr) if s["url"] == "number"]


def test_the_decision_extension_lists_its_parts_in_order():
    d = decision("pend", "information", failed=[], missing=[I0, {**I0, "id": "I4"}], course=1)
    assert decision_ext(claim_response(d)) == [
        ("decision", "pend"), ("pendReason", "information"), ("reviewType", "initial"), ("course", 1),
        ("missing", "I0"), ("missing", "I4"), ("kbVersion", KB)]
    assert decision_ext(claim_response(DENY)) == [
        ("decision", "deny"), ("reviewType", "initial"), ("course", 1), ("failed", "I4"), ("failed", "E5"), ("kbVersion", KB)]


def test_no_decision_is_marked_human_reviewed():
    for d in (APPROVE, DENY):
        [reviewer] = [e for e in claim_response(d)["extension"] if e["url"] == ids.REVIEWER]
        assert reviewer["extension"] == [{"url": "wasHumanReviewedFlag", "valueBoolean": False}]


def test_process_notes_say_each_failed_and_missing_criterion_in_order():
    d = decision("deny", failed=[I4, E5], missing=[I0])
    cr = claim_response(d)
    assert [n["text"] for n in cr["processNote"]] == [
        "I4 Step therapy: natalizumab and one oral DMT: not met (Initial criteria, 4) because "
        "dmt_history[0]: natalizumab outcome effective; dmt_history[1]: dimethyl_fumarate outcome effective",
        "E5 Use in members with active infections, including HIV: applies (Experimental or investigational, 5)",
        "I0 Recent chart documentation (within the last 3 months): not documented; needed: "
        "chart notes dated within 3 months before the request",
    ]
    assert [n["number"] for n in cr["processNote"]] == [1, 2, 3] == cr["item"][0]["noteNumber"]
    assert {n["type"] for n in cr["processNote"]} == {"display"}


def test_case_by_case_and_advisory_notes():
    cr = claim_response(decision("pend", "case_by_case", course=3, review_type="continuation"))
    assert [n["text"] for n in cr["processNote"]] == ["Course 3: courses beyond the first two are authorised case by case"]
    assert [n["text"] for n in claim_response(APPROVE)["processNote"]] == ["Advisory: Premedicate.", "Advisory: REMS only."]


def test_reason_codes_only_from_the_file_and_for_what_it_lists():
    assert not [s for s in review(claim_response(DENY)) if s["url"] == "reasonCode"]
    codes = {"I4": "71", "E5": "72", "pend:information": "73", "I0": "74"}
    got = [s["valueCodeableConcept"]["coding"][0] for s in review(claim_response(DENY, reason_codes=codes)) if s["url"] == "reasonCode"]
    assert got == [{"system": ids.X12_REASON, "code": "71"}, {"system": ids.X12_REASON, "code": "72"}]
    pend = decision("pend", "information", missing=[I0])
    got = [s["valueCodeableConcept"]["coding"][0]["code"] for s in review(claim_response(pend, reason_codes=codes)) if s["url"] == "reasonCode"]
    assert got == ["74", "73"]


def test_the_claim_response_copies_the_claim_and_the_bundle_its_entries():
    r = request()
    bundle = respond(DENY)
    cr = bundle["entry"][0]["resource"]
    claim = r.claim
    assert cr["identifier"] == claim["identifier"] and cr["type"] == claim["type"]
    assert cr["patient"] == claim["patient"] and cr["insurer"] == claim["insurer"] and cr["requestor"] == claim["provider"]
    assert cr["request"] == {"reference": r.bundle["entry"][0]["fullUrl"]}
    assert cr["item"][0]["itemSequence"] == 1
    assert bundle["identifier"] == r.bundle["identifier"] and bundle["type"] == "collection"
    assert bundle["entry"][0]["fullUrl"].startswith("urn:uuid:")
    by_url = {e["fullUrl"]: e["resource"] for e in r.bundle["entry"]}
    copied = [e["fullUrl"] for e in bundle["entry"][1:]]
    assert copied == [claim["patient"]["reference"], claim["insurer"]["reference"], claim["provider"]["reference"]]
    assert all(e["resource"] == by_url[e["fullUrl"]] for e in bundle["entry"][1:])
    assert cr["created"] == "2026-05-02T14:30:00+00:00" and bundle["timestamp"] == cr["created"]


def test_every_response_validates_as_an_r4_bundle():
    for d in (APPROVE, DENY, decision("pend", "information", missing=[I0])):
        Bundle.model_validate(respond(d, reason_codes={"I4": "1"}))


def test_operation_outcome_issues_with_and_without_expression():
    oo = operation_outcome([FhirProblem(None, "structure", "not JSON"),
                            FhirProblem("Bundle.entry[0].resource.use", "invalid", "expected preauthorization")])
    OperationOutcome.model_validate(oo)
    assert oo["issue"] == [
        {"severity": "error", "code": "structure", "diagnostics": "not JSON"},
        {"severity": "error", "code": "invalid", "diagnostics": "expected preauthorization",
         "expression": ["Bundle.entry[0].resource.use"]},
    ]
    assert len(operation_outcome([FhirProblem("Bundle", "invalid", str(i)) for i in range(30)])["issue"]) == 20


def test_capability_statement():
    cs = capability_statement("1.2.3", today=date(2026, 5, 2))
    CapabilityStatement.model_validate(cs)
    assert (cs["status"], cs["date"], cs["kind"], cs["fhirVersion"]) == ("active", "2026-05-02", "instance", "4.0.1")
    assert cs["software"] == {"name": "lemtrada-asp", "version": "1.2.3"}
    assert cs["format"] == ["application/fhir+json"] and cs["implementationGuide"] == [ids.PAS_IG]
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert cs["rest"][0]["mode"] == "server"
    assert resources["Claim"]["operation"] == [{"name": "submit", "definition": ids.SUBMIT_DEFINITION},
                                               {"name": "inquire", "definition": ids.INQUIRE_DEFINITION}]
    assert resources["Questionnaire"]["interaction"] == [{"code": "read"}]
    assert "Subscription" in resources and cs["rest"][0]["security"]["description"]  # version 2, "Profiles"


def test_the_capability_statement_lists_only_what_the_server_answers_and_the_security_it_requires():
    bare = capability_statement("1.2.3", lifecycle=False)  # serve --no-store: no $inquire, no Subscriptions
    resources = {r["type"]: r for r in bare["rest"][0]["resource"]}
    assert [o["name"] for o in resources["Claim"]["operation"]] == ["submit"] and "Subscription" not in resources
    assert "Unauthenticated" in bare["rest"][0]["security"]["description"]
    secured = capability_statement("1.2.3", authenticated=True)  # serve --jwks
    CapabilityStatement.model_validate(secured)
    assert secured["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    assert "system/Claim.write" in secured["rest"][0]["security"]["description"]


@pytest.fixture(scope="module")
def decided() -> dict[str, dict]:
    """The fixture cases decided by the CLI, by case id."""
    paths = sorted(str(p) for p in PAS.glob("*.case.json"))
    out = subprocess.run([sys.executable, "-m", "lemtrada_asp", "decide", *paths, "--format", "json", "--no-corrections"],
                         capture_output=True, text=True, check=True).stdout
    return {d["case_id"]: d for d in map(json.loads, out.splitlines())}


@pytest.mark.parametrize("name", sorted(p.name.removesuffix(".case.json") for p in PAS.glob("*.case.json")))
def test_the_response_to_each_fixture_validates_and_carries_its_decision(name, decided):
    r, _ = read_request(json.loads((PAS / f"{name}.bundle.json").read_text()))
    d = decided[r.case["id"]]
    bundle = response_bundle(d, r.bundle, r.case)
    Bundle.model_validate(bundle)
    cr = bundle["entry"][0]["resource"]
    assert dict(decision_ext(cr))["decision"] == d["decision"]
    assert review_code(cr) == {"approve": "A1", "pend": "A4", "deny": "A4"}[d["decision"]]
    assert [v for k, v in decision_ext(cr) if k == "failed"] == [f["id"] for f in d["failed"]]
