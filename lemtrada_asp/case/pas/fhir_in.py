"""A Da Vinci PAS request Bundle -> a case of format v1 (fhir-pas.md, "Reading" and "Mapping").

Reading is in three steps, each reporting every problem it finds (up to 20):
the body is checked as FHIR R4 JSON with the fhir.resources R4B models; the
contract's reading rules pick the Claim, its item, the MedicationRequest, the
Patient, the prescriber role and the QuestionnaireResponse; the case is built
and checked by the case format. A case-format problem names a case field, so
every field is recorded with the FHIRPath it came from (``origins``) and the
problem is reported there. Nothing absent from the Bundle is filled in.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from .answers import answers_the_questionnaire, read_answers
from .dosage import dose_and_days, whole
from .lines import INFO_CANCELLED, Line, classify, drug_line, quantity_mg
from .medication import medication_codes
from .ids import ICD10CM, LEMTRADA_HCPCS, QUESTIONNAIRE_URL, REQUESTED_SERVICE
from .problems import (AUTHORIZATION_NOT_FOUND, INPUT_ERRORS, REQUIRED_DATA_MISSING, BundleError, FhirProblem, Problems,
                       child)
from .refs import BundleIndex, Located, named_type
from .seen import validate_bundle
from ...engine.limits import RefusedNumber

WALKED = (dict, list, RefusedNumber)

MAX_BUNDLE_BYTES = 10_000_000
MAX_BUNDLE_NESTING = 64
MAX_BUNDLE_ENTRIES = 1_000  # a PAS request carries tens; checked before anything walks or validates them
CLAIM = "Bundle.entry[0].resource"
REQUESTER_TYPES = {"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"}


@dataclass
class PasRequest:
    """A request Bundle as read: the case it became and where each case field came from."""

    bundle: dict
    case: dict
    origins: dict[str, str] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)  # every Claim.item, the drug line among them
    # Whether a store reads the request, which can find the authorisation an infoCancelled line cancels
    # (service/pas/lifecycle.py); without one, such a line is a business error here.
    stored: bool = False

    @property
    def claim(self) -> dict:
        return self.bundle["entry"][0]["resource"]

    def origin(self, case_field: str) -> str:
        """The FHIRPath a case field came from (``dmt_history[0].drug`` -> its answer), else the Claim."""
        path = case_field
        while path:
            if path in self.origins:
                return self.origins[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return CLAIM


def parse_body(body: bytes | str) -> Any:
    """The JSON of a request body, parsed as ``decide`` parses a file; unreadable: ``structure``, no expression."""
    from ...engine.loading import load_json

    if len(body) > MAX_BUNDLE_BYTES:
        raise BundleError([FhirProblem(None, "too-costly", f"the body is over {MAX_BUNDLE_BYTES:,} bytes")])
    try:
        return load_json(body.decode("utf-8") if isinstance(body, bytes) else body)
    except UnicodeDecodeError as exc:
        raise BundleError([FhirProblem(None, "structure", f"the body is not UTF-8 text (byte {exc.start + 1})")]) from None
    except (ValueError, RecursionError) as exc:
        raise BundleError([FhirProblem(None, "structure", f"the body is not JSON: {exc or 'nested too deep'}")]) from None


def unwrap_parameters(data: Any) -> Any:
    """The Bundle of a ``Parameters`` whose only parameter ``resource`` holds it ($submit's other form)."""
    if isinstance(data, dict) and data.get("resourceType") == "Parameters":
        params = data.get("parameter")
        if (isinstance(params, list) and len(params) == 1 and isinstance(params[0], dict)
                and params[0].get("name") == "resource" and isinstance(params[0].get("resource"), dict)):
            return params[0]["resource"]
        raise BundleError([FhirProblem(None, "structure",
                                       "expected a Parameters whose only parameter 'resource' holds the request Bundle")])
    return data


def read_bundle(data: Any, *, stored: bool = False) -> PasRequest:
    """The case a parsed request Bundle maps to, or BundleError with every problem found.

    ``stored``: the caller keeps requests and answers (the lifecycle), so a line marked
    infoCancelled is its to cancel rather than a business error.
    """
    _check_shape(data)
    _check_fhir(data)
    problems = Problems()
    request = PasRequest(data, {}, stored=stored)
    _map(request, problems)
    problems.raise_if_any(_echo_id(request.case.get("id")))
    return request


def _echo_id(value: Any) -> str | None:
    from ..values import ID_PATTERN  # the same rule as for cases: only a valid id is echoed
    return value if isinstance(value, str) and ID_PATTERN.fullmatch(value) else None


# --- step 1: a Bundle, valid FHIR R4 ----------------------------------------------

def _check_shape(data: Any) -> None:
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise BundleError([FhirProblem(None, "structure", f"expected a Bundle resource (resourceType 'Bundle'), got {got!r}")])
    _check_entries(data.get("entry"))
    problems = Problems()
    stack: list[tuple[Any, str, int]] = [] if _shape_clean(data) else [(data, "Bundle", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, RefusedNumber):
            problems.add(path, "invalid", value.message)
            continue
        if depth > MAX_BUNDLE_NESTING:
            problems.add(path, "structure", f"nested more than {MAX_BUNDLE_NESTING} levels deep")
            continue
        if isinstance(value, dict):
            kind = value.get("resourceType")
            if kind is not None and path != "Bundle" and not _known_type(kind):
                problems.add(path, "invalid", f"unknown resourceType {kind!r} (not a FHIR R4 resource)")
                continue
            stack.extend((v, child(path, k), depth + 1) for k, v in reversed(value.items()) if isinstance(v, WALKED))
        elif isinstance(value, list):
            stack.extend((v, child(path, i), depth + 1) for i, v in reversed(list(enumerate(value))) if isinstance(v, WALKED))
    problems.raise_if_any()
    if data.get("type") != "collection":
        raise BundleError([FhirProblem("Bundle.type", "invalid", f"expected a Bundle of type 'collection', got {data.get('type')!r}")])
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        raise BundleError([FhirProblem("Bundle.entry", "structure", "expected entries, the first holding the Claim")])
    first = entries[0].get("resource") if isinstance(entries[0], dict) else None
    if not isinstance(first, dict) or first.get("resourceType") != "Claim":
        got = first.get("resourceType") if isinstance(first, dict) else None
        raise BundleError([FhirProblem(CLAIM, "structure", f"expected the Claim as the first entry's resource, got {got!r}")])


def _shape_clean(data: dict) -> bool:
    """Whether _check_shape's walk would find nothing: no refused number, nothing nested past
    MAX_BUNDLE_NESTING, no unknown resourceType. Nearly every Bundle: then no path is spelled out."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, RefusedNumber) or depth > MAX_BUNDLE_NESTING:
            return False
        if isinstance(value, dict):
            kind = value.get("resourceType")
            if kind is not None and value is not data and not _known_type(kind):
                return False
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, WALKED))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, WALKED))
    return True


def _check_entries(entries: Any) -> None:
    """The entry cap, then FHIR's bdl-5 (an entry holds a resource) and bdl-7 (fullUrls are unique).

    Also no two entries may be the same Type/id: a reference to it would resolve by
    the entries' order, and the order of a Bundle's entries must never decide.
    """
    if not isinstance(entries, list):
        return
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise BundleError([FhirProblem("Bundle.entry", "too-costly",
                                       f"{len(entries):,} entries: a request Bundle has at most {MAX_BUNDLE_ENTRIES:,}")])
    problems = Problems()
    urls: dict[str, int] = {}
    ids: dict[tuple, int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue  # not an entry at all: the model's check names it
        resource = entry.get("resource")
        if resource is None and "request" not in entry and "response" not in entry:
            problems.add(f"Bundle.entry[{i}]", "invariant", "bdl-5: an entry must hold a resource")
        url = entry.get("fullUrl")
        if isinstance(url, str):
            if url in urls:
                problems.add(f"Bundle.entry[{i}].fullUrl", "invariant",
                             f"bdl-7: fullUrl {url[:200]!r} is also Bundle.entry[{urls[url]}]'s; fullUrls must be unique")
            urls.setdefault(url, i)
        if isinstance(resource, dict) and isinstance(resource.get("id"), str):
            key = (resource.get("resourceType"), resource["id"])
            if key in ids:
                problems.add(f"Bundle.entry[{i}].resource.id", "invariant",
                             f"{key[0]}/{key[1][:64]} is also Bundle.entry[{ids[key]}]'s resource: a reference to it "
                             "would depend on the order of the entries")
            ids.setdefault(key, i)
    problems.raise_if_any()


def _known_type(kind: Any) -> bool:
    try:
        return isinstance(kind, str) and get_fhir_model_class(kind) is not None
    except (ValueError, KeyError):
        return False


def _check_fhir(data: dict) -> None:
    try:
        validate_bundle(data)  # as Bundle.model_validate, each resource and element checked once (seen.py)
    except ValidationError as exc:
        problems = Problems()
        for error in exc.errors():
            problems.add(_fhirpath(error["loc"]), _issue_code(error["type"]), _message(error))
        problems.raise_if_any()
    except Exception as exc:  # fhir.resources failing otherwise is still the body's problem
        raise BundleError([FhirProblem("Bundle", "structure", f"not valid FHIR R4 JSON: {type(exc).__name__}")]) from None


def _fhirpath(loc: tuple) -> str:
    return child("Bundle", *(part for part in loc if not (isinstance(part, str) and part[:1].isupper() and part != "Bundle")))


def _issue_code(kind: str) -> str:
    return {"missing": "required"}.get(kind, "invalid")


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown element (not in FHIR R4 for this resource; check its spelling)"
    if error["type"] == "missing":
        return "required element is missing"
    return f"not valid FHIR R4: {error['msg'].removeprefix('Value error, ')}"


# --- step 2: the contract's reading rules, and the mapping -----------------------

def _map(request: PasRequest, problems: Problems) -> None:
    bundle, case, origins = request.bundle, request.case, request.origins
    index = BundleIndex(bundle)
    claim = Located(bundle["entry"][0]["resource"], CLAIM, bundle["entry"][0])
    c = claim.resource

    if c.get("id"):
        case["id"], origins["id"] = c["id"], child(CLAIM, "id")
    elif (bundle.get("identifier") or {}).get("value"):
        case["id"], origins["id"] = bundle["identifier"]["value"], "Bundle.identifier.value"
    else:
        problems.add(child(CLAIM, "id"), "required", "expected a Claim.id or a Bundle.identifier.value to name the case")
    if c.get("use") != "preauthorization":
        problems.add(child(CLAIM, "use"), "invalid", f"expected use 'preauthorization', got {c.get('use')!r}")
    if not c.get("insurer"):
        problems.add(child(CLAIM, "insurer"), "required", "expected the insurer (the ClaimResponse copies it)")

    req: dict = {}
    _date(c.get("created"), child(CLAIM, "created"), "request.date", req, "date", problems, origins)
    if c.get("status") != "active":
        problems.reject(child(CLAIM, "status"), INPUT_ERRORS,
                        f"Claim.status is {c.get('status')!r}: only an active request is decided")
    _check_modifiers(claim, problems)
    found, mr = _item(c, claim, index, problems, origins, request)
    if mr:
        _check_modifiers(mr, problems)
    req.update(found)
    codes = _diagnosis_codes(c, origins)
    if codes:
        req["diagnosis_codes"] = codes
    case["request"] = req

    patient = index.follow(c.get("patient"), child(CLAIM, "patient"), claim, {"Patient"}, problems, "Claim.patient")
    if patient:
        _check_modifiers(patient, problems)
        member = _member(patient, problems, origins)
        if member:
            case["member"] = member

    qr = _questionnaire_response(c, claim, index, problems)
    if qr:
        _check_modifiers(qr, problems)
    answers = read_answers(qr.resource, qr.path, problems, origins) if qr else {}
    role = _prescriber_role(mr, index, problems) if mr else None
    if role:
        _check_modifiers(role, problems)
    specialty = _role_specialty(role, origins)
    if specialty and "specialty" not in answers.get("prescriber", {}):
        answers.setdefault("prescriber", {})["specialty"] = specialty
    case.update(answers)
    for name in ("member", "prescriber", "diagnosis", "response"):
        if name in case and not case[name]:
            del case[name]


def _date(value: Any, path: str, case_field: str, target: dict, key: str, problems: Problems,
          origins: dict[str, str]) -> None:
    """A FHIR date or dateTime's date as written (its first 10 characters); a partial date is an error."""
    if value is None:
        return
    if len(value) < 10:
        problems.add(path, "invalid", f"expected a full date (YYYY-MM-DD), got the partial date {value!r}")
        return
    target[key], origins[case_field] = value[:10], path


def _item(c: dict, claim: Located, index: BundleIndex, problems: Problems,
          origins: dict[str, str], request: PasRequest) -> tuple[dict, Located | None]:
    """The request fields of the drug line and its MedicationRequest (version 2: "Lines", "Requested service")."""
    if not c.get("item"):
        problems.add(child(CLAIM, "item"), "required", f"expected at least one item (the alemtuzumab line, HCPCS {LEMTRADA_HCPCS})")
        return {}, None
    request.lines = classify(c, CLAIM, medication_codes(), problems)
    line = drug_line(request.lines)
    if line is None:
        return {}, None
    item, i_path = line.item, line.path
    found: dict = {}
    if line.cancelled and not request.stored:
        # A PAS update withdrawing the line: never an approval. Which authorisation it cancels is the
        # store's to find (Claim.related); a request that reaches the mapping with it names none we hold.
        problems.reject(child(i_path, "modifierExtension"), AUTHORIZATION_NOT_FOUND,
                        "the drug line is marked infoCancelled (a cancellation), but no authorisation this "
                        "server holds is named by Claim.related: there is nothing to cancel, and a cancelled line "
                        "is never certified")
    if item.get("servicedDate"):
        _date(item["servicedDate"], child(i_path, "servicedDate"), "request.start_date", found, "start_date", problems, origins)
    elif (item.get("servicedPeriod") or {}).get("start"):
        _date(item["servicedPeriod"]["start"], child(i_path, "servicedPeriod", "start"), "request.start_date",
              found, "start_date", problems, origins)

    services = [(k, e) for k, e in enumerate(item.get("extension") or []) if e.get("url") == REQUESTED_SERVICE]
    if not services:
        found.update(_dose_from_line(line, problems, origins))
        return found, None
    k, ext = services[0]
    mr = index.follow(ext.get("valueReference"), child(i_path, "extension", k, "valueReference"), claim,
                      {"MedicationRequest"}, problems, "requestedService")
    if mr:
        _check_medication_request(mr, index, problems)
        # A weekday schedule starts on the planned start, as request.start_date does (default: the request date).
        anchor = _as_date(found.get("start_date")) or _as_date((c.get("created") or "")[:10])
        found.update(dose_and_days(mr.resource, mr.path, problems, origins, anchor))
        _check_quantity(line, found, problems)
    return found, mr


def _as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _dose_from_line(line: Line, problems: Problems, origins: dict[str, str]) -> dict:
    """No MedicationRequest: days = servicedPeriod's inclusive length, dose = quantity / days (J0202 units are mg)."""
    period = line.item.get("servicedPeriod") or {}
    start, end = _as_date((period.get("start") or "")[:10]), _as_date((period.get("end") or "")[:10])
    mg = quantity_mg(line)
    if start is None or end is None or mg is None:
        lacking = [name for name, v in (("servicedPeriod.start", start), ("servicedPeriod.end", end), ("quantity", mg)) if v is None]
        problems.reject(line.path, REQUIRED_DATA_MISSING,
                        f"no dose: expected an extension-requestedService MedicationRequest, or the drug line's servicedPeriod "
                        f"and quantity; this line lacks {', '.join(lacking)}")
        return {}
    days = (end - start).days + 1
    if days < 1:
        problems.reject(child(line.path, "servicedPeriod"), INPUT_ERRORS, f"servicedPeriod ends ({end}) before it starts ({start})")
        return {}
    if mg % days:
        problems.reject(child(line.path, "quantity"), INPUT_ERRORS,
                        f"quantity {whole(mg)} mg over {days} days of servicedPeriod is not a whole number of mg a day")
        return {}
    origins["request.dose_mg_per_day"] = child(line.path, "quantity", "value")
    origins["request.days"] = child(line.path, "servicedPeriod")
    return {"dose_mg_per_day": whole(mg / days), "days": days}


def _check_quantity(line: Line, found: dict, problems: Problems) -> None:
    """Version 2, "Quantity": the drug line's quantity is the dose times the days, else a business error."""
    mg = quantity_mg(line)
    if mg is None or "dose_mg_per_day" not in found or "days" not in found:
        return
    wanted = Decimal(str(found["dose_mg_per_day"])) * found["days"]
    if mg != wanted:
        q = line.quantity
        problems.reject(child(line.path, "quantity"), INPUT_ERRORS,
                        f"item.quantity {q['value']}{' ' + str(q.get('code') or q.get('unit')) if q.get('code') or q.get('unit') else ''}"
                        f" ({whole(mg)} mg) does not match the MedicationRequest's {found['dose_mg_per_day']} mg/day "
                        f"x {found['days']} days = {whole(wanted)} mg")


STOPPED_STATUSES = frozenset({"cancelled", "entered-in-error", "stopped", "completed"})


def _check_medication_request(mr: Located, index: BundleIndex, problems: Problems) -> None:
    """Version 2, "What must not be ignored": a withdrawn order, or an order for another drug, is not decided."""
    status = mr.resource.get("status")
    if status in STOPPED_STATUSES:
        problems.reject(child(mr.path, "status"), INPUT_ERRORS,
                        f"the MedicationRequest's status is {status!r}: a withdrawn order cannot be authorised")
    vocabulary = medication_codes()
    concept, where = mr.resource.get("medicationCodeableConcept"), child(mr.path, "medicationCodeableConcept")
    if concept is None and mr.resource.get("medicationReference"):
        med = index.follow(mr.resource["medicationReference"], child(mr.path, "medicationReference"), mr,
                           {"Medication"}, problems, "MedicationRequest.medicationReference")
        if med is None:
            return
        _check_modifiers(med, problems)
        concept, where = med.resource.get("code"), child(med.path, "code")
    verdicts = [(j, vocabulary.names_lemtrada(cd)) for j, cd in enumerate((concept or {}).get("coding") or [])]
    read = [(j, v) for j, v in verdicts if v is not None]
    if read and not any(v for _, v in read):
        j = read[0][0]
        cd = concept["coding"][j]
        problems.reject(child(where, "coding", j), INPUT_ERRORS,
                        f"the MedicationRequest is for {cd.get('display') or cd.get('code')!r} ({cd.get('system')}), "
                        f"not alemtuzumab (Lemtrada): this request is decided under the Lemtrada policy only")


def _check_modifiers(found: Located, problems: Problems) -> None:
    """An unknown modifierExtension changes the meaning of its element: FHIR forbids ignoring it."""
    if not _has_modifiers(found.resource):  # nearly every resource: no path is spelled out
        return
    stack: list[tuple[Any, str]] = [(found.resource, found.path)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for k, ext in enumerate(value.get("modifierExtension") or []):
                url = ext.get("url") if isinstance(ext, dict) else None
                if url == INFO_CANCELLED and re.fullmatch(r"Bundle\.entry\[0\]\.resource\.item\[\d+\]", path):
                    continue  # PAS's own, on Claim.item: read by the lines (a cancelled line)
                problems.reject(child(path, "modifierExtension", k), INPUT_ERRORS,
                                f"unknown modifierExtension {url!r}: it changes the meaning of this element, "
                                f"and this server does not know it (FHIR forbids ignoring it)")
            stack.extend((v, child(path, key)) for key, v in value.items()
                         if key not in ("modifierExtension", "contained") and isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, child(path, i)) for i, v in enumerate(value) if isinstance(v, (dict, list)))


def _has_modifiers(resource: Any) -> bool:
    """Whether a modifierExtension key is anywhere _check_modifiers looks (outside contained resources)."""
    stack = [resource]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "modifierExtension" in value:
                return True
            stack.extend(v for key, v in value.items() if key != "contained" and isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend(v for v in value if isinstance(v, (dict, list)))
    return False


def _prescriber_role(mr: Located, index: BundleIndex, problems: Problems) -> Located | None:
    """The MedicationRequest's requester when it is a PractitionerRole; else none.

    A reference that states another type (``Practitioner/f007``) is not followed;
    one that states none is resolved to see what it is.
    """
    ref = mr.resource.get("requester")
    if not ref:
        return None
    stated = named_type(ref)
    if stated and stated != "PractitionerRole":
        return None
    return index.follow(ref, child(mr.path, "requester"), mr, {"PractitionerRole"} if stated else REQUESTER_TYPES,
                        problems, "MedicationRequest.requester")


def _role_specialty(role: Located | None, origins: dict[str, str]) -> str | None:
    """The prescriber's specialty, read by the chart mapping's own entry (case/fhir/chart.py), as CRD reads it."""
    if role is None or role.type != "PractitionerRole":
        return None
    from ..fhir.chart import entry, evaluate

    specialty = entry("prescriber.specialty")
    found = evaluate(specialty, {"practitionerRole": role.resource})
    if not found:
        return None
    origins["prescriber.specialty"] = child(role.path, "specialty")
    for i, s in enumerate(role.resource.get("specialty") or []):
        for j, cd in enumerate(s.get("coding") or []):  # the coding that says so: the entry, over that coding alone
            if evaluate(specialty, {"practitionerRole": {"specialty": [{"coding": [cd]}]}}) == found:
                origins["prescriber.specialty"] = child(role.path, "specialty", i, "coding", j)
                return found[0]
    return found[0]


def _diagnosis_codes(c: dict, origins: dict[str, str]) -> list[str]:
    codes: list[str] = []
    for i, diagnosis in enumerate(c.get("diagnosis") or []):
        for j, coding in enumerate((diagnosis.get("diagnosisCodeableConcept") or {}).get("coding") or []):
            code = coding.get("code")
            if coding.get("system") == ICD10CM and code:
                if len(code) > 3 and "." not in code:
                    code = f"{code[:3]}.{code[3:]}"  # the X12 claim form G35A is G35.A
                origins[f"request.diagnosis_codes[{len(codes)}]"] = child(
                    CLAIM, "diagnosis", i, "diagnosisCodeableConcept", "coding", j, "code")
                codes.append(code)
    if codes:
        origins["request.diagnosis_codes"] = child(CLAIM, "diagnosis")
    return codes


def _member(patient: Located, problems: Problems, origins: dict[str, str]) -> dict:
    """The member's birth date and state, read by the chart mapping's entries (case/fhir/chart.py), as CRD reads them."""
    from ..fhir.chart import entry, evaluate, read_chart

    p = patient.resource
    found, chart_problems = read_chart({"patient": p})
    member = found.get("member", {})
    for problem in chart_problems:  # only member.birth_date's partial date can be said of a valid Patient
        problems.add(child(patient.path, "birthDate"), "invalid", problem.message)
    if "birth_date" in member:
        origins["member.birth_date"] = child(patient.path, "birthDate")
    if "state" in member:
        state = entry("member.state")
        for k, address in enumerate(p.get("address") or []):  # the address it came from: the entry over it alone
            if evaluate(state, {"patient": {"resourceType": "Patient", "address": [address]}}) == [member["state"]]:
                origins["member.state"] = child(patient.path, "address", k, "state")
                break
    return member


def _questionnaire_response(c: dict, claim: Located, index: BundleIndex, problems: Problems) -> Located | None:
    """The one QuestionnaireResponse of the Lemtrada Questionnaire among Claim.supportingInfo.

    A supportingInfo reference that resolves to nothing in the Bundle is not an
    error: attachments may travel separately, and a missing answer only leaves
    a field undocumented.
    """
    chosen: Located | None = None
    for i, info in enumerate(c.get("supportingInfo") or []):
        ref = (info.get("valueReference") or {}).get("reference")
        found = index.find(ref, claim) if ref else None
        if not found or found.type != "QuestionnaireResponse" or found.resource.get("status") == "entered-in-error":
            continue
        if not answers_the_questionnaire(found.resource) or (chosen and chosen.path == found.path):
            continue
        if chosen is not None:
            problems.add(child(CLAIM, "supportingInfo", i), "invalid",
                         f"a second QuestionnaireResponse of {QUESTIONNAIRE_URL}; expected one")
            continue
        chosen = found
    return chosen


# --- step 3: the case format, its problems at their FHIRPaths ---------------------

def read_request(data: Any, source: str = "request", validate: Callable[[Any, str], Any] | None = None) -> tuple[PasRequest, Any]:
    """``read_bundle`` and then the case format: the request and its validated case, or BundleError.

    ``validate`` is the case model's (default: case format v1's), so that a case
    read from a Bundle passes exactly the checks of a case read from a file.
    """
    from ...engine.errors import InputError

    if validate is None:
        from ..validation import validate_case as validate
    request = read_bundle(data)
    try:
        return request, validate(request.case, source)
    except InputError as exc:
        raise bundle_problems(request, exc.problems) from None


def bundle_problems(request: PasRequest, case_problems: list[Any]) -> BundleError:
    """Case-format problems (each with a case ``field`` path) as problems at the elements they came from."""
    return BundleError(
        [FhirProblem(request.origin(p.field), "invalid", f"{p.field}: {p.message}" if p.field else p.message)
         for p in case_problems],
        _echo_id(request.case.get("id")),
    )
