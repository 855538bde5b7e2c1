"""DTR through a real server on 127.0.0.1: $questionnaire-package, its hostile inputs, its security,
and every resource it returns through the real validator (tests/fhir_validation.py)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fhir_validation import (
    errors,
    example_limits,
    ig_dir,
    needs_ig,
    validate,
    with_entries,
)

from lemtrada_asp.case.fhir.codes import chart_codes
from lemtrada_asp.case.pas import ids
from lemtrada_asp.service.bench import free_port, start, stop
from lemtrada_asp.service.dtr.package import BUNDLE_PROFILE, OUTPUT_PROFILE

HERE = Path(__file__).parent
CHART = HERE / "fixtures" / "dtr" / "chart.json"
FHIR = {"content-type": "application/fhir+json"}
PACKAGE = "/fhir/Questionnaire/$questionnaire-package"
NEXT = "/fhir/Questionnaire/$next-question"


def chart(kind: str, rid: str) -> dict:
    bundle = json.loads(CHART.read_text())
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind and e["resource"]["id"] == rid)


def package_input(**extra) -> dict:
    params = [{"name": "coverage", "resource": chart("Coverage", "cov-1")},
              {"name": "order", "resource": chart("MedicationRequest", "order-1")}]
    return {"resourceType": "Parameters", "parameter": params + [{"name": k, **v} for k, v in extra.items()]}


@pytest.fixture(scope="module")
def url():
    proc, address = start()
    yield address
    assert stop(proc) == 0


def post(url: str, path: str, body, headers=FHIR) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(url + path, content=content, headers=headers, timeout=60)


def outcome(r: httpx.Response, status: int) -> list[dict]:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"]


@pytest.fixture(scope="module")
def packaged(url) -> dict:
    r = post(url, PACKAGE, package_input())
    assert r.status_code == 200, r.text[:1000]
    return r.json()


def test_the_package_holds_the_questionnaire_first_then_its_expanded_value_sets_and_terminology(url, packaged):
    assert packaged["resourceType"] == "Parameters" and packaged["meta"]["profile"] == [OUTPUT_PROFILE]
    [param] = packaged["parameter"]
    assert param["name"] == "PackageBundle"
    bundle = param["resource"]
    assert bundle["type"] == "collection" and bundle["meta"]["profile"] == [BUNDLE_PROFILE]
    entries = [e["resource"] for e in bundle["entry"]]
    served = httpx.get(url + "/fhir/Questionnaire/lemtrada-pa").json()
    assert entries[0] == served  # the same Questionnaire as the read and the command
    assert [e["fullUrl"] for e in bundle["entry"]] == [r["url"] for r in entries]
    choices = {}

    def walk(items):
        for item in items:
            if item.get("answerOption"):
                choices[item["linkId"]] = [o["valueCoding"] for o in item["answerOption"]]
            walk(item.get("item", []))
    walk(served["item"])
    value_sets = [r for r in entries if r["resourceType"] == "ValueSet"]
    assert len(value_sets) == len(choices) == 8
    for vs, (link_id, codings) in zip(value_sets, choices.items()):
        assert vs["expansion"]["contains"] == codings, link_id
        assert vs["expansion"]["total"] == len(codings)
    kinds = [r["resourceType"] for r in entries]
    assert kinds[-2:] == ["CodeSystem", "ConceptMap"] and "Library" not in kinds  # FHIRPath pre-population: no CQL


def test_the_concept_map_gives_the_standard_codes_of_the_case_v1_answers(packaged):
    entries = [e["resource"] for e in packaged["parameter"][0]["resource"]["entry"]]
    cmap = next(r for r in entries if r["resourceType"] == "ConceptMap")
    targets = {(g["target"], el["code"]): [t["code"] for t in el["target"]] for g in cmap["group"] for el in g["element"]}
    assert targets[(ids.NUCC, "neurology")] == [ids.NEUROLOGY_NUCC]
    assert targets[(ids.ICD10CM, "relapsing_remitting")] == ["G35.A"]
    assert targets[(ids.ICD10CM, "multiple_sclerosis")] == ["G35"]
    codes = chart_codes()  # the chart mapping's KB codes: one source for CRD's reading and DTR's map
    assert {drug: [code] for code, drug in codes.dmts} == {c: t for (s, c), t in targets.items() if s == codes.rxnorm}
    assert sorted(t for (s, c), ts in targets.items() if s == ids.ICD10CM for t in ts) == sorted(m.code for m in codes.ms)
    assert all(el["target"][0]["comment"].startswith("checked against: ") for g in cmap["group"] for el in g["element"])
    code_system = next(r for r in entries if r["resourceType"] == "CodeSystem")
    assert code_system["url"] == ids.CASE_CODES and code_system["count"] == len(code_system["concept"])


def test_the_capability_statement_lists_the_questionnaire_operations(url):
    resources = {r["type"]: r for r in httpx.get(url + "/fhir/metadata").json()["rest"][0]["resource"]}
    assert [o["name"] for o in resources["Questionnaire"]["operation"]] == ["questionnaire-package", "next-question"]


def test_a_requested_questionnaire_that_is_ours_is_packaged_and_another_is_not_found(url):
    ours = post(url, PACKAGE, package_input(questionnaire={"valueCanonical": f"{ids.QUESTIONNAIRE_URL}|1"}))
    assert ours.status_code == 200
    [issue] = outcome(post(url, PACKAGE, package_input(questionnaire={"valueCanonical": "http://x.example/Questionnaire/q"})), 404)
    assert issue["code"] == "not-found" and ids.QUESTIONNAIRE_URL in issue["diagnostics"]


@pytest.mark.parametrize("body, status, code, expression", [
    (b"{not json", 400, "structure", None),
    (b"[1, 2]", 400, "structure", None),
    (b'"Parameters"', 400, "structure", None),
    ({"resourceType": "Bundle", "type": "collection"}, 400, "structure", None),
    ({"resourceType": "Parameters", "parameter": [{"name": "coverage", "resource": {"resourceType": "Coverage", "status": "active",
      "beneficiary": {"reference": "Patient/p"}, "payor": [{"reference": "Organization/o"}], "bogus": 1}}]}, 400, "structure", "Parameters"),
    ({"resourceType": "Parameters", "parameter": [{"name": "order", "resource": chart("MedicationRequest", "order-1")}]},
     400, "required", "Parameters.parameter"),
    (package_input(payer={"valueString": "x"}), 400, "not-supported", "Parameters.parameter[2].name"),
    ({"resourceType": "Parameters", "parameter": [{"name": "coverage", "resource": chart("Patient", "pat-1")}]},
     400, "invalid", "Parameters.parameter[0].resource"),
    ({"resourceType": "Parameters", "parameter": [{"name": "coverage", "resource": chart("Coverage", "cov-1")},
                                                  {"name": "order", "resource": chart("MedicationRequest", "dmt-1")}]},
     400, "not-supported", "Parameters.parameter"),
])
def test_hostile_package_requests_are_operation_outcomes_naming_what_was_expected(url, body, status, code, expression):
    issues = outcome(post(url, PACKAGE, body), status)
    assert issues[0]["code"] == code and issues[0]["diagnostics"]
    assert issues[0].get("expression", [None])[0] == expression


def test_the_package_route_keeps_the_service_limits(url):
    assert outcome(post(url, PACKAGE, json.dumps(package_input()), {"content-type": "text/plain"}), 415)[0]["code"] == "not-supported"
    assert outcome(post(url, PACKAGE, b" " * 10_000_001), 413)[0]["code"] == "too-costly"
    assert outcome(httpx.get(url + PACKAGE), 405)[0]["code"] == "not-supported"
    assert outcome(post(url, NEXT, b"[]"), 400)[0]["code"] == "structure"


def test_the_inferno_package_request_adapted_to_alemtuzumab_is_answered(url):
    folder = Path(os.environ.get("LEMTRADA_FHIR_EXAMPLES_DIR") or HERE.parent.parent / "shared" / "examples") / "dtr"
    if not folder.is_dir():
        pytest.skip(f"no Inferno DTR examples at {folder} (set LEMTRADA_FHIR_EXAMPLES_DIR to the folder holding dtr/)")
    params = json.loads((folder / "questionnaire_package_input_params_conformant.json").read_text())
    # As sent: a home-oxygen ServiceRequest is no alemtuzumab order.
    issues = outcome(post(url, PACKAGE, params), 400)
    assert "alemtuzumab" in issues[0]["diagnostics"]
    # Adapted: their Coverage, our order (the member re-pointed at their beneficiary).
    adapted = copy.deepcopy(params)
    order = chart("MedicationRequest", "order-1")
    for p in adapted["parameter"]:
        if p["name"] == "order":
            p["resource"] = {**order, "subject": adapted["parameter"][0]["resource"]["beneficiary"]}
    r = post(url, PACKAGE, adapted)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["parameter"][0]["resource"]["entry"][0]["resource"]["url"] == ids.QUESTIONNAIRE_URL


@pytest.mark.slow
def test_every_dtr_resource_returned_is_valid_r4_and_validates_against_the_dtr_profile_it_claims(url, packaged):
    answers = [packaged, packaged["parameter"][0]["resource"], httpx.get(url + "/fhir/metadata").json(),
               post(url, PACKAGE, b"[]").json()]
    results = validate(with_entries(answers))
    bad = {f"{r['resourceType']}/{r['id']}": errors(r["base"]) for r in results if errors(r["base"])}
    assert bad == {}
    assert len(results) == 4 + len(packaged["parameter"][0]["resource"]["entry"])
    needs_ig()
    checked = {url for r in results for url, issues in r["profiles"].items() if issues is not None}
    assert {OUTPUT_PROFILE, BUNDLE_PROFILE, ids.DTR_QUESTIONNAIRE} <= checked, ig_dir()
    limits = set().union(*(example_limits(p) for p in checked))
    found = {f"{r['resourceType']}/{r['id']} {u}": [e for e in errors(i) if e not in limits]
             for r in results for u, i in r["profiles"].items() if i is not None}
    assert {k: v for k, v in found.items() if v} == {}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lemtrada_asp", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_the_dtr_operations_need_a_token_granting_questionnaire_read(tmp_path):
    keys = tmp_path / "keys"
    assert cli("token", "--keys", str(keys), "--audience", "http://example.invalid").returncode == 0
    proc, address = start("--jwks", str(keys / "jwks.json"), port=free_port())
    try:
        def token(scope: str) -> dict:
            made = cli("token", "--keys", str(keys), "--audience", address, "--scope", scope, "--client", "ehr")
            assert made.returncode == 0, made.stderr
            return {"authorization": f"Bearer {made.stdout.strip()}"}

        for path in (PACKAGE, NEXT):
            assert outcome(post(address, path, package_input()), 401)[0]["code"] == "login"
            assert outcome(post(address, path, package_input(), {**FHIR, **token("system/Claim.write")}), 403)[0]["code"] == "forbidden"
        assert post(address, PACKAGE, package_input(), {**FHIR, **token("system/Questionnaire.read")}).status_code == 200
    finally:
        assert stop(proc) == 0
