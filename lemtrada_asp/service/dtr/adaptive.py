"""SDC/DTR ``$next-question``: the adaptive form, one question at a time, chosen by the solver.

The client sends a QuestionnaireResponse (bare, or as the ``questionnaire-response``
parameter of a Parameters, as SDC's and DTR's adaptive examples do) whose
``questionnaire`` is ``#id`` of a contained adaptive Questionnaire derived from
the canonical ``lemtrada-pa``. Its answers so far are read exactly as PAS reads
them (case/pas/answers.py) into a partial case; ``workflow.adaptive.next_question``
names the one question whose answer can still change the decision. That item
(from the canonical form, with its children) is appended to the contained
Questionnaire; when there is none the QuestionnaireResponse comes back
``completed``. A question asked and left unanswered counts as asked: its field is
undocumented, and the solver never asks it again.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from ...case.pas import ids
from ...case.pas.answers import adaptive_questionnaire, read_answers
from ...case.pas.problems import BundleError, FhirProblem, Problems
from ..fhir_out import checked
from ..questionnaire import narrative

__all__ = ["ADAPTIVE_EXT", "DTR_ADAPT", "QR_CONTEXT", "SDC_QR_ADAPT", "next_question", "order_case", "read_input", "start"]

ADAPTIVE_EXT = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-questionnaireAdaptive"
DTR_ADAPT = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-questionnaire-adapt"
SDC_QR_ADAPT = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse-adapt"
QR = "QuestionnaireResponse"
ADAPTIVE_ID = "lemtrada-pa-adaptive"  # the contained adaptive Questionnaire this server starts (a client may name its own)
QR_CONTEXT = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/qr-context"
INITIAL_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression"


def _fail(expression: str | None, code: str, message: str) -> BundleError:
    return BundleError([FhirProblem(expression, code, message)])


def read_input(data: Any) -> tuple[dict, str]:
    """The QuestionnaireResponse of the request and the FHIRPath it sits at; BundleError (400) otherwise."""
    if not isinstance(data, dict):
        raise _fail(None, "structure", f"expected a JSON object (a QuestionnaireResponse or Parameters), got {type(data).__name__}")
    where = QR
    if data.get("resourceType") == "Parameters":
        params = data.get("parameter")
        if not (isinstance(params, list) and len(params) == 1 and isinstance(params[0], dict)
                and params[0].get("name") == "questionnaire-response" and isinstance(params[0].get("resource"), dict)):
            raise _fail("Parameters.parameter", "structure",
                        "expected a Parameters whose only parameter 'questionnaire-response' holds the QuestionnaireResponse")
        data, where = params[0]["resource"], "Parameters.parameter[0].resource"
    if data.get("resourceType") != QR:
        raise _fail(where, "structure", f"expected a QuestionnaireResponse, got resourceType {str(data.get('resourceType'))[:60]!r}")
    try:
        checked(data)
    except ValueError as exc:  # pydantic ValidationError: the fhir.resources model says what is not valid R4
        raise _fail(where, "structure", f"not a valid R4 QuestionnaireResponse: {str(exc)[:500]}") from None
    if data.get("status") not in ("in-progress", "completed"):
        raise _fail(f"{where}.status", "invalid", f"expected status in-progress, got {data.get('status')!r}")
    return data, where


def _contained(qr: dict, where: str, reference: Any) -> tuple[dict | None, str | None]:
    ref = (reference or {}).get("reference") if isinstance(reference, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None, None
    for k, res in enumerate(qr.get("contained") or []):
        if isinstance(res, dict) and res.get("id") == ref[1:]:
            return res, f"{where}.contained[{k}]"
    return None, None


def order_case(qr: dict, where: str, problems: Problems, origins: dict[str, str]) -> dict:
    """The case fields of the order the form documents: what PAS reads from the Claim, read from the chart.

    DTR's QuestionnaireResponse names its order by the ``qr-context`` extension; the
    adaptive one carries it contained (and the Patient, its ``subject``, and the order's
    ``requester`` PractitionerRole), so the solver knows the dose, the days, the member's
    age and the prescriber's specialty the way CRD's chart mapping reads them
    (case/fhir/chart.py), as PAS will read them from the Claim. ``request.date`` is the response's ``authored`` date, else today.
    """
    from datetime import date

    from ...case.fhir.chart import read_chart

    order = order_path = None
    for k, ext in enumerate(qr.get("extension") or []):
        if isinstance(ext, dict) and ext.get("url") == QR_CONTEXT:
            found, path = _contained(qr, where, ext.get("valueReference"))
            if found is not None and found.get("resourceType") == "MedicationRequest":
                order, order_path = found, path
    if order is None:
        problems.add(f"{where}.extension", "required",
                     f"expected a {QR_CONTEXT} extension referencing the order, a MedicationRequest contained in the "
                     "QuestionnaireResponse: the form asks only what can change the decision on that order")
        return {}
    patient, patient_path = _contained(qr, where, qr.get("subject"))
    role, _ = _contained(qr, where, order.get("requester"))
    context = {"medicationRequest": order, "patient": patient if (patient or {}).get("resourceType") == "Patient" else None,
               "practitionerRole": role if (role or {}).get("resourceType") == "PractitionerRole" else None}
    case, chart_problems = read_chart(context)
    for p in chart_problems:
        origin = patient_path if p.field.startswith("member.") else order_path
        problems.add(origin, "invalid", f"{p.field}: {p.message}")
    for field in ("request.dose_mg_per_day", "request.days", "request.consecutive", "request.diagnosis_codes"):
        origins[field] = order_path
    for field in ("member.birth_date", "member.state"):
        origins[field] = patient_path or f"{where}.subject"
    authored = qr.get("authored")
    case.setdefault("request", {})["date"] = authored[:10] if isinstance(authored, str) and len(authored) >= 10 else date.today().isoformat()
    origins["request.date"] = f"{where}.authored"
    case["id"] = qr["id"] if isinstance(qr.get("id"), str) else "adaptive"
    # What PAS reads from the Claim's resources rather than from answers: the request, the member and
    # the prescriber role's specialty (fhir-pas.md, "Mapping"); nothing else of the chart is taken as answered.
    return {k: v for k, v in case.items() if k in ("id", "request", "member", "prescriber")}


def start(canonical: dict, subject: dict | None = None, qr_id: str = "adaptive") -> dict:
    """An empty adaptive QuestionnaireResponse: a contained Questionnaire derived from the canonical, no items yet."""
    qr = {"resourceType": QR, "id": qr_id, "meta": {"profile": [SDC_QR_ADAPT]},
          "contained": [_adaptive(canonical, [])], "questionnaire": "#" + ADAPTIVE_ID, "status": "in-progress"}
    if subject:
        qr["subject"] = subject
    return qr


def _adaptive(canonical: dict, items: list[dict], form_id: str = ADAPTIVE_ID) -> dict:
    """The contained adaptive Questionnaire (DTR dtr-questionnaire-adapt): the canonical's header, these items."""
    form = {"resourceType": "Questionnaire", "id": form_id, "meta": {"profile": [DTR_ADAPT]},
            "text": narrative(canonical["title"] + " (adaptive)", items),
            "extension": [{"url": ADAPTIVE_EXT, "valueBoolean": True}],
            "derivedFrom": [f"{canonical['url']}|{canonical['version']}"],
            "name": canonical["name"] + "Adaptive", "title": canonical["title"] + " (adaptive)",
            "status": "active", "subjectType": list(canonical["subjectType"])}
    if items:
        form["item"] = items
    return form


def _plain(item: dict) -> dict:
    """A canonical item as the adaptive form asks it: no enableWhen (dtr-questionnaire-adapt forbids it:
    the server decides what is asked) and no pre-population (the client fills what it is shown)."""
    out = {k: copy.deepcopy(v) for k, v in item.items() if k not in ("enableWhen", "enableBehavior")}
    if "extension" in out:
        out["extension"] = [e for e in out["extension"] if e.get("url") != INITIAL_EXPRESSION]
        if not out["extension"]:
            del out["extension"]
    if "item" in out:
        out["item"] = [_plain(c) for c in out["item"]]
    return out


def next_question(qr: dict, where: str, canonical: dict, choose: Callable[[dict, list[str]], str | None]) -> dict:
    """The QuestionnaireResponse with the next question appended, or ``completed``; BundleError for a bad one.

    ``choose(case, asked)`` is ``workflow.adaptive.next_question`` over the loaded policy, run by a
    decider process (service/limits.py), so it raises the service's CaseInvalid for a refused case.
    """
    from ..app import CaseInvalid  # here, not above: app.py mounts these routes
    form, form_path = adaptive_questionnaire(qr, where)
    if form is None:
        raise _fail(f"{where}.questionnaire", "invalid",
                    f"expected '#id' of a contained adaptive Questionnaire derived from {ids.QUESTIONNAIRE_URL}")
    problems = Problems()
    origins: dict[str, str] = {}
    case = order_case(qr, where, problems, origins)
    answers = read_answers(qr, where, problems, origins)
    for key, value in answers.items():
        case[key] = {**case.get(key, {}), **value} if isinstance(value, dict) else value
    asked = [i.get("linkId") for i in form.get("item") or []]
    known = {i["linkId"]: i for i in canonical.get("item", [])}
    for k, link_id in enumerate(asked):
        if link_id not in known:
            problems.add(f"{form_path}.item[{k}]", "invalid", f"linkId {str(link_id)[:60]!r} is not a question of {ids.QUESTIONNAIRE_URL}")
    problems.raise_if_any(None)
    out = copy.deepcopy(qr)
    try:
        chosen = choose(case, [a for a in asked if a])
    except CaseInvalid as exc:  # an answer the case format refuses: reported at the answer it came from
        raise BundleError([FhirProblem(origins.get(field, where), "invalid", f"{field}: {message}" if field else message)
                           for field, message in exc.problems]) from None
    items = [copy.deepcopy(i) for i in form.get("item") or []]
    if chosen is None:
        out["status"] = "completed"
    else:
        if chosen not in known or chosen in asked:
            raise RuntimeError(f"the solver chose {chosen!r}, which is not a question still to ask")
        items.append(_plain(known[chosen]))
        out["status"] = "in-progress"
    out["contained"] = [_adaptive(canonical, items, form.get("id")) if c == form else c for c in out.get("contained", [])]
    out.setdefault("meta", {}).setdefault("profile", [SDC_QR_ADAPT])
    return checked(out)
