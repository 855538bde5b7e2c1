"""What a reviewer reads of one request besides the tree: the documents received, and the letters.

The documents are read off the request Bundle as stored: each ``Claim.supportingInfo``
(its category and what it carries) and each answer of a QuestionnaireResponse (DTR),
as text the templates escape; nothing is interpreted here (the case is the mapping's
job, case/pas/). The letters are the project's own (render/letters.py): the draft the
program wrote for its recommendation, and the signed one, whose decision is the
reviewer's -- the recommendation's record with the reviewer's verdict -- and whose
signer block names the reviewer, the time and the reason.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any, Iterator

from ...render.letters import Signer, render_letter

__all__ = ["documents", "verdict_decision", "letter_html", "letter_pdf", "VERDICTS", "recommendation_words",
           "recommended_verdict", "signed_words"]

# what a reviewer may decide -> the words the desk and the letter use
VERDICTS = {"deny": "deny", "approve": "approve", "records": "ask for more records"}


def _value(answer: dict) -> str:
    for key, value in answer.items():
        if not key.startswith("value"):
            continue
        if isinstance(value, dict):
            if "display" in value or "code" in value:
                return str(value.get("display") or value.get("code"))
            if "reference" in value:
                return str(value.get("display") or value["reference"])
            if "value" in value:
                return f"{value['value']} {value.get('unit', '')}".strip()
            return ", ".join(f"{k}: {v}" for k, v in value.items())
        return str(value).lower() if isinstance(value, bool) else str(value)
    return ""


def _answers(items: list[dict], depth: int = 0) -> Iterator[dict[str, Any]]:
    for item in items or []:
        answers = item.get("answer") or []
        values = [_value(a) for a in answers]
        yield {"question": item.get("text") or item.get("linkId", ""), "answers": [v for v in values if v],
               "depth": depth}
        yield from _answers(item.get("item") or [], depth + 1)
        for a in answers:
            yield from _answers(a.get("item") or [], depth + 1)


def documents(bundle: dict | None) -> dict[str, list]:
    """The supporting information and the questionnaire answers of a stored request Bundle."""
    entries = (bundle or {}).get("entry") or []
    claim = (entries[0].get("resource") if entries else None) or {}
    supporting = []
    for info in claim.get("supportingInfo") or []:
        category = info.get("category") or {}
        label = category.get("text") or next((c.get("display") or c.get("code") for c in category.get("coding") or []), "")
        supporting.append({"sequence": info.get("sequence"), "category": label or "(no category)",
                           "value": _value(info) or (info.get("code") or {}).get("text", "")})
    questionnaires = []
    for e in entries:
        resource = e.get("resource") or {}
        if resource.get("resourceType") == "QuestionnaireResponse":
            questionnaires.append({"questionnaire": resource.get("questionnaire", ""), "status": resource.get("status", ""),
                                   "authored": resource.get("authored", ""),
                                   "items": list(_answers(resource.get("item") or []))})
    resources = [(e.get("resource") or {}).get("resourceType", "?") for e in entries[1:]]
    return {"supporting": supporting, "questionnaires": questionnaires, "resources": resources}


def recommended_verdict(decision: dict) -> str | None:
    """The verdict the program recommends (a denial; more records), None where it leaves it to the reviewer."""
    if decision.get("decision") == "deny":
        return "deny"
    if decision.get("decision") == "pend" and decision.get("pend_reason") == "information":
        return "records"
    return None


def recommendation_words(decision: dict) -> str:
    if decision.get("decision") == "deny":
        return "denial recommended"
    if decision.get("decision") == "pend":
        return f"pended ({(decision.get('pend_reason') or '').replace('_', ' ')})"
    return decision.get("decision", "")


def verdict_decision(decision, verdict: str):
    """The program's decision record (engine Decision, with details) as the reviewer decided it."""
    if verdict == "deny":
        return dataclasses.replace(decision, decision="deny", pend_reason=None, authorized=None)
    if verdict == "records":
        return dataclasses.replace(decision, decision="pend", pend_reason="information", authorized=None)
    request = decision.case.request
    mg = request.dose_mg_per_day * request.days
    from ...case.pas import ids

    granted = (("mg", mg), ("mg_per_day", request.dose_mg_per_day), ("days", request.days),
               ("hcpcs", (ids.LEMTRADA_HCPCS, mg)))
    return dataclasses.replace(decision, decision="approve", pend_reason=None, authorized=granted)


def letter_html(decision, signer: Signer | None = None, today: date | None = None) -> str:
    return render_letter(decision, "html", today, signer)


def letter_pdf(decision, signer: Signer | None = None, today: date | None = None) -> bytes:
    from ...notices.pdf import html_to_pdf

    return html_to_pdf(letter_html(decision, signer, today))


def signed_words(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment:%Y} at {moment:%H:%M} UTC"  # the day unpadded, the time as a clock shows it
