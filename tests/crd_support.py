"""Shared by the CRD tests: the authored hook requests, posting them, reading the answers' coverage information."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from lemtrada_asp.service.crd.answer import COVERAGE_INFORMATION

FIXTURES = Path(__file__).parent / "fixtures" / "crd"
SIGN = "lemtrada-crd-order-sign"
SELECT = "lemtrada-crd-order-select"


def hook_request(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def post(url: str, service: str, body, headers: dict | None = None, **kw) -> httpx.Response:
    if isinstance(body, (bytes, str)):
        return httpx.post(f"{url}/cds-services/{service}", content=body, timeout=60,
                          headers={"content-type": "application/json", **(headers or {})}, **kw)
    return httpx.post(f"{url}/cds-services/{service}", json=body, headers=headers, timeout=60, **kw)


def coverage_info(resource: dict) -> dict[str, list]:
    """The coverage-information extension of a returned order: sub-extension url -> its values."""
    [ext] = [e for e in resource.get("extension") or [] if e["url"] == COVERAGE_INFORMATION]
    found: dict[str, list] = {}
    for sub in ext["extension"]:
        value = next(v for k, v in sub.items() if k.startswith("value"))
        found.setdefault(sub["url"], []).append(value)
    return found


def crd_package() -> dict[str, dict] | None:
    """The CRD 2.0.1 package's JSON files by name (from the IG folder), or None when it is not there."""
    import io
    import tarfile

    from fhir_validation import ig_dir

    path = ig_dir() / "davinci-crd-2.0.1.tgz"
    if not path.is_file():
        return None
    files = {}
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes()), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("package/") and member.name.endswith(".json"):
                files[member.name.removeprefix("package/")] = json.loads(tar.extractfile(member).read())
    return files


def coverage_information_problems(resource: dict, package: dict[str, dict]) -> list[str]:
    """What the medplum validator does not check of ext-coverage-information on an order: each sub-extension's
    cardinality and required binding, and the extension's invariants (crd-ci-q1..q5, the IG's own FHIRPath
    evaluated by fhirpathpy). From the package's StructureDefinition and ValueSets, nothing written here."""
    from fhirpathpy import evaluate
    from fhirpathpy.models import models

    definition = package["StructureDefinition-ext-coverage-information.json"]
    value_sets = {v["url"]: {c["code"] for inc in v["compose"]["include"] for c in inc.get("concept", [])}
                  for name, v in package.items() if name.startswith("ValueSet-")}
    [ext] = [e for e in resource.get("extension") or [] if e["url"] == COVERAGE_INFORMATION]
    problems = []
    elements = {e["id"]: e for e in definition["differential"]["element"]}
    for slice_id, element in elements.items():
        if slice_id.count(":") != 1 or not slice_id.endswith(tuple(f":{element.get('sliceName')}" for _ in [0])):
            continue
        name = element["sliceName"]
        found = [e for e in ext["extension"] if e["url"] == name]
        high = element.get("max", "*")
        if len(found) < element.get("min", 0) or (high != "*" and len(found) > int(high)):
            problems.append(f"{name}: {len(found)} given, cardinality {element.get('min', 0)}..{high}")
        binding = elements.get(f"{slice_id}.value[x]", {}).get("binding") or {}
        if binding.get("strength") == "required":
            codes = value_sets.get(binding["valueSet"], set())
            problems += [f"{name}: {e.get('valueCode')!r} is not in {binding['valueSet']}" for e in found
                         if e.get("valueCode") not in codes]
    known = {e["sliceName"] for i, e in elements.items() if i.count(":") == 1 and "sliceName" in e}
    problems += [f"{e['url']}: not a sub-extension of ext-coverage-information" for e in ext["extension"] if e["url"] not in known]
    for element in definition["differential"]["element"]:
        for constraint in element.get("constraint", []):
            # FHIRPath's singleton evaluation: a one-item collection where a Boolean is expected is true; fhirpathpy
            # raises instead, so a bare where(...) operand is given the .exists() the spec implies.
            invariant = re.sub(r"(extension\.where\((?:[^()]|\([^()]*\))*\))(?!\s*\.)", r"\1.exists()",
                               constraint["expression"])
            expression = f"MedicationRequest.extension.where(url = '{COVERAGE_INFORMATION}').all({invariant})"
            if evaluate(resource, expression, {}, models["r4"]) != [True]:
                problems.append(f"{constraint['key']}: {constraint['human']}")
    return problems
