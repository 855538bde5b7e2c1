"""A CDS Hooks 2.0 call read: its hook, the alemtuzumab orders among its draft orders, and the chart it sends.

A hook request is a JSON object (CDS Hooks 2.0, "HTTP Request"): ``hook``,
``hookInstance`` and ``context`` are required; for order-select and order-sign
the context carries ``patientId``, ``userId`` and ``draftOrders`` (a Bundle), and
order-select also ``selections``. Anything else is a ``HookError`` (400) naming
the field and what was expected. The orders CRD speaks about are the draft
MedicationRequests of alemtuzumab (a Lemtrada RxNorm or NDC code of the KB, or
HCPCS J0202); among an order-select's draft orders only the selected ones. The
chart is what the prefetch sends (the keys of ``chart.CONTEXTS``): nothing is
fetched, and a resource about another patient than ``context.patientId`` is not
read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...case.fhir.chart import CONTEXTS
from ...case.pas.ids import HCPCS, LEMTRADA_HCPCS
from ...case.pas.medication import medication_codes

__all__ = ["HOOKS", "SERVICES", "HookCall", "HookError", "is_alemtuzumab", "read_call"]

# service id -> hook (discovery.py describes them)
SERVICES = {"lemtrada-crd-order-select": "order-select", "lemtrada-crd-order-sign": "order-sign"}
HOOKS = tuple(SERVICES.values())
MAX_ORDERS = 50  # draft orders read from one call (a Bundle of an order session holds a handful)


class HookError(ValueError):
    """A hook request that cannot be read: 400, with the field (a JSON path) and what was expected."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message = field, message


@dataclass
class HookCall:
    hook: str
    instance: str
    patient_id: str
    user_id: str
    orders: list[tuple[str, dict]]  # (where, MedicationRequest) of alemtuzumab, in draftOrders' order
    candidates: dict[str, list[dict]] = field(default_factory=dict)  # chart.CONTEXTS names -> the prefetch's resources

    def chart(self, order: dict) -> dict[str, Any]:
        """The launch contexts for one order: it, the member's lists, and one Patient, Coverage and role.

        The role is the order's requester when the prefetch holds it, else the only one sent;
        the coverage the order names (MedicationRequest.insurance), else the only active one.
        """
        chart: dict[str, Any] = {"medicationRequest": order}
        for name, found in self.candidates.items():
            if CONTEXTS[name].many:
                chart[name] = found
                continue
            wanted = _reference(order.get("requester") if name == "practitionerRole" else
                                (order.get("insurance") or [None])[0] if name == "coverage" else None)
            named = [r for r in found if wanted and f"{r.get('resourceType')}/{r.get('id')}" == wanted]
            if name == "coverage" and not named:
                found = [r for r in found if r.get("status") in (None, "active")]
            pick = named or (found if len(found) == 1 else [])
            if pick:
                chart[name] = pick[0]
        return chart


def _kind(value: Any) -> str:
    from ..app import json_type

    return json_type(value)


def _string(container: dict, key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        raise HookError(f"{where}{key}", f"expected a non-empty string, got {_kind(value)}")
    return value


def is_alemtuzumab(order: dict) -> bool:
    """A MedicationRequest of alemtuzumab: a KB Lemtrada code (RxNorm, NDC) or HCPCS J0202 in its medication."""
    concept = order.get("medicationCodeableConcept")
    ref = (order.get("medicationReference") or {}).get("reference") if isinstance(order.get("medicationReference"), dict) else None
    if concept is None and isinstance(ref, str) and ref.startswith("#"):  # a contained Medication
        concept = next((r.get("code") for r in order.get("contained") or []
                        if isinstance(r, dict) and r.get("resourceType") == "Medication" and r.get("id") == ref[1:]), None)
    codings = (concept or {}).get("coding") if isinstance(concept, dict) else None
    vocabulary = medication_codes()
    for coding in codings if isinstance(codings, list) else []:
        if not isinstance(coding, dict):
            continue
        if vocabulary.names_lemtrada(coding) or (coding.get("system") == HCPCS and coding.get("code") == LEMTRADA_HCPCS):
            return True
    return False


def _check_order(order: dict, where: str) -> None:
    """The order as valid FHIR R4 (fhir.resources' R4B model): its dosage is read, so its shape must be right."""
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from pydantic import ValidationError

    try:
        MedicationRequest.model_validate(order)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]
                      if not (isinstance(p, str) and p[:1].isupper()))
        raise HookError(f"{where}{loc}", f"not valid FHIR R4 for a MedicationRequest: "
                                         f"{error['msg'].removeprefix('Value error, ')}") from None
    except Exception as exc:  # noqa: BLE001 - fhir.resources failing otherwise is still the body's problem
        raise HookError(where, f"not valid FHIR R4 for a MedicationRequest ({type(exc).__name__})") from None


def read_call(data: Any, service_id: str) -> HookCall:
    """The call to ``service_id`` a parsed body makes; HookError (400) for anything else."""
    if not isinstance(data, dict):
        raise HookError("", f"expected a JSON object (a CDS Hooks request), got {_kind(data)}")
    hook = _string(data, "hook", "")
    wanted = SERVICES[service_id]
    if hook != wanted:
        raise HookError("hook", f"the service {service_id} answers the hook {wanted!r}, got {hook[:60]!r}")
    instance = _string(data, "hookInstance", "")
    context = data.get("context")
    if not isinstance(context, dict):
        raise HookError("context", f"expected an object, got {_kind(context)}")
    patient_id = _string(context, "patientId", "context.")
    user_id = _string(context, "userId", "context.")
    drafts = context.get("draftOrders")
    if not isinstance(drafts, dict) or drafts.get("resourceType") != "Bundle":
        raise HookError("context.draftOrders", "expected a Bundle of the draft orders")
    entries = drafts.get("entry") or []
    if not isinstance(entries, list):
        raise HookError("context.draftOrders.entry", f"expected an array, got {_kind(entries)}")
    if len(entries) > MAX_ORDERS:
        raise HookError("context.draftOrders.entry", f"{len(entries)} draft orders: at most {MAX_ORDERS} are read")
    selected = None
    if hook == "order-select":
        selections = context.get("selections")
        if not isinstance(selections, list) or not selections or not all(isinstance(s, str) for s in selections):
            raise HookError("context.selections", "expected a non-empty array of references (Type/id) to draft orders")
        selected = set(selections)
    orders = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        where = f"context.draftOrders.entry[{i}].resource"
        if not isinstance(resource, dict):
            raise HookError(where, f"expected a resource, got {_kind(resource)}")
        if resource.get("resourceType") != "MedicationRequest" or not is_alemtuzumab(resource):
            continue
        if selected is not None and f"MedicationRequest/{resource.get('id')}" not in selected:
            continue
        _check_order(resource, where)
        orders.append((where, resource))
    prefetch = data.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        raise HookError("prefetch", f"expected an object, got {_kind(prefetch)}")
    return HookCall(hook, instance, patient_id, user_id, orders, _candidates(prefetch or {}, patient_id))


def _reference(ref: Any) -> str | None:
    """The Type/id a Reference names (the last two parts of an absolute one), or None."""
    text = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(text, str) or "/" not in text:
        return None
    return "/".join(text.split("/_history/")[0].split("/")[-2:])


def _resources(value: Any) -> list[dict]:
    """A prefetch value's resources: a resource, or a Bundle's entries (null: nothing found)."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry") if isinstance(value.get("entry"), list) else []
        return [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return [value]


def _about(resource: dict, patient_id: str) -> bool:
    """Not about another patient: the Patient itself, or a subject/patient/beneficiary reference to it (or none)."""
    if resource.get("resourceType") == "Patient":
        return resource.get("id") in (None, patient_id)
    for key in ("subject", "patient", "beneficiary"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return ref["reference"].rsplit("/", 1)[-1] == patient_id.rsplit("/", 1)[-1]
    return True


def _candidates(prefetch: dict, patient_id: str) -> dict[str, list[dict]]:
    """The prefetch's resources under the launch-context names of chart.CONTEXTS (its keys: the discovery's templates)."""
    found: dict[str, list[dict]] = {}
    for name, context in CONTEXTS.items():
        types = ("MedicationRequest", "MedicationStatement") if context.type == "Resource" else (context.type,)
        found[name] = [r for key, _ in context.templates for r in _resources(prefetch.get(key))
                       if r.get("resourceType") in types and _about(r, patient_id)]
    return found
