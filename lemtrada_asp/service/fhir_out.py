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
from ..case.pas.problems import FhirProblem
from ..case.pas.refs import BundleIndex, Located

REVIEW_DISPLAY = {"A1": "Certified in total", "A3": "Not Certified", "A4": "Pended"}
PEND_DISPOSITION = {
    "information": "Pended: documentation needed",
    "case_by_case": "Pended for case-by-case clinical review",
    "state_mandate": "Pended for state step-therapy mandate review",
}


def checked(resource: dict) -> dict:
    """The resource, after the fhir.resources R4B model of its type accepted it."""
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


def _period(case: dict, decision: dict) -> dict:
    start = date.fromisoformat(case["request"].get("start_date") or case["request"]["date"])
    end = start + timedelta(days=decision["authorized"]["days"] - 1)
    return {"start": start.isoformat(), "end": end.isoformat()}


def claim_response(decision: dict, bundle: dict, case: dict, **options: Any) -> dict:
    """The ClaimResponse for a decision on the request Bundle it answers (fhir-pas.md, "The response Bundle")."""
    return checked(_claim_response(decision, bundle, case, **options))


def _claim_response(decision: dict, bundle: dict, case: dict, *, final_denials: bool = False,
                    reason_codes: dict[str, str] | None = None, decision_id: str | None = None,
                    now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    decision_id = decision_id or str(uuid.uuid4())
    entry = bundle["entry"][0]
    c = entry["resource"]
    code, disposition = review_action(decision, final_denials)
    approve = decision["decision"] == "approve"
    texts = notes(decision)
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": decision_id,
        "extension": [
            {"url": ids.REVIEWER, "extension": [{"url": "wasHumanReviewedFlag", "valueBoolean": False}]},
            _decision_extension(decision),
        ],
        "identifier": c.get("identifier"),
        "status": "active",
        "type": c["type"],
        "use": "preauthorization",
        "patient": c["patient"],
        "created": now.isoformat(timespec="seconds"),
        "insurer": c["insurer"],
        "requestor": c["provider"],
        "request": {"reference": entry.get("fullUrl") or f"Claim/{c.get('id')}"},
        "outcome": "complete",
        "disposition": disposition,
    }
    if not response["identifier"]:
        del response["identifier"]
    action = [{"url": ids.REVIEW_ACTION_CODE,
               "valueCodeableConcept": {"coding": [{"system": ids.X12_306, "code": code, "display": REVIEW_DISPLAY[code]}]}}]
    item: dict[str, Any] = {"itemSequence": c["item"][0]["sequence"]}
    if approve:
        auth_ref = f"LEM-{decision_id}"
        period = _period(case, decision)
        units = sum(h["units"] for h in decision["authorized"]["hcpcs"] if h["code"] == ids.LEMTRADA_HCPCS)
        response["preAuthRef"], response["preAuthPeriod"] = auth_ref, period
        action.append({"url": "number", "valueString": auth_ref})
        item["extension"] = [
            {"url": ids.ITEM_ISSUE_DATE, "valueDate": now.date().isoformat()},
            {"url": ids.ITEM_PERIOD, "valuePeriod": period},
            {"url": ids.ITEM_AUTHORIZED_DETAIL, "extension": [
                {"url": "productOrServiceCode",
                 "valueCodeableConcept": {"coding": [{"system": ids.HCPCS, "code": ids.LEMTRADA_HCPCS}]}},
                {"url": "quantity", "valueQuantity": {"value": units}},
            ]},
        ]
    action += _reason_codes(decision, reason_codes or {})
    if texts:
        item["noteNumber"] = list(range(1, len(texts) + 1))
    item["adjudication"] = [{
        "extension": [{"url": ids.REVIEW_ACTION, "extension": action}],
        "category": {"coding": [{"system": ids.ADJUDICATION, "code": "submitted"}]},
    }]
    response["item"] = [item]
    if texts:
        response["processNote"] = [{"number": n, "type": "display", "text": t} for n, t in enumerate(texts, 1)]
    return response


def response_bundle(decision: dict, bundle: dict, case: dict, **options: Any) -> dict:
    """The PAS response Bundle: the ClaimResponse, then the request's patient, insurer and provider entries.

    Checked once as a whole, which checks the ClaimResponse in it.
    """
    now = options.setdefault("now", datetime.now(timezone.utc))
    response = _claim_response(decision, bundle, case, **options)
    entries = [{"fullUrl": f"urn:uuid:{response['id']}", "resource": response}]
    index = BundleIndex(bundle)
    claim = Located(bundle["entry"][0]["resource"], "Bundle.entry[0].resource", bundle["entry"][0])
    seen: set[int] = set()
    for name in ("patient", "insurer", "provider"):
        ref = (claim.resource.get(name) or {}).get("reference")
        found = index.find(ref, claim) if ref else None
        if found is not None and found.entry is not None and id(found.entry) not in seen:
            seen.add(id(found.entry))
            entries.append({k: found.entry[k] for k in ("fullUrl", "resource") if k in found.entry})
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if bundle.get("identifier"):
        out["identifier"] = bundle["identifier"]
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


def capability_statement(version: str, today: date | None = None) -> dict:
    """What this server does: PAS $submit on Claim, and reading the Questionnaire."""
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
        "rest": [{
            "mode": "server",
            "resource": [
                {"type": "Claim", "operation": [{"name": "submit", "definition": ids.SUBMIT_DEFINITION}]},
                {"type": "Questionnaire", "interaction": [{"code": "read"}]},
            ],
        }],
    })
