"""A decision -> the PAS response Bundle; and the CapabilityStatement and OperationOutcome.

Works from the decision format (decision-format.md) only, never from the
engine, so the ClaimResponse can say nothing the decision does not. Every
resource built here is checked with the fhir.resources R4B models before it is
returned: a response that is not valid FHIR is a bug to stop at, not to send.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from ..case.pas import ids
from ..case.pas.lines import OTHER, Line, classify
from ..case.pas.medication import medication_codes
from ..case.pas.problems import FhirProblem, Problems
from ..case.pas.refs import BundleIndex, Located

__all__ = ["AUTHORIZATION_WINDOW_DAYS", "capability_statement", "checked", "claim_response", "error_response",
           "notes", "operation_outcome", "request_lines", "response_bundle", "review_action"]

REVIEW_DISPLAY = {"A1": "Certified in total", "A3": "Not Certified", "A4": "Pended"}
PEND_DISPOSITION = {
    "information": "Pended: documentation needed",
    "case_by_case": "Pended for case-by-case clinical review",
    "state_mandate": "Pended for state step-therapy mandate review",
}


def checked(resource: dict) -> dict:
    """The resource, after the fhir.resources R4B model of its type accepted it.

    A Bundle goes through case/pas/seen.py, which checks an entry resource met before (the
    request's Patient, insurer and provider, copied into the response) only once: about
    0.3 ms of each $submit."""
    if resource["resourceType"] == "Bundle":
        from ..case.pas.seen import validate_bundle

        validate_bundle(resource)
        return resource
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def review_action(decision: dict, final_denials: bool) -> tuple[str, str]:
    """The X12 306 code and the disposition text (fhir-pas.md, the decision table)."""
    kind = decision["decision"]
    if kind == "approve":
        units = sum(h["units"] for h in decision["authorized"]["hcpcs"] if h["code"] == ids.LEMTRADA_HCPCS)
        return "A1", f"Certified: one course of {decision['authorized']['mg']} mg (J0202 x {units} units)"
    if kind == "pend":
        return "A4", PEND_DISPOSITION[decision["pend_reason"]]
    if final_denials:
        return "A3", "Not certified"
    return "A4", "Pended for clinical review: denial recommended"


def notes(decision: dict) -> list[str]:
    """The processNote texts, in the contract's order."""
    texts = []
    for f in decision["failed"]:
        verdict = "applies" if f["status"] == "applies" else "not met"
        facts = "; ".join(fact for reason in f.get("reasons", []) for fact in reason.get("because", []))
        texts.append(f"{f['id']} {f['title']}: {verdict} ({f['section']})" + (f" because {facts}" if facts else ""))
    for m in decision["missing"]:
        texts.append(f"{m['id']} {m['title']}: not documented; needed: {m['needed']}")
    if decision["decision"] == "pend" and decision["pend_reason"] == "case_by_case":
        texts.append(f"Course {decision['course']}: courses beyond the first two are authorised case by case")
    if decision["decision"] == "approve":
        texts += [f"Advisory: {text}" for text in decision.get("advisories", [])]
    return texts


def _decision_extension(decision: dict) -> dict:
    subs: list[dict] = [{"url": "decision", "valueCode": decision["decision"]}]
    if decision["decision"] == "pend":
        subs.append({"url": "pendReason", "valueCode": decision["pend_reason"]})
    subs.append({"url": "reviewType", "valueCode": decision["review_type"]})
    subs.append({"url": "course", "valueInteger": decision["course"]})
    subs += [{"url": "failed", "valueCode": f["id"]} for f in decision["failed"]]
    subs += [{"url": "missing", "valueCode": m["id"]} for m in decision["missing"]]
    subs.append({"url": "kbVersion", "valueString": decision["kb_version"]})
    return {"url": ids.DECISION_EXT, "extension": subs}


def _reason_codes(decision: dict, reason_codes: dict[str, str]) -> list[dict]:
    keys = [f["id"] for f in decision["failed"]] + [m["id"] for m in decision["missing"]]
    if decision.get("pend_reason"):
        keys.append(f"pend:{decision['pend_reason']}")
    return [
        {"url": "reasonCode", "valueCodeableConcept": {"coding": [{"system": ids.X12_REASON, "code": reason_codes[key]}]}}
        for key in keys if key in reason_codes
    ]


AUTHORIZATION_WINDOW_DAYS = 30  # plan setting: days from the planned start an approval may be used in


def _period(case: dict, window_days: int) -> dict:
    """preAuthPeriod: from the planned start, ``window_days`` days long (version 2, "Authorization").

    Long enough to schedule the course; the course itself is in itemAuthorizedDetail.
    """
    start = date.fromisoformat(case["request"].get("start_date") or case["request"]["date"])
    end = start + timedelta(days=window_days - 1)
    return {"start": start.isoformat(), "end": end.isoformat()}


def request_lines(bundle: dict) -> list[Line]:
    """The Claim's items as lines (drug, infusion, other), as the mapping classified them."""
    return classify(bundle["entry"][0]["resource"], "Bundle.entry[0].resource", medication_codes(), Problems())


def claim_response(decision: dict, bundle: dict, case: dict, **options: Any) -> dict:
    """The ClaimResponse for a decision on the request Bundle it answers (fhir-pas.md, "The response Bundle")."""
    return checked(_claim_response(decision, bundle, case, **options))


def _header(c: dict, entry: dict, response_id: str, now: datetime) -> dict[str, Any]:
    """The ClaimResponse elements copied from the Claim, the same for an answer and an error."""
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": response_id,
        "meta": {"profile": [ids.PROFILE_CLAIM_RESPONSE]},
        "extension": [],
        "identifier": c.get("identifier"),
        "status": "active",
        "type": c["type"],
        "use": "preauthorization",
        "patient": c["patient"],
        "created": now.isoformat(timespec="seconds"),
        "insurer": c["insurer"],
        "requestor": c["provider"],
        "request": {"reference": entry.get("fullUrl") or f"Claim/{c.get('id')}"},
    }
    if not response["identifier"]:
        del response["identifier"]
    return response


def _authorized_detail(line: Line, authorized_units: int | float) -> dict:
    """What a certified line authorises: its own code, and its requested quantity (never more or other)."""
    code = line.coding or {"system": ids.HCPCS, "code": ids.LEMTRADA_HCPCS}
    quantity = dict(line.quantity) if line.quantity else {"value": authorized_units}
    return {"url": ids.ITEM_AUTHORIZED_DETAIL, "extension": [
        {"url": "productOrServiceCode", "valueCodeableConcept": {"coding": [
            {k: code[k] for k in ("system", "code", "display") if k in code}]}},
        {"url": "quantity", "valueQuantity": quantity},
    ]}


def _claim_response(decision: dict, bundle: dict, case: dict, *, final_denials: bool = False,
                    reason_codes: dict[str, str] | None = None, decision_id: str | None = None,
                    now: datetime | None = None, authorization_window_days: int = AUTHORIZATION_WINDOW_DAYS,
                    lines: list[Line] | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    decision_id = decision_id or str(uuid.uuid4())
    entry = bundle["entry"][0]
    c = entry["resource"]
    code, disposition = review_action(decision, final_denials)
    approve = decision["decision"] == "approve"
    texts = notes(decision)
    response = _header(c, entry, decision_id, now)
    response["extension"] = [
        {"url": ids.REVIEWER, "extension": [{"url": "wasHumanReviewedFlag", "valueBoolean": False}]},
        _decision_extension(decision),
    ]
    response["outcome"] = "complete"
    response["disposition"] = disposition
    lines = lines if lines is not None else request_lines(bundle)
    others = [line for line in lines if line.kind == OTHER]
    decided_notes = len(texts)  # notes 1..n are the decision's; one more names the lines not reviewed
    other_note = decided_notes + 1 if others else None
    if others:
        texts.append("Not reviewed under this policy (Lemtrada): item "
                     + ", ".join(str(line.sequence) for line in others)
                     + "; only the alemtuzumab line and its infusion lines (CPT 96365, 96366) are decided here")
    auth_ref = f"LEM-{decision_id}" if approve else None
    period = _period(case, authorization_window_days) if approve else None
    if approve:
        response["preAuthRef"], response["preAuthPeriod"] = auth_ref, period
    units = sum(h["units"] for h in decision["authorized"]["hcpcs"] if h["code"] == ids.LEMTRADA_HCPCS) if approve else 0
    items = []
    for line in lines:
        line_code = code if line.kind != OTHER else "A4"
        action = [{"url": ids.REVIEW_ACTION_CODE,
                   "valueCodeableConcept": {"coding": [{"system": ids.X12_306, "code": line_code,
                                                        "display": REVIEW_DISPLAY[line_code]}]}}]
        item: dict[str, Any] = {"itemSequence": line.sequence}
        if line.kind == OTHER:
            item["noteNumber"] = [other_note]
        else:
            if line_code == "A1":
                action.append({"url": "number", "valueString": auth_ref})
                item["extension"] = [
                    {"url": ids.ITEM_ISSUE_DATE, "valueDate": now.date().isoformat()},
                    {"url": ids.ITEM_PERIOD, "valuePeriod": period},
                    _authorized_detail(line, units),
                ]
            action += _reason_codes(decision, reason_codes or {})
            if decided_notes:
                item["noteNumber"] = list(range(1, decided_notes + 1))
        item["adjudication"] = [{
            "extension": [{"url": ids.REVIEW_ACTION, "extension": action}],
            "category": {"coding": [{"system": ids.ADJUDICATION, "code": "submitted"}]},
        }]
        items.append(item)
    response["item"] = items
    if texts:
        response["processNote"] = [{"number": n, "type": "display", "text": t} for n, t in enumerate(texts, 1)]
    return response


def error_response(bundle: dict, problems: list[FhirProblem], *, decision_id: str | None = None,
                   now: datetime | None = None) -> dict:
    """The response Bundle of a business error: a ClaimResponse with ``outcome`` ``error`` (version 2).

    Each problem is one ``error`` with its X12 901 code (AAA03) and PAS's errorPath
    extension naming the element; its words go in a processNote, since
    ClaimResponse.error has no text of its own.
    """
    now = now or datetime.now(timezone.utc)
    decision_id = decision_id or str(uuid.uuid4())
    entry = bundle["entry"][0]
    c = entry["resource"]
    response = _header(c, entry, decision_id, now)
    del response["extension"]
    response["outcome"] = "error"
    response["disposition"] = "Not decided: " + "; ".join(p.message for p in problems)[:900]
    response["processNote"] = [{"number": n, "type": "display", "text": f"{p.expression}: {p.message}" if p.expression else p.message}
                               for n, p in enumerate(problems, 1)]
    errors = []
    for p in problems:
        error: dict[str, Any] = {"code": {"coding": [{"system": ids.X12_901, "code": p.code}]}}
        if p.expression:
            error["extension"] = [{"url": ids.ERROR_PATH, "valueString": p.expression}]
        errors.append(error)
    response["error"] = errors
    return _bundle_around(response, bundle, now)


def response_bundle(decision: dict, bundle: dict, case: dict, **options: Any) -> dict:
    """The PAS response Bundle: the ClaimResponse, then the request's patient, insurer and provider entries.

    Checked once as a whole, which checks the ClaimResponse in it.
    """
    now = options.setdefault("now", datetime.now(timezone.utc))
    return _bundle_around(_claim_response(decision, bundle, case, **options), bundle, now)


def _bundle_around(response: dict, bundle: dict, now: datetime) -> dict:
    entries = [{"fullUrl": f"urn:uuid:{response['id']}", "resource": response}]
    index = BundleIndex(bundle)
    claim = Located(bundle["entry"][0]["resource"], "Bundle.entry[0].resource", bundle["entry"][0])
    seen: set[int] = set()
    for name in ("patient", "insurer", "provider"):
        ref = (claim.resource.get(name) or {}).get("reference")
        found = index.find(ref, claim) if ref else None
        if found is not None and found.entry is not None and id(found.entry) not in seen and found.entry.get("fullUrl"):
            seen.add(id(found.entry))
            entries.append({k: found.entry[k] for k in ("fullUrl", "resource") if k in found.entry})
    out: dict[str, Any] = {"resourceType": "Bundle", "meta": {"profile": [ids.PROFILE_RESPONSE_BUNDLE]}, "type": "collection"}
    # PAS requires an identifier (1..1): the request's, else one naming this answer.
    out["identifier"] = bundle.get("identifier") or {"system": ids.RESPONSE_IDS, "value": response["id"]}
    out["timestamp"] = now.isoformat(timespec="seconds")
    out["entry"] = entries
    return checked(out)


def operation_outcome(problems: list[FhirProblem]) -> dict:
    """One issue per problem, with its FHIRPath when it has one (fhir-pas.md, "Errors")."""
    issues = []
    for p in problems[:20]:
        issue = {"severity": "error", "code": p.code, "diagnostics": p.message}
        if p.expression:
            issue["expression"] = [p.expression]
        issues.append(issue)
    return checked({"resourceType": "OperationOutcome", "issue": issues})


def capability_statement(version: str, *, lifecycle: bool = True, authenticated: bool = False,
                         today: date | None = None) -> dict:
    """What this server answers (fhir-pas.md, version 2, "Profiles"), and nothing it does not.

    ``lifecycle``: a store is on (``serve`` without ``--no-store``), so $inquire, Subscription
    (R4 Backport) and ClaimResponse reads are served. ``authenticated``: ``serve --jwks``,
    whose bearer tokens the security element names. The Questionnaire's DTR operations
    ($questionnaire-package, $next-question; service/dtr/) are always served.
    """
    from .dtr.routes import NEXT_QUESTION_DEFINITION, PACKAGE_DEFINITION

    claim: dict = {"type": "Claim", "supportedProfile": [ids.PROFILES + "profile-claim", ids.PROFILES + "profile-claim-update",
                                                         ids.PROFILES + "profile-claim-inquiry"],
                   "operation": [{"name": "submit", "definition": ids.SUBMIT_DEFINITION}]}
    response: dict = {"type": "ClaimResponse", "supportedProfile": [ids.PROFILE_CLAIM_RESPONSE]}
    questionnaire = {"type": "Questionnaire", "supportedProfile": [ids.DTR_QUESTIONNAIRE], "interaction": [{"code": "read"}],
                     "operation": [{"name": "questionnaire-package", "definition": PACKAGE_DEFINITION},
                                   {"name": "next-question", "definition": NEXT_QUESTION_DEFINITION}]}
    resources = [claim, response, questionnaire]
    if lifecycle:
        claim["operation"].append({"name": "inquire", "definition": ids.INQUIRE_DEFINITION})
        response["interaction"] = [{"code": "read"}]  # a notification's focus
        resources.append({"type": "Subscription", "supportedProfile": [ids.BACKPORT_SUBSCRIPTION],
                          "interaction": [{"code": "create"}, {"code": "read"}]})
    if authenticated:
        security = {"cors": False,
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                             "code": "SMART-on-FHIR"}]}],
                    "description": "Every request but this statement and /healthz needs a bearer JWT signed by a key "
                                   "of the server's JWKS (SMART Backend Services style: iss = sub = the client id, aud = "
                                   "this server's URL, exp), with the scope of the action: system/Claim.write for "
                                   "$submit, system/Claim.read for $inquire, system/Subscription.write to subscribe, "
                                   "system/Questionnaire.read for the Questionnaire and its DTR operations, "
                                   "or system/*.read for reads."}
    else:
        security = {"cors": False,
                    "description": "Unauthenticated: this server listens on a loopback address only (serve --jwks "
                                   "turns on bearer-token authentication for clients elsewhere)."}
    return checked({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": (today or date.today()).isoformat(),
        "kind": "instance",
        "software": {"name": "lemtrada-asp", "version": version},
        "implementation": {"description": "lemtrada-asp serve"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "implementationGuide": [ids.PAS_IG],
        "rest": [{"mode": "server", "security": security, "resource": resources}],
    })
