"""A request Bundle's FHIR check (case/pas/fhir_in.py, through seen.py) remembers the resources and
elements it accepted, and answers exactly as the whole check does, whether or not they were seen before."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from lemtrada_asp.case.pas import fhir_in, seen
from lemtrada_asp.case.pas.problems import BundleError

FIXTURES = Path(__file__).parent / "fixtures" / "pas"
BUNDLES = sorted(FIXTURES.glob("*.bundle.json"))


def outcome(data: dict) -> list | None:
    """None when the check passes, else its problems as (expression, code, message)."""
    try:
        fhir_in._check_fhir(data)
    except BundleError as exc:
        return [(p.expression, p.code, p.message) for p in exc.problems]
    return None


def whole(data: dict) -> bool:
    """Whether fhir.resources accepts the Bundle checked as a whole, nothing remembered."""
    try:
        Bundle.model_validate(data)
    except Exception:  # noqa: BLE001 - any refusal
        return False
    return True


def broken(bundle: dict) -> list[dict]:
    """The Bundle with one resource made invalid in each of a few ways, one at a time: at its top,
    and inside each of its elements (a string where an object or a list is, an unknown element)."""
    out = []
    for i, entry in enumerate(bundle["entry"]):
        for change in ({"unknownElement": 1}, {"id": 5}, {"meta": "not an object"}):
            changed = copy.deepcopy(bundle)
            changed["entry"][i]["resource"].update(change)
            out.append(changed)
        for name, value in entry["resource"].items():
            if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)):
                changed = copy.deepcopy(bundle)
                inner = changed["entry"][i]["resource"][name]
                (inner if isinstance(inner, dict) else inner[0])["unknownElement"] = {"x": 1}
                out.append(changed)
    return out


@pytest.fixture(autouse=True)
def _forget():
    with seen._seen_lock:
        seen._seen.clear()
    yield
    with seen._seen_lock:
        seen._seen.clear()


QUICK = {"approve-initial.bundle.json", "lines.bundle.json", "continuation.bundle.json"}  # the rest: slow step


@pytest.mark.parametrize("path", [p if p.name in QUICK else pytest.param(p, marks=pytest.mark.slow) for p in BUNDLES],
                         ids=lambda p: p.name)
def test_a_bundle_checks_the_same_before_and_after_its_resources_were_seen(path):
    bundle = json.loads(path.read_text())
    first = outcome(bundle)
    assert first is None and whole(bundle)
    assert seen._seen  # its resources are remembered ...
    assert outcome(copy.deepcopy(bundle)) is None  # ... and the same Bundle again passes with them
    for bad in broken(bundle):
        with seen._seen_lock:
            seen._seen.clear()
        fresh = outcome(copy.deepcopy(bad))
        fhir_in._check_fhir(copy.deepcopy(bundle))  # every good resource now remembered
        assert fresh is not None and outcome(copy.deepcopy(bad)) == fresh and not whole(bad)


def test_a_remembered_resource_is_one_of_the_same_text_only():
    bundle = json.loads((FIXTURES / "approve-initial.bundle.json").read_text())
    fhir_in._check_fhir(bundle)
    changed = copy.deepcopy(bundle)
    patient = next(e["resource"] for e in changed["entry"] if e["resource"]["resourceType"] == "Patient")
    patient["birthDate"] = "not a date"
    shell, _ = seen._with_seen_resources(changed)
    kinds = {type(e["resource"]).__name__ for e in shell["entry"]}
    assert "dict" in kinds and "Patient" not in kinds - {"dict"}  # the changed Patient is checked anew
    assert outcome(changed) is not None


def test_at_most_the_set_number_of_resources_is_remembered(monkeypatch):
    monkeypatch.setattr(seen, "SEEN_RESOURCES", 3)
    fhir_in._check_fhir(json.loads((FIXTURES / "approve-initial.bundle.json").read_text()))
    assert len(seen._seen) == 3


def test_the_elements_of_a_new_resource_seen_before_are_put_in_place_and_a_changed_one_is_not():
    bundle = json.loads((FIXTURES / "approve-initial.bundle.json").read_text())
    fhir_in._check_fhir(bundle)
    changed = copy.deepcopy(bundle)
    claim = changed["entry"][0]["resource"]
    claim["identifier"][0]["value"] = "another request"  # a new Claim ...
    claim["insurance"][0]["focal"] = "not a boolean"  # ... whose insurance is not valid FHIR
    shell, _ = seen._with_seen_resources(changed)
    placed = shell["entry"][0]["resource"]
    assert isinstance(placed, dict) and not isinstance(placed["diagnosis"][0], dict)  # seen: its models
    assert isinstance(placed["identifier"][0], dict) and isinstance(placed["insurance"][0], dict)  # new: JSON
    problems = outcome(changed)
    assert problems and any("insurance" in (expression or "") for expression, _, _ in problems)
    with seen._seen_lock:
        seen._seen.clear()
    assert outcome(copy.deepcopy(changed)) == problems
