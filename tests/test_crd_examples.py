"""The real Inferno CRD hook requests, read at test time and adapted to an alemtuzumab order, through a real server.

They are read from ``$LEMTRADA_FHIR_EXAMPLES_DIR/crd`` (default ``../shared/examples/crd`` beside the checkout)
and never committed; the tests skip, saying so, where they are absent. The adaptation (``adapted``) is the only
change: the MedicationRequest they carry becomes a Lemtrada order (RxNorm 1594660, 12 mg a day for 5 days, a
well-formed doseAndRate list, the context's patient as subject, an authoredOn and a PractitionerRole requester,
which CRD's profile requires), and the prefetch the service's discovery asks for is filled from Inferno's own
CRD example Patient, Coverage and PractitionerRole.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("fhirpathpy")

from crd_support import (
    SELECT,
    SIGN,
    coverage_info,
    coverage_information_problems,
    crd_package,
    post,
)
from fhir_validation import errors, needs_ig, validate

from lemtrada_asp.service.bench import start, stop
from lemtrada_asp.service.crd.answer import CRD_MEDICATION_REQUEST
from lemtrada_asp.service.store import Store, sqlite_url

EXAMPLES = Path(os.environ.get("LEMTRADA_FHIR_EXAMPLES_DIR") or Path(__file__).resolve().parents[2] / "shared" / "examples") / "crd"
REQUESTS = {"order-sign": ("order_sign_hook_request.json", SIGN), "order-select": ("order_select_hook_request.json", SELECT)}


def example(name: str) -> dict:
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"the Inferno CRD examples are not in {EXAMPLES} (set LEMTRADA_FHIR_EXAMPLES_DIR to the folder "
                    f"holding crd/{name})")
    return json.loads(path.read_text())


def adapted(request: dict) -> dict:
    """The Inferno request with its MedicationRequest made an alemtuzumab order, and the prefetch filled in."""
    body = copy.deepcopy(request)
    context = body["context"]
    [order] = [e["resource"] for e in context["draftOrders"]["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
    order["medicationCodeableConcept"] = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "1594660", "display": "alemtuzumab 10 MG/ML [Lemtrada]"}]}
    order.pop("text", None)  # its narrative names the drug it was
    order["subject"] = {"reference": f"Patient/{context['patientId']}"}
    order.setdefault("authoredOn", "2026-05-01")
    order["requester"] = {"reference": "PractitionerRole/example"}
    order["dosageInstruction"] = [{"text": "12 mg IV once daily for 5 days",
                                   "timing": {"repeat": {"count": 5, "frequency": 1, "period": 1, "periodUnit": "d"}},
                                   "doseAndRate": [{"doseQuantity": {"value": 12, "unit": "mg", "code": "mg",
                                                                     "system": "http://unitsofmeasure.org"}}]}]
    order.pop("dispenseRequest", None)  # its quantities were the other drug's
    coverage = example("crd_coverage_example.json")
    body["prefetch"] = {"patient": example("crd_patient_example.json"),
                        "coverage": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": coverage}]},
                        "practitionerRole": example("crd_practitioner_role_example.json")}
    return body


@pytest.fixture(scope="module")
def server():
    example(REQUESTS["order-sign"][0])  # skip before starting a server when the examples are absent
    proc, url = start()
    store = Store(sqlite_url(proc.data_dir))
    yield url, store
    store.close()
    assert stop(proc) == 0


@pytest.fixture(scope="module")
def answered(server):
    found = {}
    for hook, (name, service) in REQUESTS.items():
        request = example(name)
        found[hook] = (request, post(server[0], service, adapted(request)).json())
    return found


@pytest.mark.parametrize("hook", REQUESTS)
def test_the_inferno_request_as_it_is_orders_no_alemtuzumab_and_gets_no_cards(server, hook):
    name, service = REQUESTS[hook]
    r = post(server[0], service, example(name))
    assert r.status_code == 200 and r.json() == {"cards": []}


@pytest.mark.parametrize("hook", REQUESTS)
def test_the_inferno_request_adapted_to_alemtuzumab_gets_its_coverage_information(server, answered, hook):
    request, answer = answered[hook]
    [action] = answer["systemActions"]
    assert action["type"] == "update" and action["resource"]["id"] == "smart-MedicationRequest-103"
    info = coverage_info(action["resource"])
    assert info["covered"] == ["conditional"] and info["pa-needed"] == ["auth-needed"] and info["doc-needed"] == ["clinical"]
    # The example coverage (the prefetch's), and what Inferno's chart does not say: no specialty on its role (I1),
    # no Condition (I3), no diagnosis code on the order (B1), and what no chart says (I0, I4).
    assert info["coverage"] == [{"reference": "Coverage/coverage_example"}]
    assert [r["coding"][0]["code"] for r in info["reason"]] == ["I0", "I1", "I3", "I4", "B1"]
    stored = server[1].coverage_assertion(info["coverage-assertion-id"][0])
    assert stored["hook"] == hook and stored["hook_instance"] == request["hookInstance"]
    assert stored["case"]["member"]["birth_date"] == example("crd_patient_example.json")["birthDate"]


def test_the_answers_to_the_adapted_inferno_requests_validate(answered):
    resources = [a["resource"] for _, answer in answered.values() for a in answer["systemActions"]]
    results = validate(resources)
    for result in results:
        assert errors(result["base"]) == []
    needs_ig()
    for result in validate(resources):
        issues = result["profiles"][CRD_MEDICATION_REQUEST]
        if issues is None:
            pytest.skip("the CRD package is not in the IG folder: the CRD profile is not checked")
        assert errors(issues) == []
    package = crd_package()
    if package is None:
        pytest.skip("davinci-crd-2.0.1.tgz is not in the IG folder: the extension's own rules are not checked")
    assert all(coverage_information_problems(r, package) == [] for r in resources)
