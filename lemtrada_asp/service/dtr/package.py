"""DTR ``$questionnaire-package``: the Questionnaire with everything a DTR client needs to fill it.

Input (DTR 2.0.1, OperationDefinition questionnaire-package and profile
dtr-qpackage-input-parameters): a Parameters with ``coverage`` (1..*, Coverage),
``order`` (MedicationRequest or another request resource), ``referenced``,
``questionnaire`` (canonicals), ``context`` and ``changedsince``. Output
(dtr-qpackage-output-parameters): one ``PackageBundle``, a ``collection`` Bundle
(DTR-QPackageBundle) whose first entry is the Questionnaire, followed by the
expanded ValueSets of its choice items, the case-v1 CodeSystem and the ConceptMap
onto standard codes (terminology.py). Pre-population is the Questionnaire's own
FHIRPath (launchContext + initialExpression), so no Library is shipped: no CQL.
"""

from __future__ import annotations

from typing import Any, Callable

from ...case.pas import ids
from ...case.pas.problems import BundleError, FhirProblem
from ..fhir_out import checked
from . import terminology

__all__ = ["BUNDLE_PROFILE", "OUTPUT_PROFILE", "package", "read_input"]

DTR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"
INPUT_PROFILE = DTR + "dtr-qpackage-input-parameters"
OUTPUT_PROFILE = DTR + "dtr-qpackage-output-parameters"
BUNDLE_PROFILE = DTR + "DTR-QPackageBundle"
ORDER_TYPES = frozenset({"MedicationRequest", "ServiceRequest", "DeviceRequest", "NutritionOrder", "CommunicationRequest",
                         "Appointment", "Encounter", "VisionPrescription"})
PARAMETERS = {"coverage": "resource", "order": "resource", "referenced": "resource", "questionnaire": "valueCanonical",
              "context": "valueString", "changedsince": "valueDateTime"}


def _fail(expression: str | None, code: str, message: str) -> BundleError:
    return BundleError([FhirProblem(expression, code, message)])


def read_input(data: Any) -> dict[str, list[Any]]:
    """The input parameters by name, each checked against the operation's definition; BundleError (400) if not."""
    if not isinstance(data, dict):
        raise _fail(None, "structure", f"expected a JSON object (a Parameters resource), got {type(data).__name__}")
    if data.get("resourceType") != "Parameters":
        raise _fail(None, "structure", f"expected resourceType Parameters, got {str(data.get('resourceType'))[:60]!r}")
    try:
        checked(data)
    except ValueError as exc:  # pydantic ValidationError: the fhir.resources model says what is not valid R4
        raise _fail("Parameters", "structure", f"not a valid R4 Parameters: {str(exc)[:500]}") from None
    problems: list[FhirProblem] = []
    found: dict[str, list[Any]] = {name: [] for name in PARAMETERS}
    for i, param in enumerate(data.get("parameter") or []):
        where = f"Parameters.parameter[{i}]"
        name = param.get("name")
        element = PARAMETERS.get(name)
        if element is None:
            problems.append(FhirProblem(f"{where}.name", "not-supported",
                                        f"unknown parameter {str(name)[:60]!r}; expected one of {', '.join(PARAMETERS)}"))
            continue
        value = param.get(element)
        if value is None:
            problems.append(FhirProblem(where, "required", f"parameter {name!r} takes {element}"))
            continue
        kind = value.get("resourceType") if isinstance(value, dict) else None
        if name == "coverage" and kind != "Coverage":
            problems.append(FhirProblem(f"{where}.resource", "invalid", f"'coverage' must be a Coverage, got {kind}"))
            continue
        if name == "order" and kind not in ORDER_TYPES:
            problems.append(FhirProblem(f"{where}.resource", "invalid",
                                        f"'order' must be a request resource ({', '.join(sorted(ORDER_TYPES))}), got {kind}"))
            continue
        found[name].append(value)
    if not found["coverage"] and not problems:
        problems.append(FhirProblem("Parameters.parameter", "required",
                                    "expected at least one 'coverage' parameter (DTR dtr-qpackage-input-parameters)"))
    if not (found["order"] or found["questionnaire"] or found["context"]) and not problems:
        problems.append(FhirProblem("Parameters.parameter", "required",
                                    "expected an 'order', a 'questionnaire' or a 'context' parameter (DTR dtr-1)"))
    for canonical in found["questionnaire"]:
        if canonical.split("|", 1)[0] != ids.QUESTIONNAIRE_URL or canonical.split("|", 1)[1:] not in ([], [ids.QUESTIONNAIRE_VERSION]):
            problems.append(FhirProblem("Parameters.parameter", "not-found",
                                        f"no Questionnaire {canonical[:200]!r} here; this payer's is {ids.QUESTIONNAIRE_URL}|{ids.QUESTIONNAIRE_VERSION}"))
    for order in found["order"]:
        problem = _not_lemtrada(order)
        if problem:
            problems.append(FhirProblem("Parameters.parameter", "not-supported", problem))
    if problems:
        raise BundleError(problems)
    return found


def _not_lemtrada(order: dict) -> str | None:
    """Why a coded order is not one this Questionnaire documents (None when it is, or says nothing)."""
    from ...case.pas.medication import medication_codes

    if order.get("resourceType") != "MedicationRequest":
        return f"this payer's DTR documents alemtuzumab (Lemtrada) orders, not a {order.get('resourceType')}"
    codings = (order.get("medicationCodeableConcept") or {}).get("coding") or []
    verdicts = [medication_codes().names_lemtrada(c) for c in codings]
    if False in verdicts and True not in verdicts:
        return "the order's medication is coded and names neither alemtuzumab nor Lemtrada"
    return None


def package(questionnaire: dict, inputs: dict[str, list[Any]], bundle_id: Callable[[], str]) -> dict:
    """The output Parameters: one PackageBundle (Questionnaire first, then its terminology)."""
    resources = [questionnaire, *terminology.value_sets(questionnaire), terminology.code_system(questionnaire),
                 terminology.concept_map(questionnaire)]
    bundle = {
        "resourceType": "Bundle",
        "id": bundle_id(),
        "meta": {"profile": [BUNDLE_PROFILE]},
        "type": "collection",
        "entry": [{"fullUrl": r["url"], "resource": r} for r in resources],
    }
    return checked({"resourceType": "Parameters", "meta": {"profile": [OUTPUT_PROFILE]},
                    "parameter": [{"name": "PackageBundle", "resource": bundle}]})
