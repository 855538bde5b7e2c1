"""What the lifecycle adds to the response Bundle ``service/fhir_out.py`` builds.

Functions applied to that Bundle, never a second ClaimResponse builder: the
tracking identifier of a pended answer (as PAS's pended examples carry one in
``ClaimResponse.identifier``), the ``communicationRequest`` naming each missing
criterion's ``needed`` text with a link to the DTR Questionnaire, the cancelled
lines of an update (``infoCancelled``: no authorisation, X12 306 ``C``), and the
business-error answer of a request that names no stored request.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from ...case.pas import ids
from ...case.pas.problems import INPUT_ERRORS, FhirProblem
from ..fhir_out import checked, error_response

__all__ = ["human_reviewed", "was_human_reviewed", "review_codes", "TRACKING_SYSTEM", "CANCELLED_CODE", "COMMUNICATION_REQUEST_PROFILE", "claim_response", "add_tracking",
           "add_communication_request", "cancel_lines", "error_answer", "tracking_of"]

TRACKING_SYSTEM = "http://lemtrada-asp.example/fhir/NamingSystem/tracking-number"
CANCELLED_CODE = "C"  # X12 306 (HCR01): Cancelled
COMMUNICATION_REQUEST_PROFILE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-communicationrequest"
SERVICE_LINE_NUMBER = ids.PAS + "serviceLineNumber"
AUTHORISATION_EXTENSIONS = {ids.ITEM_ISSUE_DATE, ids.ITEM_PERIOD, ids.ITEM_AUTHORIZED_DETAIL}
# X12 AAA03 (element 901) "Input Errors": the reason for an update naming no stored request


def claim_response(answer: dict) -> dict:
    return answer["entry"][0]["resource"]


def review_codes(answer: dict) -> list[str]:
    """The X12 306 review action codes of an answer's items, in item order."""
    return [c["code"] for item in claim_response(answer).get("item") or [] for adj in item.get("adjudication") or []
            for ext in adj.get("extension") or [] for sub in ext.get("extension") or []
            if sub.get("url", "").endswith("reviewActionCode") for c in sub["valueCodeableConcept"]["coding"]]


def tracking_of(answer: dict) -> str | None:
    """The tracking number of an answer, if it carries one."""
    for ident in claim_response(answer).get("identifier") or []:
        if ident.get("system") == TRACKING_SYSTEM:
            return ident.get("value")
    return None


def add_tracking(answer: dict, tracking_id: str) -> dict:
    """The tracking identifier, after the Claim's own identifiers (PAS pended examples: a trace number)."""
    response = claim_response(answer)
    response["identifier"] = [*(response.get("identifier") or []),
                              {"system": TRACKING_SYSTEM, "value": tracking_id, "assigner": {"display": "lemtrada-asp"}}]
    return answer


def add_communication_request(answer: dict, request_bundle: dict, decision: dict, tracking_id: str,
                               asked: tuple[str, ...] = ()) -> dict:
    """For missing documentation: one PAS CommunicationRequest per missing criterion, naming its ``needed`` text,
    and one per request of ``asked`` (a reviewer's own words, from the review desk).

    PAS's CommunicationRequest profile takes one payload (0..1), so each is a request of
    its own (``{id} {title}: {needed}``, on the drug line), and each names the DTR
    Questionnaire whose answers carry the records (its text, and ``about`` by canonical
    URL). All carry the pended request's tracking identifier.
    """
    missing = decision.get("missing") or []
    if decision.get("decision") != "pend" or not (missing or asked):
        return answer
    response = claim_response(answer)
    claim = request_bundle["entry"][0]["resource"]
    line = (claim.get("item") or [{}])[0].get("sequence", 1)
    how = (f"Send the records by answering the DTR Questionnaire {ids.QUESTIONNAIRE_URL} "
           f"and submitting an update of this request (Claim.related).")
    authored = response.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds")
    texts = [f"{m['id']} {m['title']}: {m['needed']}. {how}" for m in missing]
    texts += [f"Asked by the clinical reviewer: {text} {how}" for text in asked]
    references, entries = [], []
    for text in texts:
        request_id = str(uuid.uuid4())
        communication = {
            "resourceType": "CommunicationRequest",
            "id": request_id,
            "meta": {"profile": [COMMUNICATION_REQUEST_PROFILE]},
            "identifier": [{"system": TRACKING_SYSTEM, "value": tracking_id}],
            "status": "active",
            "subject": claim["patient"],
            "about": [{"reference": ids.QUESTIONNAIRE_URL, "type": "Questionnaire", "display": "DTR Questionnaire lemtrada-pa"}],
            "authoredOn": authored,
            "payload": [{"extension": [{"url": SERVICE_LINE_NUMBER, "valuePositiveInt": line}], "contentString": text}],
            "requester": claim["insurer"],
            "recipient": [claim["provider"]],
            "sender": claim["provider"],
        }
        checked(communication)
        references.append({"reference": f"urn:uuid:{request_id}"})
        entries.append({"fullUrl": f"urn:uuid:{request_id}", "resource": communication})
    response["communicationRequest"] = references
    answer["entry"][1:1] = entries
    return answer


def cancel_lines(answer: dict, sequences: list[int]) -> dict:
    """Every item of ``sequences`` answered X12 306 ``C`` (Cancelled), without an authorisation.

    When no line keeps an authorisation the ClaimResponse loses ``preAuthRef`` and
    ``preAuthPeriod``; when every line is cancelled its disposition says so and
    the criterion notes (about a request no longer made) go.
    """
    response = claim_response(answer)
    cancelled = set(sequences)
    items = response.get("item") or []
    for item in items:
        if item.get("itemSequence") not in cancelled:
            continue
        item["extension"] = [e for e in item.get("extension") or [] if e.get("url") not in AUTHORISATION_EXTENSIONS]
        if not item["extension"]:
            del item["extension"]
        item.pop("noteNumber", None)
        for adjudication in item.get("adjudication") or []:
            for ext in adjudication.get("extension") or []:
                if ext.get("url") == ids.REVIEW_ACTION:
                    ext["extension"] = [
                        {"url": ids.REVIEW_ACTION_CODE, "valueCodeableConcept": {"coding": [
                            {"system": ids.X12_306, "code": CANCELLED_CODE, "display": "Cancelled"}]}}]
    still = [i for i in items if i.get("itemSequence") not in cancelled and any(
        e.get("url") == ids.ITEM_AUTHORIZED_DETAIL for e in i.get("extension") or [])]
    if not still:
        response.pop("preAuthRef", None)
        response.pop("preAuthPeriod", None)
    if items and all(i.get("itemSequence") in cancelled for i in items):
        response["disposition"] = "Cancelled: " + ", ".join(f"line {s}" for s in sorted(cancelled)) + \
                                  " cancelled by the requester (infoCancelled); no authorisation is in force"
        response.pop("processNote", None)
    checked(response)
    return answer


def human_reviewed(answer: dict, reviewer: str | None = None) -> dict:
    """The answer as a reviewer's final decision: ``wasHumanReviewedFlag`` true (fhir-pas.md, "Human review").

    With ``reviewer``, the disposition also says that a clinician decided, and who.
    """
    response = claim_response(answer)
    for ext in response.get("extension") or []:
        if ext.get("url") == ids.REVIEWER:
            ext["extension"] = [{"url": "wasHumanReviewedFlag", "valueBoolean": True}]
    if reviewer:
        response["disposition"] = f"{response.get('disposition') or 'Reviewed'}: decided by the clinical reviewer {reviewer}"
    return answer


def was_human_reviewed(answer: dict) -> bool:
    """Whether an answer says a person decided it (``wasHumanReviewedFlag`` true)."""
    return any(e.get("valueBoolean") is True for ext in claim_response(answer).get("extension") or []
               if ext.get("url") == ids.REVIEWER for e in ext.get("extension") or [] if e.get("url") == "wasHumanReviewedFlag")


def error_answer(request_bundle: dict, message: str, *, code: str = INPUT_ERRORS, expression: str | None = None,
                 decision_id: str | None = None, now: datetime | None = None) -> dict:
    """A business error of the lifecycle (an update naming no stored request, one already final), as every
    business error is answered: fhir_out.error_response, with X12 901 ``code`` at ``expression``."""
    return error_response(request_bundle, [FhirProblem(expression, code, message)], decision_id=decision_id, now=now)
