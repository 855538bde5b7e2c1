"""A PAS request names its CRD answer (coverage-assertion-id) or a prior authorisation (satisfied-pa-id) on the
requested order's coverage-information extension, as PAS 2.x places it: linked when this server issued it,
shown in the ClaimResponse and by $inquire; an unknown id is decided as usual and said to be unlinked."""

from __future__ import annotations

import copy
import uuid

import httpx
import pytest

pytest.importorskip("fhirpathpy")

from crd_support import SIGN, coverage_info, hook_request, post
from fhir_validation import errors, needs_ig, validate
from store_support import bundle, identified, inquiry_of, key_of, response_of

from lemtrada_asp.service.bench import start, stop
from lemtrada_asp.service.crd.answer import COVERAGE_INFORMATION
from lemtrada_asp.service.store import Store, sqlite_url


@pytest.fixture(scope="module")
def server():
    proc, url = start()
    store = Store(sqlite_url(proc.data_dir))
    yield url, store
    store.close()
    assert stop(proc) == 0


def fhir_post(url: str, path: str, body: dict) -> dict:
    r = httpx.post(url + path, json=body, headers={"content-type": "application/fhir+json"}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def naming(name: str, ids: dict[str, str]) -> dict:
    """A PAS request of the fixture ``name`` whose MedicationRequest carries CRD's coverage information with ``ids``."""
    b = identified(bundle(name), f"TRN-link-{uuid.uuid4().hex[:10]}")
    order = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    coverage = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Coverage")
    order.setdefault("extension", []).append({"url": COVERAGE_INFORMATION, "extension": [
        {"url": "coverage", "valueReference": {"reference": f"Coverage/{coverage['id']}"}},
        {"url": "covered", "valueCode": "conditional"}, {"url": "pa-needed", "valueCode": "auth-needed"},
        {"url": "date", "valueDate": "2026-05-01"},
        *({"url": kind, "valueString": value} for kind, value in ids.items())]})
    return b


def notes(answer: dict) -> list[str]:
    return [n["text"] for n in response_of(answer).get("processNote") or []]


def crd_assertion(url: str) -> str:
    [action] = post(url, SIGN, hook_request("order-sign-rrms")).json()["systemActions"]
    return coverage_info(action["resource"])["coverage-assertion-id"][0]


def test_a_request_naming_a_crd_answer_is_linked_to_it_and_inquire_shows_the_link(server):
    url, store = server
    assertion_id = crd_assertion(url)
    request = naming("pend-information", {"coverage-assertion-id": assertion_id})
    answer = fhir_post(url, "/fhir/Claim/$submit", request)
    linked = [n for n in notes(answer) if n.startswith(f"coverage-assertion-id {assertion_id}: this request is linked")]
    assert len(linked) == 1 and "order-sign hook (covered: conditional, auth-needed, documentation: clinical)" in linked[0]
    stored = store.find(key_of(request))
    assert store.coverage_links(stored.id) == [{"kind": "coverage-assertion-id", "value": assertion_id}]
    inquired = fhir_post(url, "/fhir/Claim/$inquire", inquiry_of(request))
    assert linked[0] in notes(inquired)


def test_an_unknown_assertion_id_is_decided_as_usual_and_said_to_be_unlinked(server):
    url, store = server
    plain = identified(bundle("pend-information"), f"TRN-plain-{uuid.uuid4().hex[:10]}")
    request = naming("pend-information", {"coverage-assertion-id": "not-one-of-ours"})
    answer, usual = fhir_post(url, "/fhir/Claim/$submit", request), fhir_post(url, "/fhir/Claim/$submit", plain)
    assert response_of(answer)["outcome"] == response_of(usual)["outcome"]
    assert [i.get("adjudication") for i in response_of(answer)["item"]] == [i.get("adjudication") for i in response_of(usual)["item"]]
    [note] = [n for n in notes(answer) if "not-one-of-ours" in n]
    assert note.startswith("Bundle.entry[") and "names nothing this server issued" in note and "not linked" in note
    assert store.coverage_links(store.find(key_of(request)).id) == []


def test_a_satisfied_pa_id_naming_an_authorisation_this_server_issued_is_linked(server):
    url, store = server
    approved = identified(bundle("approve-initial"), f"TRN-auth-{uuid.uuid4().hex[:10]}")
    reference = response_of(fhir_post(url, "/fhir/Claim/$submit", approved))["preAuthRef"]
    request = naming("approve-initial", {"satisfied-pa-id": reference})
    answer = fhir_post(url, "/fhir/Claim/$submit", request)
    assert any(n.startswith(f"satisfied-pa-id {reference}: this request is linked to the authorisation") for n in notes(answer))
    assert store.coverage_links(store.find(key_of(request)).id) == [{"kind": "satisfied-pa-id", "value": reference}]


def test_the_claimresponses_with_link_notes_validate_against_pas(server):
    """The notes are what the link adds to an answer: its ClaimResponse (PAS profile-claimresponse) is checked."""
    url, _ = server
    answers = [fhir_post(url, "/fhir/Claim/$submit", naming("pend-information", {"coverage-assertion-id": crd_assertion(url)})),
               fhir_post(url, "/fhir/Claim/$submit", naming("pend-information", {"coverage-assertion-id": "unknown-id"}))]
    responses = [response_of(a) for a in answers]
    assert all(len(r["processNote"]) >= 1 for r in responses)
    results = validate(responses)
    for result in results:
        assert errors(result["base"]) == []
    needs_ig()
    for result in results:
        checked = {url: issues for url, issues in result["profiles"].items() if issues is not None}
        assert checked, "the PAS package defines profile-claimresponse"
        for profile, issues in checked.items():
            assert errors(issues) == [], profile


def test_a_replayed_request_is_not_linked_twice(server):
    url, store = server
    request = naming("pend-information", {"coverage-assertion-id": crd_assertion(url)})
    first = fhir_post(url, "/fhir/Claim/$submit", request)
    again = fhir_post(url, "/fhir/Claim/$submit", copy.deepcopy(request))
    assert notes(first) == notes(again)
    assert len(store.coverage_links(store.find(key_of(request)).id)) == 1
