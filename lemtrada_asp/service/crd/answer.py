"""CRD's answer for one order, in the CRD 2.0.1 forms: the coverage-information system action, and cards.

The coverage-information extension (``ext-coverage-information``) goes on the
order, returned as a CDS Hooks system action of type ``update``: ``coverage``
(the member's Coverage), ``covered``, ``pa-needed``, ``doc-needed`` and
``doc-purpose`` as workflow/coverage.py derives them from the KB's decision,
``questionnaire`` (the DTR Questionnaire, only with doc-needed: invariant
crd-ci-q1), one ``reason`` per criterion the answer rests on (each undocumented
criterion and what would settle it; for a denial each failed criterion and
applied exclusion only), ``date``
and the stored ``coverage-assertion-id``. The order carries CRD's MedicationRequest
profile in ``meta.profile``.

A card is made for each criterion the order itself cannot pass (a failed
criterion or an applied exclusion of a denial: dose or course length, age,
PPMS, a concurrent DMT): its summary names it, its detail says the case facts
behind it (the decision's own ``because``, true of the case by construction) and
quotes the policy sentences the KB traces it to (analysis/trace.py).
"""

from __future__ import annotations

import copy
import uuid

from ...case.pas.ids import QUESTIONNAIRE_URL
from ...workflow.coverage import CRD_CODES, CoverageAnswer

__all__ = ["CARD_SUMMARY_MAX", "COVERAGE_INFORMATION", "CRD_MEDICATION_REQUEST", "CRITERIA_CODES", "cards",
           "coverage_information", "coverage_reference", "problem_card", "source_label", "system_action"]

COVERAGE_INFORMATION = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
CRD_MEDICATION_REQUEST = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/profile-medicationrequest"
CRITERIA_CODES = "http://lemtrada-asp.example/fhir/CodeSystem/criteria"  # the policy's criterion ids (criteria.md)
CARD_SUMMARY_MAX = 140  # CDS Hooks 2.0: a card's summary is "<140 characters"
CARD_TOPIC = {"system": CRD_CODES, "code": "off-guideline", "display": "Off Guideline"}  # CRD card type
WARNING = "warning"  # CRD: what stands in the way of reimbursement is a warning, not 'critical'
DOSE_CRITERIA = ("I7", "C4")


def _reason(criterion: dict, state: str) -> dict:
    needed = f"; needed: {criterion['needed']}" if criterion.get("needed") else ""
    return {"url": "reason", "valueCodeableConcept": {
        "coding": [{"system": CRITERIA_CODES, "code": criterion["id"], "display": criterion["title"]}],
        "text": f"{criterion['id']} {criterion['title']}: {state}{needed}"}}


def coverage_information(answer: CoverageAnswer, decision: dict, *, coverage: dict, assertion_id: str, day: str) -> dict:
    """The ext-coverage-information extension of one answer (its sub-extensions in the profile's order)."""
    parts: list[dict] = [{"url": "coverage", "valueReference": coverage}, {"url": "covered", "valueCode": answer.covered}]
    if answer.pa_needed:
        parts.append({"url": "pa-needed", "valueCode": answer.pa_needed})
    if answer.doc_needed:
        parts.append({"url": "doc-needed", "valueCode": answer.doc_needed})
    parts += [{"url": "doc-purpose", "valueCode": code} for code in answer.doc_purpose]
    missing = {c["id"]: c for c in decision.get("missing") or []}
    failed = {c["id"]: c for c in decision.get("failed") or []}
    if answer.failing:  # a denial rests on what fails: documenting the rest would not change it
        parts += [_reason(failed[i], "not met" if failed[i]["status"] == "not_met" else "applies")
                  for i in answer.failing if i in failed]
    else:
        parts += [_reason(missing[i], "undocumented") for i in answer.missing if i in missing]
    if answer.doc_needed:
        parts.append({"url": "questionnaire", "valueCanonical": QUESTIONNAIRE_URL})
    parts += [{"url": "date", "valueDate": day}, {"url": "coverage-assertion-id", "valueString": assertion_id}]
    return {"url": COVERAGE_INFORMATION, "extension": parts}


def system_action(order: dict, extension: dict, answer: CoverageAnswer) -> dict:
    """The order with its coverage information (replacing any it had) and CRD's profile: an ``update`` action."""
    updated = copy.deepcopy(order)
    updated["extension"] = [e for e in updated.get("extension") or []
                            if not (isinstance(e, dict) and e.get("url") == COVERAGE_INFORMATION)] + [extension]
    meta = updated.setdefault("meta", {})
    profiles = [p for p in meta.get("profile") or [] if p != CRD_MEDICATION_REQUEST]
    meta["profile"] = [*profiles, CRD_MEDICATION_REQUEST]
    said = {"covered": "covered", "not-covered": "not covered", "conditional": "covered if the criteria are met"}[answer.covered]
    needs = "; prior authorization needed" if answer.pa_needed else ""
    docs = "; clinical documentation needed (DTR)" if answer.doc_needed else ""
    return {"type": "update", "description": f"Coverage information for this Lemtrada order: {said}{needs}{docs}",
            "resource": updated}


def _summary(text: str) -> str:
    return text if len(text) < CARD_SUMMARY_MAX else text[:CARD_SUMMARY_MAX - 2] + "…"


def source_label(guideline: tuple[str, str]) -> str:
    """A card's source: the policy the KB encodes, and its revision (Decision.guideline)."""
    name, revised = guideline
    return f"{name}{f' (revised {revised})' if revised else ''}"


def cards(answer: CoverageAnswer, decision: dict, sentences: dict[str, list[dict]], label: str) -> list[dict]:
    """One card for each criterion the order cannot pass (``answer.failing``), citing its policy sentences."""
    failed = {c["id"]: c for c in decision.get("failed") or []}
    made = []
    for ident in answer.failing:
        criterion = failed.get(ident)
        if criterion is None:
            continue
        applies = criterion["status"] == "applies"
        summary = _summary(f"Lemtrada not covered: {ident} {'applies' if applies else 'not met'}: {criterion['title']}")
        facts = [fact for reason in criterion.get("reasons") or [] for fact in reason.get("because") or []]
        lines = [(f"The plan's Lemtrada policy {'excludes this use' if applies else 'requires this'}: "
                  f"**{ident} {criterion['title']}** ({criterion['section']})."), ""]
        if facts:
            lines += ["What the order and the chart sent with this call state:", *[f"- {fact}" for fact in dict.fromkeys(facts)], ""]
        if ident in DOSE_CRITERIA:
            review = decision.get("review_type") or "initial"
            lines += [(f"This is read as {'an' if review[0] in 'aeiou' else 'a'} {review} review "
                       f"(course {decision.get('course')}): the chart sent with this call names no prior Lemtrada course."), ""]
        quoted = [s for key in [ident, *[r.get("id") for r in criterion.get("reasons") or []]]
                  for s in sentences.get(key, [])]
        if quoted:
            lines.append("The policy says:")
            lines += [f"> {s['text']} (policy line {s['policy_line']})" for s in {q["text"]: q for q in quoted}.values()]
        made.append({"uuid": str(uuid.uuid4()), "summary": summary, "indicator": WARNING, "detail": "\n".join(lines).strip(),
                     "source": {"label": label, "topic": CARD_TOPIC}})
    return made


def problem_card(problems: list[tuple[str, str]], label: str) -> dict:
    """An order whose case cannot be read (no dose, say): an info card saying what was expected, no coverage answer."""
    listed = [f"- {field}: {message}" if field else f"- {message}" for field, message in problems[:20]]
    return {"uuid": str(uuid.uuid4()), "indicator": "info",
            "summary": _summary("Lemtrada coverage cannot be determined from this order as written"),
            "detail": "\n".join([("The order and the chart sent with this call cannot be read into a request the plan's "
                                  "Lemtrada policy decides:"), *listed,
                                 "", "Coverage of this order cannot be said until these are stated."]),
            "source": {"label": label, "topic": {
                "system": CRD_CODES, "code": "coverage-info", "display": "Coverage Information"}}}


def coverage_reference(order: dict, chart: dict) -> dict:
    """The member's Coverage as the extension's ``coverage`` names it: the order's insurance, else the prefetch's."""
    insurance = order.get("insurance")
    if isinstance(insurance, list) and insurance and isinstance(insurance[0], dict) and insurance[0].get("reference"):
        return {"reference": insurance[0]["reference"]}
    coverage = chart.get("coverage")
    if isinstance(coverage, dict) and coverage.get("id"):
        return {"reference": f"Coverage/{coverage['id']}"}
    return {"display": "the member's coverage (no Coverage was sent with this call)"}
